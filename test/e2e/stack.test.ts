/**
 * The declared stack, realized on a real Docker engine and checked through nginx's port on
 * 127.0.0.1. One stack serves the whole file; tests run in order.
 */
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as zlib from "zlib";
import { csrfHeaders, csrfSession, eventually, login, loginAttempt, request } from "../support/http";
import { docker } from "../support/realize";
import { gunicornProcesses, liveStack, LiveStack, processes } from "../support/stack";

jest.setTimeout(300000);

let s: LiveStack;
let appLogCursor = 0;
/** App (gunicorn) log lines written since the last call. */
async function newAppLogLines(): Promise<string[]> {
    const all = (await s.logs(s.app())).split("\n").filter((l) => l !== "");
    const fresh = all.slice(appLogCursor);
    appLogCursor = all.length;
    return fresh;
}

beforeAll(async () => {
    // The app's own access log shows which requests reached gunicorn (several tests rely on it).
    s = await liveStack("e2e-main", { "lernmanager:appAccessLog": "true" });
});
afterAll(async () => {
    await s?.realization.teardown();
});

describe("health and start order", () => {
    test("both containers are healthy, and nginx started only after the app was healthy", async () => {
        const app = await s.app().inspect();
        const nginx = await s.nginx().inspect();
        expect(app.State.Health?.Status).toBe("healthy");
        expect(nginx.State.Health?.Status).toBe("healthy");
        const firstHealthy = app.State.Health!.Log.find((l) => l.ExitCode === 0)!;
        expect(firstHealthy).toBeDefined();
        const nginxStarted = Date.parse(nginx.State.StartedAt);
        expect(nginxStarted).toBeGreaterThanOrEqual(Date.parse(firstHealthy.End));
        console.log(`app healthy at ${firstHealthy.End}, nginx started at ${nginx.State.StartedAt}`);
    });

    test("/healthz through nginx proves the database is readable and reports optimize: 2 and the app's SQLite", async () => {
        const res = await request(s.port, "/healthz");
        expect(res.status).toBe(200);
        const body = res.json();
        expect(body).toMatchObject({ status: "ok", optimize: 2, database: "readable" });
        // The version of the library python3 loads in the app's container, asked there.
        const inApp = (
            await s.exec(s.app(), ["python3", "-c", "import sqlite3; print(sqlite3.sqlite_version)"])
        ).output.trim();
        expect(inApp).toMatch(/^3\.\d+\.\d+$/);
        expect(body.sqlite).toBe(inApp);
        expect(body.tables).toBeGreaterThan(0);
        expect(body.version).toBe(s.run.outputs.appVersion);
    });

    test("nginx answers its own /nginx-health", async () => {
        const res = await request(s.port, "/nginx-health");
        expect(res.status).toBe(200);
        expect(res.text()).toBe("ok\n");
        expect(res.headers.server).toBe("nginx");
    });
});

describe("static files come from nginx", () => {
    test.each(["/static/css/app.css", "/static/js/app.js"])(
        "%s: served by nginx, cached 30 days, never reaching gunicorn",
        async (path) => {
            await newAppLogLines();
            const res = await request(s.port, path);
            expect(res.status).toBe(200);
            expect(res.body.length).toBeGreaterThan(20000);
            expect(res.headers["cache-control"]).toBe("max-age=2592000");
            const expires = Date.parse(String(res.headers.expires));
            expect(Math.abs(expires - (Date.now() + 30 * 86400 * 1000))).toBeLessThan(120000);
            // A dynamic page does reach gunicorn's access log, the static file does not: the lines
            // gunicorn wrote since, up to the later /login, hold the login and not the static file.
            await request(s.port, "/login");
            const since: string[] = [];
            await eventually(
                10,
                async () => {
                    since.push(...(await newAppLogLines()));
                    return since.some((l) => l.includes("GET /login"));
                },
                "gunicorn logged /login",
            );
            expect(since.filter((l) => l.includes("GET /login"))).toHaveLength(1);
            expect(since.filter((l) => l.includes(`GET ${path}`))).toEqual([]);
            expect(await s.logs(s.app())).not.toContain(`GET ${path}`);
        },
    );

    test("dotfiles and directory listings are refused", async () => {
        expect((await request(s.port, "/static/")).status).toBe(403);
        expect((await request(s.port, "/static/.hidden")).status).toBe(404);
        expect((await request(s.port, "/.git/config")).status).toBe(404);
    });
});

