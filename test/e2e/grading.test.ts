/**
 * The grading service behind nginx on the real engine, one stack (`e2e-grd`) and a stand-in
 * service (a small Python http.server in the test image, on the stack's network as
 * `grading-standin`) that records every request it gets. An admin's upload through /grading/
 * reaches it with the service's token and without the session cookie; a student's and an anonymous
 * one are refused by nginx before the service sees them; the token never reaches a browser, the
 * image or a log; /internal/ answers 404 from outside while the app itself would answer, and the
 * callbacks pass only from the address gradingCallbackFrom names (one redeploy). About 1.5-3 min,
 * mostly the deploy.
 */
import { randomBytes } from "crypto";
import Docker from "dockerode";
import { TEST_IMAGES } from "../support/baseImages";
import {
    csrfHeaders,
    csrfSession,
    eventually,
    login,
    request,
    type RequestOptions,
    type Response,
} from "../support/http";
import { docker } from "../support/realize";
import { execIn, liveStack, redeclare, type LiveStack } from "../support/stack";

jest.setTimeout(600000);

const STACK = "e2e-grd";
const TOKEN = `grd-${randomBytes(18).toString("base64url")}`;
const CALLBACK_SECRET = `cb-${randomBytes(12).toString("hex")}`;
const SERVICE = "grading-standin";

// The stand-in service: /health, POST /jobs (202 with a job id), everything recorded as JSON lines.
const STANDIN = `
import json, http.server
class H(http.server.BaseHTTPRequestHandler):
    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with open("/tmp/seen.jsonl", "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "length": len(body)}) + "\\n")
        if self.path == "/health":
            out, status = {"ok": True}, 200
        elif self.command == "POST" and self.path == "/jobs":
            out, status = {"job_id": "job-%d" % len(open("/tmp/seen.jsonl").readlines()), "students": 2}, 202
        else:
            out, status = {"error": "not found"}, 404
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = _handle
    def log_message(self, *a):
        pass
open("/tmp/seen.jsonl", "a").close()
http.server.ThreadingHTTPServer(("0.0.0.0", 8420), H).serve_forever()
`;

interface Seen {
    readonly method: string;
    readonly path: string;
    readonly headers: Record<string, string>;
    readonly length: number;
}

let s: LiveStack;
let standin: Docker.Container;
/** Every answer a browser got in this file, to scan for the token. */
const answers: Response[] = [];
const browser = async (path: string, opts: RequestOptions = {}): Promise<Response> => {
    const res = await request(s.port, path, opts);
    answers.push(res);
    return res;
};

async function seen(): Promise<Seen[]> {
    const { output } = await execIn(standin, ["cat", "/tmp/seen.jsonl"]);
    return output
        .split("\n")
        .filter((l) => l.trim().startsWith("{"))
        .map((l) => JSON.parse(l) as Seen);
}

/** A browser's multipart upload of the real page's fields, the archive `size` bytes. */
function upload(size: number): { body: Buffer; type: string } {
    const boundary = `----lm${randomBytes(8).toString("hex")}`;
    const field = (name: string, value: string) =>
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const head =
        field("rubric", "unit-demo") +
        field("provider", "ollama") +
        field("manifest", '{"klasse": "7a", "students": []}') +
        `--${boundary}\r\nContent-Disposition: form-data; name="archive"; filename="klasse.zip"\r\nContent-Type: application/zip\r\n\r\n`;
    const body = Buffer.concat([Buffer.from(head), randomBytes(size), Buffer.from(`\r\n--${boundary}--\r\n`)]);
    return { body, type: `multipart/form-data; boundary=${boundary}` };
}

