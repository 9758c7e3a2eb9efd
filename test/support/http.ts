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
 * Logs in as a demo user the way a browser does (GET the form: session cookie + CSRF token; POST it
 * back) and returns the session cookie. Returns the POST's status as an error unless it is 302.
 */
export async function login(port: number, username: string, password: string): Promise<string> {
    const res = await loginAttempt(port, username, password);
    if (res.status !== 302) throw new Error(`login as ${username} answered ${res.status}`);
    return res.cookie;
}

/** One login as a browser does it; the status of the POST and the session cookie it set. */
export async function loginAttempt(
    port: number,
    username: string,
    password: string,
): Promise<{ status: number; cookie: string; body: string }> {
    const form = await request(port, "/login");
    const token = /name="csrf_token" value="([^"]+)"/.exec(form.text())?.[1];
    if (form.status !== 200 || !token) throw new Error(`GET /login answered ${form.status} without a CSRF token`);
    const res = await request(port, "/login", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: sessionCookie(form) },
        body: `csrf_token=${encodeURIComponent(token)}&username=${encodeURIComponent(username)}&password=${encodeURIComponent(password)}`,
    });
    const cookie = sessionCookie(res);
    if (res.status === 302 && !cookie) throw new Error("login set no cookie");
    return { status: res.status, cookie, body: res.text() };
}
