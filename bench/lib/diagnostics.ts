/**
 * Where the time goes in the stack, from its own logs: nginx's access log has the whole request
 * time (rt) and the time spent waiting for gunicorn (urt, $upstream_response_time); gunicorn's
 * access log, when the stack turns it on (config appAccessLog, off by default), has the time the app
 * took (rt_us) and the worker. For each path: count, median and p99 of each; with nginx's request
 * ids (its traceRequests option) each request joined across the two logs.
 * A large urt with a small rt_us means requests queue for a free gunicorn thread (too little
 * capacity); rt close to urt means nginx itself adds little.
 */
import Docker from "dockerode";
import { containerLogs } from "../../test/support/stack";

export interface PathTimes {
    readonly count: number;
    readonly rt_ms: { p50: number; p99: number };
    readonly urt_ms?: { p50: number; p99: number };
    readonly app_ms?: { p50: number; p99: number };
    /**
     * With request ids on both sides (nginx traceRequests, gunicorn's access log): each request's time
     * split into nginx's own (rt - urt), the wait before the app ran (urt - app: the connection,
     * gunicorn's accept queue, a free thread, parsing) and the app's; p50/p99 of each, and their
     * means over the slowest 1 % of requests (by rt): where the tail comes from.
     */
    readonly split?: {
        readonly joined: number;
        readonly nginx_ms: { p50: number; p99: number };
        readonly wait_ms: { p50: number; p99: number };
        readonly app_ms: { p50: number; p99: number };
        readonly slowest1pct: { rt_ms: number; nginx_ms: number; wait_ms: number; app_ms: number };
    };
    /** Requests per gunicorn worker (pid) for this path, from gunicorn's access log: how evenly they spread. */
    readonly perWorker?: Record<string, number>;
}

function quantiles(values: number[]): { p50: number; p99: number } {
    const s = [...values].sort((a, b) => a - b);
    const q = (p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))];
    return { p50: round2(q(0.5)), p99: round2(q(0.99)) };
}

const round2 = (v: number) => Math.round(v * 100) / 100;
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

/** `POST /tasks/7/done` -> `POST /tasks/N/done`; other paths as they are. */
function pathKey(method: string, url: string): string {
    return `${method} ${url.replace(/\/tasks\/\d+\//, "/tasks/N/")}`;
}

interface NginxLine {
    readonly key: string;
    readonly rt: number;
    readonly urt?: number;
    readonly rid?: string;
}
interface AppLine {
    readonly key: string;
    readonly ms: number;
    readonly pid: string;
    readonly rid?: string;
}

const NGINX_RE = /"(GET|POST) (\S+) HTTP\/[\d.]+" (\d{3}) .* rt=([\d.]+) urt=([\d.]+|-)(?:.* rid=([0-9a-f]+))?/;
// gunicorn writes its worker's pid as `<1234>`, and `-` for a request without an id.
const APP_RE = /"(GET|POST) (\S+) HTTP\/[\d.]+" (\d{3}) .* rt_us=(\d+)(?: pid=<?(\d+)>?)?(?: rid=([0-9a-f]+))?/;

export function parseNginxLine(line: string): NginxLine | undefined {
    const m = NGINX_RE.exec(line);
    if (!m) return undefined;
    return {
        key: pathKey(m[1], m[2]),
        rt: Number(m[4]) * 1000,
        ...(m[5] !== "-" ? { urt: Number(m[5]) * 1000 } : {}),
        ...(m[6] ? { rid: m[6] } : {}),
    };
}

export function parseAppLine(line: string): AppLine | undefined {
    const m = APP_RE.exec(line);
    if (!m) return undefined;
    return { key: pathKey(m[1], m[2]), ms: Number(m[4]) / 1000, pid: m[5] ?? "?", ...(m[6] ? { rid: m[6] } : {}) };
}

/** The per-path summary of both logs' lines (paths with fewer than 50 nginx lines are left out). */
export function summarizeLogs(nginxLines: string[], appLines: string[]): Record<string, PathTimes> {
    const nginx = nginxLines.map(parseNginxLine).filter((x): x is NginxLine => !!x);
    const app = appLines.map(parseAppLine).filter((x): x is AppLine => !!x);
    const appById = new Map(app.filter((a) => a.rid).map((a) => [a.rid!, a]));
    const out: Record<string, PathTimes> = {};
    for (const key of [...new Set(nginx.map((n) => n.key))]) {
        const lines = nginx.filter((n) => n.key === key);
        if (lines.length < 50) continue;
        const urt = lines.filter((n) => n.urt !== undefined).map((n) => n.urt!);
        const appTimes = app.filter((a) => a.key === key);
        const joined = lines
            .filter((n) => n.rid && n.urt !== undefined && appById.has(n.rid))
            .map((n) => {
                const a = appById.get(n.rid!)!;
                return { rt: n.rt, nginx: n.rt - n.urt!, wait: Math.max(0, n.urt! - a.ms), app: a.ms };
            });
        let split: PathTimes["split"];
        if (joined.length >= 50) {
            const cut = quantiles(joined.map((j) => j.rt)).p99;
            const slow = joined.filter((j) => j.rt >= cut);
            split = {
                joined: joined.length,
                nginx_ms: quantiles(joined.map((j) => j.nginx)),
                wait_ms: quantiles(joined.map((j) => j.wait)),
                app_ms: quantiles(joined.map((j) => j.app)),
                slowest1pct: {
                    rt_ms: round2(mean(slow.map((j) => j.rt))),
                    nginx_ms: round2(mean(slow.map((j) => j.nginx))),
                    wait_ms: round2(mean(slow.map((j) => j.wait))),
                    app_ms: round2(mean(slow.map((j) => j.app))),
                },
            };
        }
        const perWorker: Record<string, number> = {};
        for (const a of appTimes) perWorker[a.pid] = (perWorker[a.pid] ?? 0) + 1;
        out[key] = {
            count: lines.length,
            rt_ms: quantiles(lines.map((n) => n.rt)),
            ...(urt.length ? { urt_ms: quantiles(urt) } : {}),
            ...(appTimes.length ? { app_ms: quantiles(appTimes.map((a) => a.ms)) } : {}),
            ...(split ? { split } : {}),
            ...(appTimes.length ? { perWorker } : {}),
        };
    }
    return out;
}

export async function stackLogSummary(
    nginx: Docker.Container,
    app: Docker.Container,
): Promise<Record<string, PathTimes>> {
    return summarizeLogs((await containerLogs(nginx)).split("\n"), (await containerLogs(app)).split("\n"));
}
