/**
 * Security on the real engine, two stacks deployed one after the other: `e2e-sec-tls` (tls internal
 * on a port other than 443, published on every interface, its app built from a checkout with a
 * planted .env, data/old.db, stray.db and instance/config.py) and `e2e-sec-proxy` (plain HTTP
 * behind a trusted TLS proxy). The Host the app sees (the real app's CSRF referrer check on HTTPS
 * compares it with the Referer), the name-constrained school CA and its fingerprint, /healthz only
 * for the stack itself, what the app image holds, and the headers of every response kind (last:
 * its 503 stops the app).
 */
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import * as tls from "tls";
import { freePort, request, type Response } from "../support/http";
import { hostCommand, httpsRequest } from "../support/https";
import { containerLogs, copyOfDemoApp, execIn, liveStack, type LiveStack } from "../support/stack";
import { docker } from "../support/realize";
import { TEST_IMAGES } from "../support/baseImages";

jest.setTimeout(900000);

const DOMAIN = "lernen.schule.test";
const cookieOf = (headers: Record<string, string | string[] | undefined>): string =>
    ([] as string[])
        .concat(headers["set-cookie"] ?? [])
        .map((c) => c.split(";")[0])
        .join("; ");
const csrfToken = (page: Response): string => {
    const token = /name="csrf_token" value="([^"]+)"/.exec(page.text())?.[1];
    if (!token) throw new Error(`no CSRF token in a ${page.status} answer`);
    return token;
};

let direct: LiveStack;
let proxied: LiveStack;
let httpsPort: number;
let ca: string;
const app = copyOfDemoApp();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "lm-sec-"));

beforeAll(async () => {
    // Local state a checkout may hold: secrets, a stray database, Flask's instance folder.
    fs.writeFileSync(path.join(app.dir, ".env"), "SECRET_KEY=planted-secret\n");
    fs.mkdirSync(path.join(app.dir, "data"), { recursive: true });
    fs.writeFileSync(path.join(app.dir, "data", "old.db"), "SQLite format 3\0planted");
    fs.writeFileSync(path.join(app.dir, "stray.db"), "SQLite format 3\0planted");
    fs.mkdirSync(path.join(app.dir, "instance"), { recursive: true });
    fs.writeFileSync(path.join(app.dir, "instance", "config.py"), "SECRET = 'planted'\n");
    httpsPort = await freePort();
    // One after the other: the program runs under Pulumi's mocks, whose runtime state is per process.
    direct = await liveStack("e2e-sec-tls", {
        "lernmanager:appSource": app.dir,
        "lernmanager:tls": "internal",
        "lernmanager:domain": DOMAIN,
        "lernmanager:extraNames": '["lm.schule.local"]',
        "lernmanager:serverAddresses": '["10.0.0.5"]',
        "lernmanager:httpsPort": String(httpsPort),
        "lernmanager:tlsImage": TEST_IMAGES.tls,
        "lernmanager:loginRatePerMinute": "5",
        // On every interface (HTTPS: the config check allows it), so a container outside the stack reaches it.
        "lernmanager:bindAddress": "0.0.0.0",
    });
    // Every private range Docker gives its networks: the published port's gateway is the "proxy".
    proxied = await liveStack("e2e-sec-proxy", {
        "lernmanager:trustedProxies": '["172.16.0.0/12", "192.168.0.0/16", "10.0.0.0/8"]',
    });
    const download = await request(direct.port, "/schul-ca.crt");
    expect(download.status).toBe(200);
    ca = download.text();
    fs.writeFileSync(path.join(work, "ca.pem"), ca);
});
afterAll(async () => {
    await direct?.realization.teardown();
    await proxied?.realization.teardown();
    app.remove();
    fs.rmSync(work, { recursive: true, force: true });
});

