/**
 * HTTPS on the real engine: tls internal (a school CA made by the stack: handshake with
 * only that CA, wrong names refused, the CA download, redirect, HSTS, Secure cookies, TLS 1.2+,
 * HTTP/2, a renewal under load with 0 failed requests), tls files (the school's certificate) and a
 * trusted proxy in front of a plain-HTTP stack.
 */
import { eventually, freePort, request } from "../support/http";
import { httpsRequest, hostCommand } from "../support/https";
import { liveStack, LiveStack, redeclare } from "../support/stack";
import { docker } from "../support/realize";
import { recordFigure } from "../support/figures";
import { testCa, TestCa } from "../support/certs";
import { TEST_IMAGES } from "../support/baseImages";
import { expectedBasics, renewUnderLoad, tlsBasics } from "../support/tlsChecks";

jest.setTimeout(600000);

const DOMAIN = "lernen.schule.test";
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

    test("port 80 redirects, HSTS, Secure cookies and login over HTTPS, TLS 1.2/1.3 only, resumption, HTTP/2", async () => {
        const t = { httpPort: s.port, httpsPort, ca, servername: DOMAIN, hsts: "max-age=300" };
        expect(await tlsBasics(t)).toEqual(expectedBasics(t));
    });

    test("a renewal under load: nginx serves the new certificate, 0 failed requests", async () => {
        const agent = s.realization.container("e2e-tls-int-tls");
        const { load, servedNewAt, renewal } = await renewUnderLoad({ httpsPort, ca, servername: DOMAIN, agent });
        expect(servedNewAt > 0 ? "served" : renewal).toBe("served");
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
            `renewal under load (internal): ${load.requests} requests, ${load.failed} failed, ${load.resent} resent on a new connection; new certificate served after ${servedNewAt} s`,
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
    });

    test("port 80 redirects, HSTS, Secure cookies and login over HTTPS, TLS 1.2/1.3 only, resumption, HTTP/2", async () => {
        const t = { httpPort: s.port, httpsPort, ca: schoolCa.caCert, servername: DOMAIN, hsts: "max-age=86400" };
        expect(await tlsBasics(t)).toEqual(expectedBasics(t));
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
