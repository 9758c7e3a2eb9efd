import * as http from "http";
import * as https from "https";

/** The heading of nginx's page while the app is away (containers/web/lernmanager-unavailable.html). */
export const UNAVAILABLE_PAGE_TITLE = "Lernmanager ist gleich wieder da";
/** The failure reason of a 503 that carried that page (any other 503 is "HTTP 503"). */
export const FRIENDLY_503 = "HTTP 503 (the unavailable page)";
import { csrfToken, request } from "./http";

export interface LoadOptions {
    readonly port: number;
    /** Concurrent connections (each its own keep-alive socket, like a browser). */
    readonly connections: number;
    /** Stop after this long... */
    readonly durationMs: number;
    /** ...or after this many requests in all, whichever comes first. @default 200000 */
    readonly maxRequests?: number;
    /** Session cookies; connection i uses cookies[i % n]. */
    readonly cookies: readonly string[];
    /** Share of requests that are writes (POST /tasks/<n>/done with a unique write_id). @default 0.3 */
    readonly writeShare?: number;
    /** Read paths, used in turn. @default ["/dashboard", "/api/progress", "/login"] */
    readonly readPaths?: readonly string[];
    /** Stop early when this resolves (e.g. when an update finished). */
    readonly until?: Promise<unknown>;
    /** Handed the failures map at the start; it fills while the load runs (for a probe beside it). */
    readonly onFailures?: (live: Readonly<Record<string, number>>) => void;
    /** Over HTTPS, trusting only `ca`, asking for `servername` (port is then the HTTPS port). */
    readonly tls?: { readonly ca: string; readonly servername: string };
    /**
     * Browser behaviour (Node's http docs recommend it too): a request whose reused keep-alive
     * connection turns out closed before any answer byte (ECONNRESET, "socket hang up") is sent once
     * more on a new connection; such requests are counted in `resent`. Off: each is a failure.
     */
    readonly retryClosedKeepAlive?: boolean;
}

export interface LoadResult {
    readonly requests: number;
    readonly failed: number;
    /** Failures by status code or error message. */
    readonly failures: Record<string, number>;
    /** Wall-clock times (ms) of the failures, for lining them up with events. */
    readonly failureTimes: number[];
    /** write_ids whose write was acknowledged with 200. */
    readonly acknowledgedWrites: string[];
    /** When each acknowledged write got its answer (wall clock, ms), by write_id: to place a lost one. */
    readonly acknowledgedAt: ReadonlyMap<string, number>;
    /** Requests sent again after their idle keep-alive connection was closed (retryClosedKeepAlive). */
    readonly resent: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly seconds: number;
}