describe("gzip", () => {
    const ratios: Record<string, number> = {};
    afterAll(() => console.log(`gzip transfer size / plain size: ${JSON.stringify(ratios)}`));

    test.each([
        ["HTML", "/login", "text/html"],
        ["CSS", "/static/css/app.css", "text/css"],
        ["JS", "/static/js/app.js", "javascript"],
        ["JSON", "/api/progress", "application/json"],
        ["SVG", "/static/img/logo.svg", "image/svg+xml"],
    ])("%s is compressed when asked, and only then", async (kind, path, type) => {
        const cookie = kind === "JSON" ? await login(s.port, "student01", "lernen") : "";
        const headers: Record<string, string> = cookie ? { Cookie: cookie } : {};
        const plain = await request(s.port, path, { headers });
        const zipped = await request(s.port, path, { headers: { ...headers, "Accept-Encoding": "gzip" } });
        expect(plain.status).toBe(200);
        expect(String(plain.headers["content-type"])).toContain(type);
        expect(plain.headers["content-encoding"]).toBeUndefined();
        expect(zipped.headers["content-encoding"]).toBe("gzip");
        expect(zipped.headers.vary).toContain("Accept-Encoding");
        const unzipped = zlib.gunzipSync(zipped.body);
        // CSS and JS come precompressed from the static volume (a length, no chunking), made at start.
        if (kind === "CSS" || kind === "JS") {
            expect(Number(zipped.headers["content-length"])).toBe(zipped.body.length);
            const file = `/srv/static${path.slice("/static".length)}.gz`;
            const size = await s.exec(s.app(), ["stat", "-c", "%s", file]);
            expect(Number(size.output.trim())).toBe(zipped.body.length);
        }
        if (kind === "CSS" || kind === "JS" || kind === "SVG") expect(unzipped.equals(plain.body)).toBe(true);
        else expect(unzipped.length).toBeGreaterThan(plain.body.length * 0.8);
        ratios[kind] = Math.round((zipped.body.length / unzipped.length) * 1000) / 1000;
        // Small JSON and SVG documents compress less; the large text types to well under half.
        expect(ratios[kind]).toBeLessThan(kind === "JSON" || kind === "SVG" ? 0.7 : 0.4);
    });
});

