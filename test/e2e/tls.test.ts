/**
 * HTTPS on the real engine (issue 15): tls internal (a school CA made by the stack: handshake with
 * only that CA, wrong names refused, the CA download, redirect, HSTS, Secure cookies, TLS 1.2+,
 * HTTP/2, a renewal under load with 0 failed requests), tls files (the school's certificate) and a
 * trusted proxy in front of a plain-HTTP stack.
 */
import { eventually, freePort, request } from "../support/http";
import { httpsRequest, hostCommand } from "../support/https";
import { runLoad } from "../support/load";
import { liveStack, LiveStack, redeclare } from "../support/stack";
import { docker } from "../support/realize";
import { recordFigure } from "../support/figures";
import { testCa, TestCa } from "../support/certs";
import { TEST_IMAGES } from "../support/baseImages";

jest.setTimeout(600000);

const DOMAIN = "lernen.schule.test";
const sessionCookie = (headers: Record<string, string | string[] | undefined>): string =>
    ([] as string[])
        .concat(headers["set-cookie"] ?? [])
        .map((c) => c.split(";")[0])
        .join("; ");

/** Logs in over HTTPS as a browser does (form, CSRF token, POST); returns the Set-Cookie lines and the cookie. */
async function httpsLogin(port: number, ca: string, user: string): Promise<{ setCookie: string[]; cookie: string }> {
    const form = await httpsRequest(port, "/login", { ca, servername: DOMAIN });
    const token = /name="csrf_token" value="([^"]+)"/.exec(form.text())?.[1];
    if (!token) throw new Error(`GET /login over HTTPS: ${form.status} without a CSRF token`);
    const res = await httpsRequest(port, "/login", {
        ca,
        servername: DOMAIN,
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: sessionCookie(form.headers) },
        body: `csrf_token=${encodeURIComponent(token)}&username=${user}&password=lernen`,
    });
    if (res.status !== 302) throw new Error(`login over HTTPS answered ${res.status}`);
    return { setCookie: ([] as string[]).concat(res.headers["set-cookie"] ?? []), cookie: sessionCookie(res.headers) };
}

