import * as http from "http";
import * as https from "https";

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
    /** Requests sent again after their idle keep-alive connection was closed (retryClosedKeepAlive). */
    readonly resent: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly seconds: number;
}

/**
 * A bounded mixed read/write load through nginx on 127.0.0.1 (count and time limited). A request
 * fails when it gets no 2xx/3xx answer (socket error, 5xx, 4xx).
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
    const failureTimes: number[] = [];
    const acknowledged: string[] = [];
    const latencies: number[] = [];
    const tag = Math.random().toString(36).slice(2, 8);

    const worker = async (i: number) => {
        const agent = opts.tls
            ? new https.Agent({ keepAlive: true, maxSockets: 1, ca: opts.tls.ca, servername: opts.tls.servername })
            : new http.Agent({ keepAlive: true, maxSockets: 1 });
        const cookie = opts.cookies[i % opts.cookies.length];
        let n = 0;
        while (!stop && requests < maxRequests) {
            requests++;
            n++;
            const write = (n * 7919 + i) % 100 < writeShare * 100;
            const writeId = write ? `w-${tag}-${i}-${n}` : "";
            const t0 = process.hrtime.bigint();
            let outcome = await send(agent, opts.port, write, writeId, cookie, reads[n % reads.length], opts.tls);
            if (outcome.closedReused && opts.retryClosedKeepAlive) {
                resent++;
                outcome = await send(agent, opts.port, write, writeId, cookie, reads[n % reads.length], opts.tls);
            }
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
            if (outcome.ok) {
                if (write) acknowledged.push(writeId);
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
    cookie: string,
    readPath: string,
    tls?: LoadOptions["tls"],
): Promise<{ ok: boolean; reason: string; closedReused?: boolean }> {
    return new Promise((resolve) => {
        const body = write ? `write_id=${writeId}` : undefined;
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
                    ...(tls ? { Host: tls.servername } : {}),
                    Cookie: cookie,
                    ...(body
                        ? {
                              "Content-Type": "application/x-www-form-urlencoded",
                              "Content-Length": Buffer.byteLength(body),
                          }
                        : {}),
                },
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => {
                    const status = res.statusCode ?? 0;
                    let ok = status >= 200 && status < 400;
                    if (ok && write) {
                        try {
                            ok = JSON.parse(Buffer.concat(chunks).toString()).write_id === writeId;
                        } catch {
                            ok = false;
                        }
                    }
                    resolve({ ok, reason: ok ? "" : `HTTP ${status}` });
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
