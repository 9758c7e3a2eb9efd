/**
 * Where the time goes in the stack, from its own logs: nginx's access log has the whole request
 * time (rt) and the time spent waiting for gunicorn (urt, $upstream_response_time); gunicorn's
 * access log, when the stack turns it on (config appAccessLog, off by default), has the time the app
 * took (rt_us). For each path: count, median and p99 of each.
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
}

function quantiles(values: number[]): { p50: number; p99: number } {
    const s = [...values].sort((a, b) => a - b);
    const q = (p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))];
    return { p50: Math.round(q(0.5) * 100) / 100, p99: Math.round(q(0.99) * 100) / 100 };
}

/** `POST /tasks/7/done` -> `POST /tasks/N/done`; other paths as they are. */
function pathKey(method: string, url: string): string {
    return `${method} ${url.replace(/\/tasks\/\d+\//, "/tasks/N/")}`;
}

export async function stackLogSummary(
    nginx: Docker.Container,
    app: Docker.Container,
): Promise<Record<string, PathTimes>> {
    const nginxRe = /"(GET|POST) (\S+) HTTP\/[\d.]+" (\d{3}) .* rt=([\d.]+) urt=([\d.]+|-)/;
    const appRe = /"(GET|POST) (\S+) HTTP\/[\d.]+" (\d{3}) .* rt_us=(\d+)/;
    const rt = new Map<string, number[]>();
    const urt = new Map<string, number[]>();
    const appTimes = new Map<string, number[]>();
    const push = (m: Map<string, number[]>, k: string, v: number) => {
        const list = m.get(k);
        if (list) list.push(v);
        else m.set(k, [v]);
    };
    for (const line of (await containerLogs(nginx)).split("\n")) {
        const m = nginxRe.exec(line);
        if (!m) continue;
        const key = pathKey(m[1], m[2]);
        push(rt, key, Number(m[4]) * 1000);
        if (m[5] !== "-") push(urt, key, Number(m[5]) * 1000);
    }
    for (const line of (await containerLogs(app)).split("\n")) {
        const m = appRe.exec(line);
        if (m) push(appTimes, pathKey(m[1], m[2]), Number(m[4]) / 1000);
    }
    const out: Record<string, PathTimes> = {};
    for (const [key, values] of rt) {
        if (values.length < 50) continue;
        out[key] = {
            count: values.length,
            rt_ms: quantiles(values),
            ...(urt.get(key)?.length ? { urt_ms: quantiles(urt.get(key)!) } : {}),
            ...(appTimes.get(key)?.length ? { app_ms: quantiles(appTimes.get(key)!) } : {}),
        };
    }
    return out;
}