describe("tls: internal (a school CA made by the stack)", () => {
    let s: LiveStack;
    let httpsPort: number;
    let ca: string;
    beforeAll(async () => {
        httpsPort = await freePort();
        s = await liveStack("e2e-tls-int", {
            "lernmanager:tls": "internal",
            "lernmanager:domain": DOMAIN,
            "lernmanager:extraNames": '["lm.schule.local"]',
            "lernmanager:serverAddresses": '["10.0.0.5"]',
            "lernmanager:httpsPort": String(httpsPort),
            "lernmanager:tlsImage": TEST_IMAGES.tls,
        });
        const download = await request(s.port, "/schul-ca.crt");
        expect(download.status).toBe(200);
        ca = download.text();
    });
    afterAll(async () => {
        await s?.realization.teardown();
    });

    test("the CA download (plain HTTP) and its German install page", async () => {
        expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
        const page = await request(s.port, "/schul-ca");
        expect(page.status).toBe(200);
        expect(page.text()).toContain("Schul-Zertifikat installieren");
        const info = await hostCommand("openssl", ["x509", "-noout", "-subject", "-ext", "basicConstraints"], ca);
        expect(info.output).toContain(`Schul-CA ${DOMAIN}`);
        expect(info.output).toContain("CA:TRUE");
    });

    test("a client trusting only that CA completes a handshake; a wrong host name fails", async () => {
        const ok = await httpsRequest(httpsPort, "/healthz", { ca, servername: DOMAIN });
        expect(ok.status).toBe(200);
        expect((await httpsRequest(httpsPort, "/healthz", { ca, servername: "lm.schule.local" })).status).toBe(200);
        await expect(httpsRequest(httpsPort, "/healthz", { ca, servername: "falsch.schule.test" })).rejects.toThrow(
            /altnames|does not match/i,
        );
        const other = testCa("Fremde CA");
        try {
            await expect(httpsRequest(httpsPort, "/healthz", { ca: other.caCert, servername: DOMAIN })).rejects.toThrow(
                /self.signed|unable to (get|verify)/i,
            );
        } finally {
            other.remove();
        }
        const san = await hostCommand("openssl", ["x509", "-noout", "-ext", "subjectAltName"], await servedCert());
        expect(san.output).toContain("IP Address:10.0.0.5");
    });

    const servedCert = async () =>
        (
            await hostCommand(
                "openssl",
                ["s_client", "-connect", `127.0.0.1:${httpsPort}`, "-servername", DOMAIN, "-showcerts"],
                "",
            )
        ).output.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0];

    test("port 80 redirects to HTTPS; HSTS; the app's cookies are Secure and login works over HTTPS", async () => {
        const plain = await request(s.port, "/dashboard?x=1");
        expect(plain.status).toBe(301);
        expect(plain.headers.location).toBe(`https://127.0.0.1:${httpsPort}/dashboard?x=1`);
        const page = await httpsRequest(httpsPort, "/login", { ca, servername: DOMAIN });
        expect(page.headers["strict-transport-security"]).toBe("max-age=300");
        const { setCookie, cookie } = await httpsLogin(httpsPort, ca, "student03");
        expect(setCookie.join("\n")).toMatch(/session=[^;]+;.*Secure/i);
        const who = await httpsRequest(httpsPort, "/whoami", { ca, servername: DOMAIN, headers: { Cookie: cookie } });
        expect(who.json().scheme).toBe("https");
    });

    test("TLS 1.2 and 1.3 only, HTTP/2 (openssl s_client, curl)", async () => {
        const version = async (flag: string) =>
            hostCommand("openssl", ["s_client", "-connect", `127.0.0.1:${httpsPort}`, "-servername", DOMAIN, flag], "");
        expect((await version("-tls1_2")).output).toMatch(/Protocol\s*:\s*TLSv1\.2/);
        expect((await version("-tls1_3")).output).toMatch(/TLSv1\.3/);
        const old = await version("-tls1_1");
        // Refused: no certificate, no cipher (s_client still names the version it tried).
        expect(old.output).toMatch(/no peer certificate available/);
        expect(old.output).toMatch(/Cipher is \(NONE\)/);
        const fs = await import("fs");
        const caFile = `/tmp/lm-e2e-ca-${process.pid}.pem`;
        fs.writeFileSync(caFile, ca);
        try {
            const curl = await hostCommand("curl", [
                "-sS",
                "--http2",
                "--cacert",
                caFile,
                "--resolve",
                `${DOMAIN}:${httpsPort}:127.0.0.1`,
                "-o",
                "/dev/null",
                "-w",
                "%{http_version} %{http_code}",
                `https://${DOMAIN}:${httpsPort}/healthz`,
            ]);
            expect(curl.output.trim()).toBe("2 200");
        } finally {
            fs.rmSync(caFile, { force: true });
        }
    });

    test("a renewal under load: nginx serves the new certificate, 0 failed requests", async () => {
        const before = (await httpsRequest(httpsPort, "/healthz", { ca, servername: DOMAIN })).fingerprint;
        const cookies = [(await httpsLogin(httpsPort, ca, "student04")).cookie];
        const agent = s.realization.container("e2e-tls-int-tls");
        let servedNewAt = 0;
        const renewal = (async () => {
            await new Promise((r) => setTimeout(r, 3000));
            const started = Date.now();
            await s.exec(agent, ["/usr/local/bin/lm-tls", "renew-now"]);
            while (Date.now() - started < 30000) {
                const now = (await httpsRequest(httpsPort, "/healthz", { ca, servername: DOMAIN })).fingerprint;
                if (now !== before) {
                    servedNewAt = (Date.now() - started) / 1000;
                    break;
                }
                await new Promise((r) => setTimeout(r, 250));
            }
            await new Promise((r) => setTimeout(r, 3000));
        })();
        const load = await runLoad({
            port: httpsPort,
            connections: 16,
            durationMs: 45000,
            maxRequests: 40000,
            cookies,
            tls: { ca, servername: DOMAIN },
            // As browsers do: a request that finds its idle keep-alive connection closed by an old
            // nginx worker (the graceful reload) is sent again on a new one, and counted.
            retryClosedKeepAlive: true,
            until: renewal,
        });
        expect(servedNewAt).toBeGreaterThan(0);
        expect(load.failures).toEqual({});
        expect(load.requests).toBeGreaterThan(200);
        recordFigure("tlsRenewalUnderLoad", {
            mode: "internal",
            requests: load.requests,
            failed: load.failed,
            resentOnNewConnection: load.resent,
            servedNewAfterSeconds: servedNewAt,
        });
        console.log(
            `renewal under load (internal): ${load.requests} requests, ${load.failed} failed; new certificate served after ${servedNewAt} s`,
        );
        expect(await s.logs(s.nginx())).toContain("the certificate changed; reloaded gracefully");
    });
});