/** GET or POST from inside the stack network, straight to the app (no nginx): what the app itself answers. */
async function fromInside(url: string, headers: Record<string, string>, body?: string): Promise<number> {
    const py = `import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], data=sys.argv[3].encode() if len(sys.argv) > 3 else None, headers=dict(h.split(": ", 1) for h in sys.argv[2].split("\\n") if h))
try:
    print(urllib.request.urlopen(req, timeout=10).status)
except urllib.error.HTTPError as e:
    print(e.code)`;
    const lines = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}`)
        .join("\n");
    const { output } = await execIn(standin, ["python3", "-c", py, url, lines, ...(body ? [body] : [])]);
    return Number(output.trim());
}

beforeAll(async () => {
    s = await liveStack(STACK, {
        "lernmanager:gradingServiceUrl": `http://${SERVICE}:8420`,
        "lernmanager:gradingServiceToken": TOKEN,
        "lernmanager:gradingServiceCallbackSecret": CALLBACK_SECRET,
        "lernmanager:gradingUploadLimitMb": "8",
        // An address nothing here comes from: the callbacks' location exists, and refuses the test.
        "lernmanager:gradingCallbackFrom": '["192.0.2.77"]',
    });
    // The stand-in joins the stack's network (nginx resolves its name at request time); the stack
    // label lets the stale sweep find it after an interrupted run.
    standin = await docker.createContainer({
        name: `${STACK}-grading-standin`,
        Image: TEST_IMAGES.python,
        Cmd: ["python3", "-c", STANDIN],
        Labels: { "dev.lernmanager.stack": STACK },
        HostConfig: { NetworkMode: `lernmanager-${STACK}-net` },
        NetworkingConfig: { EndpointsConfig: { [`lernmanager-${STACK}-net`]: { Aliases: [SERVICE] } } },
    });
    await standin.start();
    await eventually(
        30,
        async () => (await fromInside(`http://${SERVICE}:8420/health`, {})) === 200,
        "the stand-in answers",
    );
});
afterAll(async () => {
    // First: the stack's network cannot go while the stand-in is on it.
    await standin?.remove({ force: true }).catch(() => undefined);
    await s?.realization.teardown();
});

describe("/grading/ forwards a teacher's upload to the service, and only a teacher's", () => {
    test("an admin's upload (past the 1 MiB body limit) reaches the service's /jobs with the token, not the cookie", async () => {
        const cookie = await login(s.port, "admin", String(s.run.outputs.adminPassword));
        const page = await browser("/admin/klasse/1/grading/upload", { headers: { Cookie: cookie } });
        expect(page.status).toBe(200);
        expect(page.text()).toContain('fetch("/grading/jobs"');
        const before = (await seen()).length;
        const { body, type } = upload(3 * 1024 * 1024);
        const res = await browser("/grading/jobs", {
            method: "POST",
            headers: { Cookie: cookie, "Content-Type": type, "Content-Length": body.length },
            body,
        });
        if (res.status !== 202) {
            await new Promise((r) => setTimeout(r, 2000));
            console.log(
                (await s.logs(s.nginx()))
                    .split("\n")
                    .filter((l) => /grading|error|warn|crit/.test(l))
                    .join("\n"),
            );
        }
        expect(res.status).toBe(202);
        const job = res.json();
        expect(job.job_id).toMatch(/^job-\d+$/);
        // Security headers on the service's answer too, and it is not stored.
        expect(res.headers["x-content-type-options"]).toBe("nosniff");
        expect(res.headers["cache-control"]).toBe("no-store");
        const got = (await seen()).slice(before);
        expect(got.map((g) => [g.method, g.path, g.length])).toEqual([["POST", "/jobs", body.length]]);
        const headers = Object.fromEntries(Object.entries(got[0].headers).map(([k, v]) => [k.toLowerCase(), v]));
        expect(headers.authorization).toBe(`Bearer ${TOKEN}`);
        expect(headers.cookie).toBeUndefined();
        // The page's second step: only the job id goes to the app.
        const done = await browser("/admin/klasse/1/grading/upload/complete", {
            method: "POST",
            headers: { ...csrfHeaders(cookie), "Content-Type": "application/json" },
            body: JSON.stringify({ job_id: job.job_id, students: job.students }),
        });
        expect(done.status).toBe(201);
    });

    test("a student's, an anonymous session's and a cookie-less upload get 401 from nginx; the service sees none", async () => {
        const before = (await seen()).length;
        const student = await login(s.port, "student01", "lernen");
        const anonymous = (await csrfSession(s.port)).cookie;
        const { body, type } = upload(64 * 1024);
        for (const [who, cookie] of [
            ["student", student],
            ["anonymous session", anonymous],
            ["no cookie", undefined],
        ] as const) {
            const res = await browser("/grading/jobs", {
                method: "POST",
                headers: { ...(cookie ? { Cookie: cookie } : {}), "Content-Type": type, "Content-Length": body.length },
                body,
            });
            expect({ who, status: res.status }).toEqual({ who, status: 401 });
        }
        // A client's own Authorization header does not get an anonymous upload through either.
        const forged = await browser("/grading/jobs", {
            method: "POST",
            headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": type, "Content-Length": body.length },
            body,
        });
        expect(forged.status).toBe(401);
        expect((await seen()).length).toBe(before);
    });

    test("an upload over gradingUploadLimitMb is refused (413) before it reaches the service", async () => {
        const cookie = await login(s.port, "admin", String(s.run.outputs.adminPassword));
        const before = (await seen()).length;
        const { body, type } = upload(9 * 1024 * 1024);
        const res = await browser("/grading/jobs", {
            method: "POST",
            headers: { Cookie: cookie, "Content-Type": type, "Content-Length": body.length },
            body,
        }).catch((e: Error) => e);
        // nginx may answer 413 and close before the whole body is sent (a reset is a refusal too).
        if (!(res instanceof Error)) expect(res.status).toBe(413);
        expect((await seen()).length).toBe(before);
    });
});