describe("the Host the app sees: as the browser typed it, port included", () => {
    const origin = () => `https://${DOMAIN}:${httpsPort}`;

    test("HTTPS on a port other than 443: Host name:port and https reach the app (HTTP/1.1 and HTTP/2)", async () => {
        const who = await httpsRequest(httpsPort, "/whoami", {
            ca,
            servername: DOMAIN,
            headers: { Host: `${DOMAIN}:${httpsPort}` },
        });
        expect(who.json()).toMatchObject({ host: `${DOMAIN}:${httpsPort}`, scheme: "https" });
        // A browser over HTTP/2 sends :authority, no Host header.
        const h2 = await hostCommand("curl", [
            "-sS",
            "--http2",
            "--cacert",
            path.join(work, "ca.pem"),
            "--resolve",
            `${DOMAIN}:${httpsPort}:127.0.0.1`,
            "-w",
            "\n%{http_version}",
            `${origin()}/whoami`,
        ]);
        const lines = h2.output.trim().split("\n");
        const version = lines.pop();
        const body = lines.join("\n");
        expect(version).toBe("2");
        expect(JSON.parse(body)).toMatchObject({ host: `${DOMAIN}:${httpsPort}`, scheme: "https" });
    });

    test("a browser's login over HTTPS on that port, with its Referer and Origin, is accepted", async () => {
        const form = await httpsRequest(httpsPort, "/login", {
            ca,
            servername: DOMAIN,
            headers: { Host: `${DOMAIN}:${httpsPort}` },
        });
        const res = await httpsRequest(httpsPort, "/login", {
            ca,
            servername: DOMAIN,
            method: "POST",
            headers: {
                Host: `${DOMAIN}:${httpsPort}`,
                Referer: `${origin()}/login`,
                Origin: origin(),
                Cookie: cookieOf(form.headers),
                "Content-Type": "application/x-www-form-urlencoded",
            },
            body: `csrf_token=${encodeURIComponent(csrfToken(form))}&username=student01&password=lernen`,
        });
        expect(res.status).toBe(302);
        expect(cookieOf(res.headers)).toMatch(/session=/);
    });

    test("behind a trusted TLS proxy: its X-Forwarded-Host (or -Port) and -Proto reach the app; the login works", async () => {
        const via = (extra: Record<string, string>) => ({
            "X-Forwarded-For": "198.51.100.7",
            "X-Forwarded-Proto": "https",
            ...extra,
        });
        const seen = async (extra: Record<string, string>) =>
            (await request(proxied.port, "/whoami", { headers: via(extra) })).json();
        expect(await seen({ "X-Forwarded-Host": `${DOMAIN}:8443` })).toMatchObject({
            host: `${DOMAIN}:8443`,
            scheme: "https",
            remote_addr: "198.51.100.7",
        });
        expect((await seen({ "X-Forwarded-Host": DOMAIN, "X-Forwarded-Port": "8443" })).host).toBe(`${DOMAIN}:8443`);
        expect((await seen({ "X-Forwarded-Host": DOMAIN, "X-Forwarded-Port": "443" })).host).toBe(DOMAIN);
        // Without X-Forwarded-Host: the Host the proxy sent, port included.
        expect((await seen({ Host: `${DOMAIN}:9443` })).host).toBe(`${DOMAIN}:9443`);
        // A forged value that is not a host is ignored.
        expect((await seen({ Host: "x.test", "X-Forwarded-Host": "evil.test/path" })).host).toBe("x.test");

        const headers = via({ "X-Forwarded-Host": `${DOMAIN}:8443` });
        const form = await request(proxied.port, "/login", { headers });
        const res = await request(proxied.port, "/login", {
            method: "POST",
            headers: {
                ...headers,
                Referer: `https://${DOMAIN}:8443/login`,
                Origin: `https://${DOMAIN}:8443`,
                Cookie: cookieOf(form.headers),
                "Content-Type": "application/x-www-form-urlencoded",
            },
            body: `csrf_token=${encodeURIComponent(csrfToken(form))}&username=student02&password=lernen`,
        });
        expect(res.status).toBe(302);
    });
});

describe("the school CA: name-constrained, its fingerprint shown", () => {
    test("critical name constraints for domain, extraNames and serverAddresses; the install page shows its SHA-256", async () => {
        const ext = await hostCommand("openssl", ["x509", "-noout", "-ext", "nameConstraints"], ca);
        expect(ext.output).toMatch(/Name Constraints: critical/);
        for (const name of [`DNS:${DOMAIN}`, "DNS:lm.schule.local", "IP:10.0.0.5/255.255.255.255"])
            expect(ext.output).toContain(name);
        const fp = (await hostCommand("openssl", ["x509", "-noout", "-fingerprint", "-sha256"], ca)).output
            .trim()
            .replace(/^.*=/, "");
        expect(fp).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
        expect((await request(direct.port, "/schul-ca.sha256")).text().trim()).toBe(fp);
        const page = await request(direct.port, "/schul-ca");
        expect(page.status).toBe(200);
        expect(page.text()).toContain(fp);
        expect(page.text()).not.toContain("<!--#");
    });

    test("a certificate the CA signs for a foreign name is refused by a client trusting the CA; one for the server's name is not", async () => {
        const agent = direct.realization.container("e2e-sec-tls-tls");
        const sign = async (name: string) => {
            const script = [
                "set -e; d=/srv/tls/tmp/foreign; rm -rf $d; mkdir -p $d; cd $d",
                "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out k.pem 2>/dev/null",
                `openssl req -new -key k.pem -subj /CN=${name} -out r.csr 2>/dev/null`,
                `printf 'basicConstraints=critical,CA:FALSE\\nextendedKeyUsage=serverAuth\\nsubjectAltName=DNS:${name}\\n' > e.cnf`,
                "openssl x509 -req -in r.csr -CA /srv/tls/ca/ca.crt -CAkey /srv/tls/ca/ca.key -CAserial s.srl -CAcreateserial -days 2 -sha256 -extfile e.cnf -out c.pem 2>/dev/null",
                "cat c.pem k.pem; cd /; rm -rf $d",
            ].join("; ");
            const out = (await execIn(agent, ["sh", "-c", script])).output;
            return {
                cert: /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out)![0],
                key: /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(out)![0],
            };
        };
        const handshake = async (name: string): Promise<string> => {
            const pair = await sign(name);
            const server = tls.createServer({ cert: pair.cert, key: pair.key }, (s) => s.end("ok"));
            await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
            const port = (server.address() as { port: number }).port;
            try {
                return await new Promise<string>((resolve) => {
                    const client = tls.connect({ host: "127.0.0.1", port, ca, servername: name }, () => {
                        client.end();
                        resolve("trusted");
                    });
                    client.on("error", (e) => resolve(e.message));
                });
            } finally {
                server.close();
            }
        };
        expect(await handshake("www.sparkasse.example")).toMatch(/permitted subtree violation/i);
        expect(await handshake(DOMAIN)).toBe("trusted");
    });
});