describe("tls: files (the school's own certificate) and a trusted proxy in front", () => {
    let schoolCa: TestCa;
    let s: LiveStack;
    let httpsPort: number;
    beforeAll(async () => {
        schoolCa = testCa("Schultraeger CA");
        const pair = schoolCa.issue([DOMAIN]);
        httpsPort = await freePort();
        s = await liveStack("e2e-tls-files", {
            "lernmanager:tls": "files",
            "lernmanager:domain": DOMAIN,
            "lernmanager:tlsCertificate": pair.cert,
            "lernmanager:tlsKey": pair.key,
            "lernmanager:httpsPort": String(httpsPort),
            "lernmanager:hstsMaxAge": "86400",
            "lernmanager:tlsImage": TEST_IMAGES.tls,
        });
    });
    afterAll(async () => {
        await s?.realization.teardown();
        schoolCa?.remove();
    });

    test("a client trusting only the school's CA completes a handshake; a wrong host name fails; no CA download", async () => {
        const ok = await httpsRequest(httpsPort, "/healthz", { ca: schoolCa.caCert, servername: DOMAIN });
        expect(ok.status).toBe(200);
        expect(ok.headers["strict-transport-security"]).toBe("max-age=86400");
        await expect(
            httpsRequest(httpsPort, "/healthz", { ca: schoolCa.caCert, servername: "falsch.schule.test" }),
        ).rejects.toThrow(/altnames|does not match/i);
        expect((await request(s.port, "/schul-ca.crt")).status).toBe(301);
        expect((await request(s.port, "/")).headers.location).toBe(`https://127.0.0.1:${httpsPort}/`);
    });
});

describe("behind a TLS proxy: trustedProxies", () => {
    let s: LiveStack;
    let proxyAddress: string;
    beforeAll(async () => {
        s = await liveStack("e2e-tls-proxy", {});
        // The address our requests reach nginx from (the published port's gateway): the "proxy".
        proxyAddress = (await request(s.port, "/whoami")).json().remote_addr;
        const next = await redeclare(s, { "lernmanager:trustedProxies": JSON.stringify([`${proxyAddress}/32`]) });
        await s.realization.update(next.registrations);
    });
    afterAll(async () => {
        await s?.realization.teardown();
    });

    const headers = { "X-Forwarded-For": "198.51.100.7, 203.0.113.9", "X-Forwarded-Proto": "https" };

    test("via the trusted proxy: the client's address and scheme reach the app (login limit, school-network gate, FORCE_HTTPS)", async () => {
        const who = (await request(s.port, "/whoami", { headers })).json();
        expect(who.remote_addr).toBe("203.0.113.9");
        expect(who.scheme).toBe("https");
        // FORCE_HTTPS is on behind a proxy: without the proxy's "https" the app sends the browser to HTTPS.
        const plain = await request(s.port, "/whoami", { headers: { "X-Forwarded-For": "203.0.113.9" } });
        expect(plain.status).toBe(301);
    });

    test("from any other address the same headers have no effect", async () => {
        const net = `${s.realization.created.find((c) => c.kind === "network")!.name}`;
        const container = await docker.createContainer({
            Image: TEST_IMAGES.tls,
            // Its own address first (the network settings are cleared once it exits), then the request.
            Cmd: [
                "sh",
                "-c",
                `hostname -i; curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'X-Forwarded-For: ${headers["X-Forwarded-For"]}' -H 'X-Forwarded-Proto: https' http://nginx:8080/whoami`,
            ],
            HostConfig: { NetworkMode: net, AutoRemove: false },
            Labels: { "dev.lernmanager.stack": "e2e-tls-proxy" },
        });
        try {
            await container.start();
            await container.wait();
            const out = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
            // Not trusted: X-Forwarded-Proto is ignored, so the app (FORCE_HTTPS) redirects the plain-HTTP request.
            expect(out).toMatch(/301 https:\/\/nginx/);
            const own = /(\d+\.\d+\.\d+\.\d+)/.exec(out)![1];
            // nginx saw (and passed on) the container's own address, not the claimed one.
            let line = "";
            await eventually(
                10,
                async () => {
                    // nginx writes its log in batches, at least every second.
                    const log = await s.logs(s.nginx());
                    line =
                        log
                            .split("\n")
                            .filter((l) => l.includes("GET /whoami") && l.includes("curl"))
                            .pop() ?? "";
                    return line !== "";
                },
                "nginx logged the request from the container",
            );
            expect(line.split(" ")[0]).toBe(own);
        } finally {
            await container.remove({ force: true });
        }
    });
});