describe("/internal/ is for nginx and the service only", () => {
    test("/internal/auth-check: 204 from the app itself, 404 through nginx even with an admin's session", async () => {
        const cookie = await login(s.port, "admin", String(s.run.outputs.adminPassword));
        expect(await fromInside("http://app:8000/internal/auth-check", { Cookie: cookie })).toBe(204);
        const res = await browser("/internal/auth-check", { headers: { Cookie: cookie } });
        expect(res.status).toBe(404);
    });

    test("/internal/grading/…: the app takes the callback with its secret, nginx refuses it from outside", async () => {
        const headers = { "X-Grading-Callback-Secret": CALLBACK_SECRET, "Content-Type": "application/json" };
        const body = JSON.stringify({ job_id: "job-1" });
        expect(await fromInside("http://app:8000/internal/grading/results", headers, body)).toBe(200);
        for (const path of ["/internal/grading/results", "/internal/grading/x", "/internal/anything"]) {
            const res = await browser(path, { method: "POST", headers, body });
            expect({ path, status: res.status }).toEqual({ path, status: 404 });
        }
    });

    test("a callback from an address in gradingCallbackFrom gets through to the app; the host's still do not", async () => {
        // The stand-in's address on the stack network, named in a redeploy (nginx is replaced).
        const net = (await standin.inspect()).NetworkSettings.Networks[`lernmanager-${STACK}-net`];
        const next = await redeclare(s, { "lernmanager:gradingCallbackFrom": JSON.stringify([net.IPAddress]) });
        await s.realization.update(next.registrations);
        const headers = { "X-Grading-Callback-Secret": CALLBACK_SECRET, "Content-Type": "application/json" };
        const body = JSON.stringify({ job_id: "job-1" });
        expect(await fromInside("http://nginx:8080/internal/grading/results", headers, body)).toBe(200);
        // A wrong secret from there: the app's refusal, not nginx's 404.
        const wrong = { ...headers, "X-Grading-Callback-Secret": "nope" };
        expect(await fromInside("http://nginx:8080/internal/grading/results", wrong, body)).toBe(403);
        // The service's address opens the callbacks only, never the auth check.
        const cookie = await login(s.port, "admin", String(s.run.outputs.adminPassword));
        expect(await fromInside("http://nginx:8080/internal/auth-check", { Cookie: cookie })).toBe(404);
        const outside = await browser("/internal/grading/results", { method: "POST", headers, body });
        expect(outside.status).toBe(404);
    });
});

describe("the token never leaves nginx", () => {
    test("in no answer a browser got: headers or bodies", () => {
        expect(answers.length).toBeGreaterThan(8);
        for (const res of answers) {
            expect(JSON.stringify(res.headers)).not.toContain(TOKEN);
            expect(res.body.includes(TOKEN)).toBe(false);
        }
    });

    test("not in the image, its nginx.conf or the logs; its file is nginx's alone", async () => {
        const nginx = s.nginx();
        const info = await nginx.inspect();
        const image = await docker.getImage(info.Image).inspect();
        expect(JSON.stringify(image)).not.toContain(TOKEN);
        const conf = await execIn(nginx, ["cat", "/etc/nginx/lernmanager.conf"]);
        expect(conf.output).toContain("auth_request /internal/auth-check;");
        expect(conf.output).not.toContain(TOKEN);
        const file = await execIn(nginx, ["stat", "-c", "%a %u", "/tmp/nginx-grading-auth.conf"]);
        expect(file.output.trim()).toBe("600 10002");
        expect(await s.logs(nginx)).not.toContain(TOKEN);
        expect(await s.logs(s.app())).not.toContain(TOKEN);
    });
});

describe("the service unreachable", () => {
    test("an admin's upload gets a 503 with a JSON reason the page shows", async () => {
        await standin.stop({ t: 1 });
        const cookie = await login(s.port, "admin", String(s.run.outputs.adminPassword));
        const { body, type } = upload(1024);
        const res = await browser("/grading/jobs", {
            method: "POST",
            headers: { Cookie: cookie, "Content-Type": type, "Content-Length": body.length },
            body,
        });
        expect(res.status).toBe(503);
        expect(res.json().error).toMatch(/Bewertungsdienst/);
        expect(res.body.includes(TOKEN)).toBe(false);
    });
});
