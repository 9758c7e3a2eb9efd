import * as http from "http";
import * as https from "https";
import * as net from "net";

export interface Response {
    readonly status: number;
    readonly headers: http.IncomingHttpHeaders;
    /** Raw body bytes as sent (not decompressed). */
    readonly body: Buffer;
    text(): string;
    json(): any;
}

export interface RequestOptions {
    readonly method?: string;
    readonly headers?: Record<string, string | number>;
    readonly body?: Buffer | string;
    readonly timeoutMs?: number;
}

/**
 * Ports on 127.0.0.1 that speak HTTPS (the benchmark's HTTPS variant): `request` uses TLS there,
 * without checking the certificate (the HTTPS tests check it with test/support/https.ts).
 */
export const HTTPS_PORTS = new Set<number>();

/** One HTTP request to 127.0.0.1 (the only address tests send traffic to), no keep-alive. */
export function request(port: number, path: string, opts: RequestOptions = {}): Promise<Response> {
    return new Promise((resolve, reject) => {
        const tls = HTTPS_PORTS.has(port);
        const req = (tls ? https : http).request(
            {
                ...(tls ? { rejectUnauthorized: false } : {}),
                host: "127.0.0.1",
                port,
                path,
                method: opts.method ?? "GET",
                headers: opts.headers,
                agent: false,
                timeout: opts.timeoutMs ?? 30000,
            },
            (res) => readResponse(res).then(resolve, reject),
        );
        req.on("timeout", () => req.destroy(new Error(`timeout: ${opts.method ?? "GET"} ${path}`)));
        req.on("error", reject);
        if (opts.body !== undefined) req.write(opts.body);
        req.end();
    });
}

/** A whole response: status, headers, body. */
export function readResponse(res: http.IncomingMessage): Promise<Response> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
            const body = Buffer.concat(chunks);
            resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body,
                text: () => body.toString("utf8"),
                json: () => JSON.parse(body.toString("utf8")),
            });
        });
        res.on("error", reject);
    });
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** Polls `check` until it returns true or `seconds` pass; returns the seconds it took. */
export async function eventually(seconds: number, check: () => Promise<boolean>, what: string): Promise<number> {
    const start = Date.now();
    let lastError: unknown;
    while (Date.now() - start < seconds * 1000) {
        try {
            if (await check()) return (Date.now() - start) / 1000;
        } catch (e) {
            lastError = e;
        }
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${what}: not true within ${seconds} s${lastError ? ` (last error: ${String(lastError)})` : ""}`);
}

/** The session cookie a response sets, as a Cookie header value. */
const sessionCookie = (res: { headers: Record<string, string | string[] | undefined> }): string =>
    ([] as string[])
        .concat(res.headers["set-cookie"] ?? [])
        .map((c) => c.split(";")[0])
        .join("; ");

/**
 * The CSRF token of each session cookie a login or csrfSession returned. The app (Flask-WTF, like the
 * real Lernmanager) refuses every POST without the session's token, and a refusal is no 4xx: it is a
 * 302 back to the Referer or / with an error flash. A page's JavaScript sends the token from the
 * page as the X-CSRFToken header; tests do the same with csrfHeaders(cookie).
 */
const csrfTokens = new Map<string, string>();

/** Remembers the CSRF token that belongs to a session cookie (bench/lib/sessions.ts logs in in-container). */
export function rememberCsrfToken(cookie: string, token: string): void {
    csrfTokens.set(cookie, token);
}

/** The CSRF token of a session cookie from login()/loginAttempt()/csrfSession(); undefined for others. */
export function csrfToken(cookie: string): string | undefined {
    return csrfTokens.get(cookie);
}

/** Cookie and X-CSRFToken headers for a POST in that session, as a page's script sends them. */
export function csrfHeaders(cookie: string): Record<string, string> {
    const token = csrfTokens.get(cookie);
    if (!token) throw new Error("no CSRF token known for this cookie (log in with login() or use csrfSession())");
    return { Cookie: cookie, "X-CSRFToken": token };
}

/** The origin a browser would name in Referer for a page it got from this port of 127.0.0.1. */
export const originOf = (port: number): string => `${HTTPS_PORTS.has(port) ? "https" : "http"}://127.0.0.1:${port}`;

/** An anonymous session as a browser has it after GET /login: its cookie and CSRF token. */
export async function csrfSession(port: number): Promise<{ cookie: string; token: string }> {
    const form = await request(port, "/login");
    const token = /name="csrf_token" value="([^"]+)"/.exec(form.text())?.[1];
    if (form.status !== 200 || !token) throw new Error(`GET /login answered ${form.status} without a CSRF token`);
    const cookie = sessionCookie(form);
    csrfTokens.set(cookie, token);
    return { cookie, token };
}

/** Where a login that worked sends the browser: a student's dashboard or the admin page. */
export const LOGIN_LANDINGS = ["/dashboard", "/admin"];

/** The path of a response's Location header ("" without one). */
export function locationPath(headers: http.IncomingHttpHeaders): string {
    const loc = headers.location;
    if (!loc) return "";
    return new URL(loc, "http://x").pathname;
}

/**
 * Logs in as a demo user the way a browser does (GET the form: session cookie + CSRF token; POST it
 * back) and returns the session cookie. Fails unless the answer is the redirect to the user's start
 * page: the app answers a refused POST (CSRF) or any error with a 302 too, to the Referer or /.
 */
export async function login(port: number, username: string, password: string): Promise<string> {
    const res = await loginAttempt(port, username, password);
    if (res.status !== 302) throw new Error(`login as ${username} answered ${res.status}`);
    if (!res.ok)
        throw new Error(`login as ${username} answered 302 to ${res.location || "nowhere"} (an error redirect)`);
    return res.cookie;
}

/**
 * One login as a browser does it; the status of the POST, the session cookie it set, where it sends
 * the browser, and `ok`: a 302 to /dashboard or /admin (anything else, a 302 included, failed).
 */
export async function loginAttempt(
    port: number,
    username: string,
    password: string,
): Promise<{ status: number; cookie: string; body: string; location: string; ok: boolean }> {
    const anonymous = await csrfSession(port);
    const res = await request(port, "/login", {
        method: "POST",
        headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            Cookie: anonymous.cookie,
            // A browser names the form's page; over HTTPS the app requires it (same origin as its Host).
            Referer: `${originOf(port)}/login`,
        },
        body: `csrf_token=${encodeURIComponent(anonymous.token)}&username=${encodeURIComponent(username)}&password=${encodeURIComponent(password)}`,
    });
    const cookie = sessionCookie(res);
    const location = locationPath(res.headers);
    const ok = res.status === 302 && LOGIN_LANDINGS.includes(location);
    if (ok && !cookie) throw new Error("login set no cookie");
    // The session keeps its CSRF token across the login (Flask-WTF's token stays in the session).
    if (cookie) csrfTokens.set(cookie, anonymous.token);
    return { status: res.status, cookie, body: res.text(), location, ok };
}
