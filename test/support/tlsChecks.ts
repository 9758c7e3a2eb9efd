import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Docker from "dockerode";
import { rememberCsrfToken, request } from "./http";
import { runLoad, type LoadResult } from "./load";
import { containerLogs, execIn } from "./stack";
import { hostCommand, httpsRequest } from "./https";

const sessionCookie = (headers: Record<string, string | string[] | undefined>): string =>
    ([] as string[])
        .concat(headers["set-cookie"] ?? [])
        .map((c) => c.split(";")[0])
        .join("; ");

/**
 * Logs in over HTTPS as a browser does (form, CSRF token, POST with the form page as Referer and the
 * port in Host, as a browser on a port other than 443 sends them); the Set-Cookie lines and the
 * cookie. Fails unless the answer is the redirect to the dashboard: a refused CSRF check (a Referer
 * that does not match the Host the app sees) is a 302 too, to the Referer.
 */
export async function httpsLogin(
    port: number,
    ca: string,
    servername: string,
    user: string,
): Promise<{ setCookie: string[]; cookie: string }> {
    const host = port === 443 ? servername : `${servername}:${port}`;
    const form = await httpsRequest(port, "/login", { ca, servername, headers: { Host: host } });
    const token = /name="csrf_token" value="([^"]+)"/.exec(form.text())?.[1];
    if (!token) throw new Error(`GET /login over HTTPS: ${form.status} without a CSRF token`);
    const res = await httpsRequest(port, "/login", {
        ca,
        servername,
        method: "POST",
        headers: {
            Host: host,
            "Content-Type": "application/x-www-form-urlencoded",
            Cookie: sessionCookie(form.headers),
            Referer: `https://${host}/login`,
        },
        body: `csrf_token=${encodeURIComponent(token)}&username=${user}&password=lernen`,
    });
    const to = res.headers.location ? new URL(res.headers.location, "https://x").pathname : "";
    if (res.status !== 302 || to !== "/dashboard") {
        throw new Error(`login over HTTPS answered ${res.status}${to ? ` to ${to}` : ""}`);
    }
    const cookie = sessionCookie(res.headers);
    rememberCsrfToken(cookie, token);
    return { setCookie: ([] as string[]).concat(res.headers["set-cookie"] ?? []), cookie };
}

export interface TlsBasics {
    /** The stack's plain-HTTP and HTTPS host ports. */
    readonly httpPort: number;
    readonly httpsPort: number;
    /** The only CA the clients trust, and the name they ask for. */
    readonly ca: string;
    readonly servername: string;
    /** The Strict-Transport-Security header expected. */
    readonly hsts: string;
}

/**
 * What every TLS mode must show, checked with real clients: port 80 redirects to HTTPS; HSTS; the
 * app's session cookie is Secure and a login works over HTTPS; TLS 1.1 is refused, 1.2 and 1.3 are
 * spoken (`openssl s_client`); a TLS 1.2 session is resumed; HTTP/2 (`curl --http2`).
 * Returns what was seen, for the test's expectations.
 */