describe("/healthz: only for the stack itself", () => {
    /** GET over HTTPS to this host's own LAN address: as a client on the school network arrives (DNAT, its own address). */
    const fromLan = (address: string, p: string) =>
        new Promise<number>((resolve, reject) => {
            const req = https.request(
                {
                    host: address,
                    port: httpsPort,
                    path: p,
                    ca,
                    servername: DOMAIN,
                    headers: { Host: DOMAIN },
                    agent: false,
                },
                (res) => {
                    res.resume();
                    resolve(res.statusCode ?? 0);
                },
            );
            req.on("error", reject);
            req.end();
        });

    test("answered inside the stack and on the server itself, refused to a client on the school network", async () => {
        // The deploy's smoke test and nginx's health check got their 200 (the stack is up); from the
        // server itself (loopback, through Docker's proxy) it answers too.
        expect((await httpsRequest(httpsPort, "/healthz", { ca, servername: DOMAIN })).status).toBe(200);
        const lan = Object.entries(os.networkInterfaces())
            .filter(([name]) => !/^(lo|docker|br-|veth)/.test(name))
            .flatMap(([, addrs]) => addrs ?? [])
            .find((a) => a.family === "IPv4" && !a.internal)?.address;
        expect(lan).toBeDefined();
        expect({ lan, login: await fromLan(lan!, "/login"), healthz: await fromLan(lan!, "/healthz") }).toEqual({
            lan,
            login: 200,
            healthz: 403,
        });
    });
});

describe("the app image holds only what the app needs", () => {
    test("no .env, nothing of instance/ but its empty mount points, no stray or data/ databases", async () => {
        const image = (await direct.app().inspect()).Config.Image;
        const probe = await docker.createContainer({
            Image: image,
            Entrypoint: ["sh", "-c"],
            Cmd: [
                "cd /app && find . \\( -name '.env*' -o -name '*.db' -o -name .git \\) -print; find data instance -type f -print; test -f app.py && echo app-present",
            ],
            Labels: { "dev.lernmanager.stack": "e2e-sec-tls" },
        });
        try {
            await probe.start();
            await probe.wait();
            const lines = (await containerLogs(probe))
                .split("\n")
                .map((l) => l.trim())
                .filter(Boolean);
            expect(lines).toEqual(["app-present"]);
        } finally {
            await probe.remove({ force: true });
        }
    });
});

describe("security headers on every response kind", () => {
    const common = {
        "x-content-type-options": "nosniff",
        "x-frame-options": "SAMEORIGIN",
        "permissions-policy": expect.stringContaining("camera=()"),
        "content-security-policy-report-only": expect.stringContaining("default-src 'self'"),
        "referrer-policy": "strict-origin-when-cross-origin",
    };
    const withHsts = { ...common, "strict-transport-security": "max-age=300" };
    const get = (p: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
        httpsRequest(httpsPort, p, { ca, servername: DOMAIN, ...opts });

    test("app pages: no-store unless the app says otherwise; static files keep their caching; the CA pages", async () => {
        const page = await get("/login");
        expect(page.headers).toMatchObject({ ...withHsts, "cache-control": "no-store" });
        const css = await get("/static/css/app.css");
        expect(css.status).toBe(200);
        expect(css.headers).toMatchObject({ ...withHsts, "cache-control": "max-age=2592000" });
        // The app's own frame policy wins and is not doubled.
        const admin = await get("/admin");
        expect(admin.headers["x-frame-options"]).toBe("DENY");
        for (const p of ["/schul-ca", "/schul-ca.crt"]) {
            expect((await get(p)).headers).toMatchObject(withHsts);
            // Over plain HTTP (before the CA is trusted): no HSTS there, the rest as everywhere.
            expect((await request(direct.port, p)).headers).toMatchObject(common);
        }
    });

    test("429 (too many logins) and 503 (app away) carry them, HSTS included", async () => {
        let limited: Response | undefined;
        for (let i = 0; i < 12 && !limited; i++) {
            const res = await get("/login", {
                method: "POST",
                headers: { "Content-Type": "application/x-www-form-urlencoded" },
                body: "username=x&password=y",
            });
            if (res.status === 429) limited = res;
        }
        expect(limited?.headers).toMatchObject({ ...withHsts, "cache-control": "no-store", "retry-after": "60" });
        await direct.app().stop({ t: 5 });
        const away = await get("/dashboard");
        expect(away.status).toBe(503);
        expect(away.headers).toMatchObject({ ...withHsts, "cache-control": "no-store", "retry-after": "10" });
    });
});