/**
 * A bounded mixed read/write load through nginx on 127.0.0.1 (count and time limited). A request
 * fails unless it gets the answer its page gives: 200 for a read, and for a write 200 with its own
 * write_id. The app (like the real Lernmanager) answers a refused or failed request with a 302 to
 * the Referer or / (and an error flash), so any redirect counts as a failure ("HTTP 302 -> /"), as
 * do socket errors, 4xx and 5xx. Writes carry the session's CSRF token (X-CSRFToken, as the page's
 * script sends it) and, like a browser, a Referer of the page they come from.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
    const start = Date.now();
    const maxRequests = opts.maxRequests ?? 200000;
    const writeShare = opts.writeShare ?? 0.3;
    const reads = opts.readPaths ?? ["/dashboard", "/api/progress", "/login"];
    let stop = false;
    void opts.until?.then(() => (stop = true));
    const timer = setTimeout(() => (stop = true), opts.durationMs);
    let requests = 0;
    let failed = 0;
    let resent = 0;
    const failures: Record<string, number> = {};
    opts.onFailures?.(failures);
    const failureTimes: number[] = [];
    const acknowledged: string[] = [];
    const acknowledgedAt = new Map<string, number>();
    const latencies: number[] = [];
    const tag = Math.random().toString(36).slice(2, 8);

    const worker = async (i: number) => {
        const agent = opts.tls
            ? new https.Agent({ keepAlive: true, maxSockets: 1, ca: opts.tls.ca, servername: opts.tls.servername })
            : new http.Agent({ keepAlive: true, maxSockets: 1 });
        const cookie = opts.cookies[i % opts.cookies.length];
        const token = csrfToken(cookie) ?? "";
        let n = 0;
        while (!stop && requests < maxRequests) {
            requests++;
            n++;
            const write = (n * 7919 + i) % 100 < writeShare * 100;
            const writeId = write ? `w-${tag}-${i}-${n}` : "";
            const t0 = process.hrtime.bigint();
            const session = { cookie, token };
            let outcome = await send(agent, opts.port, write, writeId, session, reads[n % reads.length], opts.tls);
            if (outcome.closedReused && opts.retryClosedKeepAlive) {
                resent++;
                outcome = await send(agent, opts.port, write, writeId, session, reads[n % reads.length], opts.tls);
            }
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
            if (outcome.ok) {
                if (write) {
                    acknowledged.push(writeId);
                    acknowledgedAt.set(writeId, Date.now());
                }
            } else {
                failed++;
                failureTimes.push(Date.now());
                failures[outcome.reason] = (failures[outcome.reason] ?? 0) + 1;
            }
        }
        agent.destroy();
    };
    await Promise.all(Array.from({ length: opts.connections }, (_, i) => worker(i)));
    clearTimeout(timer);
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))] ?? 0;
    return {
        requests,
        failed,
        failures,
        failureTimes,
        acknowledgedWrites: acknowledged,
        acknowledgedAt,
        resent,
        p50Ms: Math.round(pct(50) * 10) / 10,
        p99Ms: Math.round(pct(99) * 10) / 10,
        seconds: (Date.now() - start) / 1000,
    };
}

function send(
    agent: http.Agent,
    port: number,
    write: boolean,
    writeId: string,
    session: { cookie: string; token: string },
    readPath: string,
    tls?: LoadOptions["tls"],
): Promise<{ ok: boolean; reason: string; closedReused?: boolean }> {
    return new Promise((resolve) => {
        const body = write ? `write_id=${writeId}` : undefined;
        // What a browser sends: Host with the port it used (unless 443), and over HTTPS a Referer of
        // the same origin, which the app's CSRF check requires.
        const host = tls ? (port === 443 ? tls.servername : `${tls.servername}:${port}`) : `127.0.0.1:${port}`;
        const origin = `${tls ? "https" : "http"}://${host}`;
        const req = (tls ? https : http).request(
            {
                host: "127.0.0.1",
                port,
                agent,
                ...(tls ? { servername: tls.servername, ca: tls.ca } : {}),
                method: write ? "POST" : "GET",
                path: write ? `/tasks/${1 + (writeId.length % 12)}/done` : readPath,
                timeout: 30000,
                headers: {
                    Host: host,
                    Cookie: session.cookie,
                    ...(body
                        ? {
                              "Content-Type": "application/x-www-form-urlencoded",
                              "Content-Length": Buffer.byteLength(body),
                              "X-CSRFToken": session.token,
                              Referer: `${origin}/dashboard`,
                          }
                        : {}),
                },
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => {
                    const status = res.statusCode ?? 0;
                    let ok = status === 200;
                    let reason = `HTTP ${status}`;
                    if (status === 503 && Buffer.concat(chunks).toString().includes(UNAVAILABLE_PAGE_TITLE)) {
                        reason = FRIENDLY_503;
                    }
                    if (status >= 300 && status < 400) {
                        // An error redirect (or a lost session: 302 -> /login) is no answer of the page.
                        const to = res.headers.location ? new URL(res.headers.location, "http://x").pathname : "";
                        reason = `HTTP ${status} -> ${to}`;
                    }
                    if (ok && write) {
                        try {
                            ok = JSON.parse(Buffer.concat(chunks).toString()).write_id === writeId;
                        } catch {
                            ok = false;
                        }
                        if (!ok) reason = "HTTP 200 without its write_id";
                    }
                    resolve({ ok, reason: ok ? "" : reason });
                });
                res.on("error", (e) => resolve({ ok: false, reason: e.message }));
            },
        );
        req.on("timeout", () => req.destroy(new Error("client timeout")));
        let answered = false;
        req.on("response", () => (answered = true));
        req.on("error", (e) => {
            const code = (e as NodeJS.ErrnoException).code ?? e.message;
            const closed = code === "ECONNRESET" || code === "EPIPE" || /socket hang up/.test(e.message);
            resolve({ ok: false, reason: code, closedReused: closed && req.reusedSocket && !answered });
        });
        if (body) req.write(body);
        req.end();
    });
}

/**
 * The acknowledged writes the database does not hold. A lookup the app could not answer (it turns
 * "database is locked" into a redirect, as the real app does) is asked again, up to 3 times; "not
 * found" is a lost write at once, and so is a lookup that never gets an answer (listed with the
 * status it last got).
 */
export async function lostWrites(port: number, acknowledged: readonly string[]): Promise<string[]> {
    const lost: string[] = [];
    for (const id of acknowledged) {
        let status = 0;
        for (let attempt = 0; attempt < 3 && status !== 200 && status !== 404; attempt++) {
            if (attempt) await new Promise((r) => setTimeout(r, 500));
            status = (await request(port, `/api/writes/${id}`)).status;
        }
        if (status !== 200) lost.push(status === 404 ? id : `${id} (lookup answered ${status})`);
    }
    return lost;
}