export async function tlsBasics(t: TlsBasics): Promise<Record<string, unknown>> {
    const plain = await request(t.httpPort, "/dashboard?x=1");
    const page = await httpsRequest(t.httpsPort, "/login", { ca: t.ca, servername: t.servername });
    const { setCookie, cookie } = await httpsLogin(t.httpsPort, t.ca, t.servername, "student03");
    const who = await httpsRequest(t.httpsPort, "/whoami", {
        ca: t.ca,
        servername: t.servername,
        headers: { Cookie: cookie },
    });
    const sClient = (...flags: string[]) =>
        hostCommand(
            "openssl",
            ["s_client", "-connect", `127.0.0.1:${t.httpsPort}`, "-servername", t.servername, ...flags],
            "",
        );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-tls-check-"));
    try {
        const caFile = path.join(dir, "ca.pem");
        fs.writeFileSync(caFile, t.ca);
        const tls11 = (await sClient("-tls1_1")).output;
        const tls12 = (await sClient("-tls1_2", "-sess_out", path.join(dir, "session"))).output;
        const resumed = (await sClient("-tls1_2", "-sess_in", path.join(dir, "session"))).output;
        const tls13 = (await sClient("-tls1_3")).output;
        const curl = await hostCommand("curl", [
            "-sS",
            "--http2",
            "--cacert",
            caFile,
            "--resolve",
            `${t.servername}:${t.httpsPort}:127.0.0.1`,
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
            `https://${t.servername}:${t.httpsPort}/healthz`,
        ]);
        return {
            redirect: `${plain.status} ${String(plain.headers.location)}`,
            hsts: page.headers["strict-transport-security"],
            secureCookie: /session=[^;]+;.*\bSecure\b/i.test(setCookie.join("\n")),
            appScheme: who.json().scheme,
            tls11Refused: /no peer certificate available/.test(tls11) && /Cipher is \(NONE\)/.test(tls11),
            tls12:
                /Protocol\s*:\s*TLSv1\.2/.test(tls12) && /New, TLSv1\.2/.test(tls12) ? "spoken" : tls12.slice(0, 300),
            tls12Cipher: /Cipher is (\S+)/.exec(tls12)?.[1],
            tls12Resumed: /^Reused, TLSv1\.2/m.test(resumed),
            tls13: /New, TLSv1\.3/.test(tls13),
            http: curl.output.trim(),
        };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The expectations of `tlsBasics` for a stack whose HTTPS port is `httpsPort`. */
export function expectedBasics(t: TlsBasics): Record<string, unknown> {
    return {
        redirect: `301 https://127.0.0.1:${t.httpsPort}/dashboard?x=1`,
        hsts: t.hsts,
        secureCookie: true,
        appScheme: "https",
        tls11Refused: true,
        tls12: "spoken",
        tls12Cipher: expect.stringMatching(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/),
        tls12Resumed: true,
        tls13: true,
        http: "2 200",
    };
}

/**
 * A renewal under load: 16 HTTPS connections (reads and writes, as students) while the TLS agent
 * renews (`lm-tls renew-now`); returns the load's result and the seconds until nginx served the new
 * certificate (0: never, within 60 s).
 */
export async function renewUnderLoad(t: {
    readonly httpsPort: number;
    readonly ca: string;
    readonly servername: string;
    readonly agent: Docker.Container;
}): Promise<{ load: LoadResult; servedNewAt: number; renewal: string }> {
    const get = () => httpsRequest(t.httpsPort, "/healthz", { ca: t.ca, servername: t.servername });
    const before = (await get()).fingerprint;
    const cookies = [(await httpsLogin(t.httpsPort, t.ca, t.servername, "student04")).cookie];
    let servedNewAt = 0;
    let said = "";
    const renewal = (async () => {
        await new Promise((r) => setTimeout(r, 3000));
        const started = Date.now();
        const out = await execIn(t.agent, ["/usr/local/bin/lm-tls", "renew-now"]);
        said = `renew-now took ${(Date.now() - started) / 1000} s: ${out.output.trim()}`;
        while (Date.now() - started < 60000) {
            if ((await get()).fingerprint !== before) {
                servedNewAt = (Date.now() - started) / 1000;
                break;
            }
            await new Promise((r) => setTimeout(r, 250));
        }
        await new Promise((r) => setTimeout(r, 3000));
    })();
    const load = await runLoad({
        port: t.httpsPort,
        connections: 16,
        durationMs: 90000,
        maxRequests: 60000,
        cookies,
        tls: { ca: t.ca, servername: t.servername },
        // As browsers do: a request that finds its idle keep-alive connection closed by an old
        // nginx worker (the graceful reload) is sent again on a new one, and counted.
        retryClosedKeepAlive: true,
        until: renewal,
    });
    if (!servedNewAt) said += `\nthe agent's log:\n${await containerLogs(t.agent)}`;
    return { load, servedNewAt, renewal: said };
}