describe("gunicorn behind nginx", () => {
    test("dynamic pages are proxied to gunicorn", async () => {
        await newAppLogLines();
        const res = await request(s.port, "/login");
        expect(res.status).toBe(200);
        expect(res.text()).toContain("/static/css/app.css");
        await eventually(
            10,
            async () => (await newAppLogLines()).some((l) => /GET \/login .* 200 .*rt_us=\d+/.test(l)),
            "access log with request time",
        );
    });

    test("the container runs 4 workers x 2 threads, as the non-root user", async () => {
        // Thread pools grow on demand: load every worker with slow requests first (bounded: 48 requests).
        await Promise.all(Array.from({ length: 48 }, () => request(s.port, "/report/class/1.pdf?fresh=1")));
        const { master, workers } = await gunicornProcesses(s.app());
        expect(workers).toHaveLength(4);
        for (const w of workers) {
            // main thread + 2 request threads + the app's analytics writer (its init hook ran in the worker)
            expect(w.threads).toBeLessThanOrEqual(4);
            expect(w.uid).toBe(10001);
        }
        expect(Math.max(...workers.map((w) => w.threads))).toBe(4);
        expect(master.uid).toBe(10001);
        const conf = await s.exec(s.app(), ["cat", "/opt/lernmanager/gunicorn.conf.py"]);
        expect(conf.output).toMatch(/workers = 4\nthreads = 2/);
        // PID 1 is docker's init, so SIGTERM reaches gunicorn.
        const pid1 = (await processes(s.app())).find((p) => p.pid === 1)!;
        expect(pid1.cmd).toMatch(/docker-init|tini/);
    });

    test(".opt-2.pyc exist for the app, dist-packages and the stdlib, and imports use them", async () => {
        const check = await s.exec(s.app(), [
            "python3",
            "-c",
            [
                "import importlib.util, os, json, flask, jinja2",
                "files = {'app': '/app/app.py', 'dist-packages': flask.__file__, 'jinja2': jinja2.__file__, 'stdlib': os.__file__}",
                "print(json.dumps({k: os.path.exists(importlib.util.cache_from_source(v, optimization=2)) for k, v in files.items()}))",
            ].join("\n"),
        ]);
        expect(JSON.parse(check.output)).toEqual({ app: true, "dist-packages": true, jinja2: true, stdlib: true });
        const verbose = await s.exec(s.app(), [
            "python3",
            "-OO",
            "-v",
            "-c",
            "import flask, werkzeug, jinja2, sqlite3, json, reportlab.platypus",
        ]);
        const fromPyc = verbose.output.split("\n").filter((l) => /^# code object from '.*\.opt-2\.pyc'$/.test(l));
        expect(fromPyc.length).toBeGreaterThan(100);
        expect(verbose.output).not.toMatch(/bytecode is stale|could not create|code object from '[^']*\.py'/);
    });

    test("the root filesystem is read-only; /tmp is writable", async () => {
        for (const path of ["/app/x", "/usr/lib/python3/x", "/opt/lernmanager/x"]) {
            const res = await s.exec(s.app(), ["sh", "-c", `touch ${path}`], { allowFail: true });
            expect(res.code).not.toBe(0);
            expect(res.output).toMatch(/Read-only file system/);
        }
        expect((await s.exec(s.app(), ["sh", "-c", "touch /tmp/x && rm /tmp/x"])).code).toBe(0);
        const nginxWrite = await s.exec(s.nginx(), ["sh", "-c", "touch /etc/nginx/x"], { allowFail: true });
        expect(nginxWrite.output).toMatch(/Read-only file system/);
    });
});

describe("client IP", () => {
    let gateway: string;
    beforeAll(async () => {
        const net = await docker.getNetwork(`lernmanager-e2e-main-net`).inspect();
        gateway = net.IPAM!.Config![0].Gateway!;
    });

    test("forged X-Forwarded-For / X-Real-IP have no effect: the app sees the real peer", async () => {
        const honest = (await request(s.port, "/whoami")).json();
        const forged = (
            await request(s.port, "/whoami", {
                headers: { "X-Forwarded-For": "6.6.6.6, 127.0.0.1", "X-Real-IP": "127.0.0.1" },
            })
        ).json();
        // Through docker's port proxy the peer nginx sees is the network's gateway.
        expect(honest.remote_addr).toBe(gateway);
        expect(honest.client_ip).toBe(gateway);
        expect(forged.remote_addr).toBe(gateway);
        expect(forged.client_ip).toBe(gateway);
    });

    test("a client-IP gated route refuses a forged loopback address", async () => {
        const res = await request(s.port, "/admin/maintenance", {
            headers: { "X-Real-IP": "127.0.0.1", "X-Forwarded-For": "127.0.0.1" },
        });
        expect(res.status).toBe(403);
        expect(res.json().client_ip).toBe(gateway);
        // Inside the app container (loopback, no nginx) the same route is open: the gate works on the IP.
        const inside = await s.exec(s.app(), [
            "python3",
            "-c",
            "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/admin/maintenance').status)",
        ]);
        expect(inside.output.trim()).toBe("200");
    });
});

describe("uploads and downloads", () => {
    const limit = 64 * 1024 * 1024;
    function multipart(totalBytes: number, filename: string): { body: Buffer; type: string } {
        const boundary = "lmboundary7f3a";
        const head = Buffer.from(
            `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
        );
        const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
        const fill = Buffer.alloc(totalBytes - head.length - tail.length, 0x61);
        return { body: Buffer.concat([head, fill, tail]), type: `multipart/form-data; boundary=${boundary}` };
    }
    // Every POST needs the session's CSRF token, as the upload page's script sends it.
    const uploadSession = async () => csrfHeaders((await csrfSession(s.port)).cookie);
    const uploadLines = async () =>
        (await s.logs(s.app())).split("\n").filter((l) => l.includes("POST /upload")).length;
    // nginx takes uploads only with a session cookie (sessionCookie): the CSRF session's will do.

    test("a body exactly at the 64 MiB limit is accepted", async () => {
        const { body, type } = multipart(limit, "at-limit.bin");
        expect(body.length).toBe(limit);
        const res = await request(s.port, "/upload", {
            method: "POST",
            headers: { ...(await uploadSession()), "Content-Type": type, "Content-Length": body.length },
            body,
            timeoutMs: 120000,
        });
        expect(res.status).toBe(200);
        // The file is the body minus the multipart framing.
        expect(res.json().size).toBeGreaterThan(limit - 300);
    });

    test("one byte over gets 413 from nginx and nothing reaches the app", async () => {
        // gunicorn logs a request after its answer is sent: the previous test's line may still be on
        // its way (the 64 MiB upload is parsed twice now, CSRF check and view), so count once it stands.
        let before = await uploadLines();
        await eventually(
            10,
            async () => {
                await new Promise((r) => setTimeout(r, 500));
                const now = await uploadLines();
                const still = now === before;
                before = now;
                return still;
            },
            "the app's upload log lines settled",
        );
        const { body, type } = multipart(limit + 1, "over-limit.bin");
        const res = await request(s.port, "/upload", {
            method: "POST",
            headers: { ...(await uploadSession()), "Content-Type": type, "Content-Length": body.length },
            body,
            timeoutMs: 120000,
        }).catch((e: Error) => ({ status: -1, text: () => e.message }));
        expect(res.status).toBe(413);
        await new Promise((r) => setTimeout(r, 1000));
        expect(await uploadLines()).toBe(before);
    });

    test("an X-Accel-Redirect download returns the file's bytes through nginx; the internal prefix is refused", async () => {
        const content = Buffer.from(`Arbeitsblatt ${Date.now()}\n`.repeat(200));
        const boundary = "b0undary";
        const body = Buffer.concat([
            Buffer.from(
                `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="blatt.txt"\r\nContent-Type: text/plain\r\n\r\n`,
            ),
            content,
            Buffer.from(`\r\n--${boundary}--\r\n`),
        ]);
        const up = await request(s.port, "/upload", {
            method: "POST",
            headers: { ...(await uploadSession()), "Content-Type": `multipart/form-data; boundary=${boundary}` },
            body,
        });
        expect(up.status).toBe(200);
        expect(up.json().name).toBe("blatt.txt");
        const down = await request(s.port, "/files/blatt.txt");
        expect(down.status).toBe(200);
        expect(down.body.equals(content)).toBe(true);
        expect(down.headers["x-accel-redirect"]).toBeUndefined();
        expect(String(down.headers["content-disposition"])).toContain("blatt.txt");
        expect((await request(s.port, "/protected-files/blatt.txt")).status).toBe(404);
        expect((await request(s.port, "/protected-files/../files/blatt.txt")).status).not.toBe(200);
    });
});

describe("secrets", () => {
    test("SECRET_KEY is set, identical in every worker, and in no log", async () => {
        const env = (await s.app().inspect()).Config.Env;
        expect(env).toContain(`SECRET_KEY=${s.secretKey}`);
        const fingerprint = createHash("sha256").update(s.secretKey).digest("hex").slice(0, 16);
        const answers = await Promise.all(
            Array.from({ length: 40 }, () => request(s.port, "/whoami").then((r) => r.json())),
        );
        const pids = new Set(answers.map((a) => a.pid));
        expect(pids.size).toBeGreaterThanOrEqual(2);
        expect(new Set(answers.map((a) => a.secret_fingerprint))).toEqual(new Set([fingerprint]));
        expect(await s.logs(s.app())).not.toContain(s.secretKey);
        expect(await s.logs(s.nginx())).not.toContain(s.secretKey);
    });
});

describe("hardening, as running", () => {
    test("non-root users, all capabilities dropped, no-new-privileges, memory and process limits", async () => {
        for (const [container, uid] of [
            [s.app(), "10001"],
            [s.nginx(), "10002"],
        ] as const) {
            const info = await container.inspect();
            expect(info.Config.User).toBe(`${uid}:${uid}`);
            expect(info.HostConfig.CapDrop).toEqual(["ALL"]);
            expect(info.HostConfig.SecurityOpt).toEqual(["no-new-privileges:true"]);
            expect(info.HostConfig.ReadonlyRootfs).toBe(true);
            expect(info.HostConfig.Memory).toBeGreaterThan(0);
            // The process limit is the container's own pids cgroup (the pids-limit step), not an nproc ulimit.
            expect(info.HostConfig.PidsLimit).toBe(512);
            expect((info.HostConfig.Ulimits ?? []).map((u) => u.Name)).not.toContain("nproc");
            expect(info.HostConfig.LogConfig).toEqual({
                Type: "json-file",
                Config: { "max-file": "5", "max-size": "10m" },
            });
            // Every process, docker's init included, runs as the unprivileged user: no root at all.
            const top = execFileSync("docker", ["top", info.Id, "-o", "pid,uid,comm"], { encoding: "utf8" });
            const rows = top
                .trim()
                .split("\n")
                .slice(1)
                .map((l) => l.trim().split(/\s+/));
            expect(rows.length).toBeGreaterThanOrEqual(2);
            expect(new Set(rows.map((r) => r[1]))).toEqual(new Set([uid]));
            expect(rows.map((r) => r[2])).toContain("docker-init");
        }
    });

    test("nginx reuses TIME_WAIT ports in its own network namespace", async () => {
        const res = await s.exec(s.nginx(), ["cat", "/proc/sys/net/ipv4/tcp_tw_reuse"]);
        expect(res.output.trim()).toBe("1");
    });

    test("nginx hides its version; security headers are added unless the app set its own", async () => {
        const page = await request(s.port, "/login");
        expect(page.headers.server).toBe("nginx");
        expect(page.headers["x-content-type-options"]).toBe("nosniff");
        expect(page.headers["x-frame-options"]).toBe("SAMEORIGIN");
        expect(page.headers["referrer-policy"]).toBe("strict-origin-when-cross-origin");
        const css = await request(s.port, "/static/css/app.css");
        expect(css.headers["x-content-type-options"]).toBe("nosniff");
        const admin = await request(s.port, "/admin/maintenance");
        expect(admin.headers["x-frame-options"]).toBe("DENY"); // the app's own, not duplicated
    });

    test("methods the app does not use are refused by nginx", async () => {
        expect((await request(s.port, "/login", { method: "TRACE" })).status).toBe(405);
        expect((await request(s.port, "/login", { method: "BREW" })).status).toBe(405);
    });

    test("login POSTs are rate-limited per client address (a minute's worth at once); reading the login page is not", async () => {
        const statuses: number[] = [];
        for (let i = 0; i < 75; i++) statuses.push((await loginAttempt(s.port, "nobody", "wrong")).status);
        // The default: 60 a minute, all of them at once; the rest get 429.
        expect(statuses.slice(0, 60)).toEqual(Array(60).fill(401));
        expect(statuses).toContain(429);
        for (let i = 0; i < 20; i++) expect((await request(s.port, "/login")).status).toBe(200);
    });
});
