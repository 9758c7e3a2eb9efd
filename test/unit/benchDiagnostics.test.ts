/**
 * Where the stack's time goes (bench/lib/diagnostics.ts): nginx's and gunicorn's access log lines,
 * in the formats render/nginx.ts and render/gunicorn.ts give them, joined by nginx's request id.
 */
import { parseAppLine, parseNginxLine, summarizeLogs } from "../../bench/lib/diagnostics";
import { renderGunicornConf } from "../../render/gunicorn";
import { renderNginxConf } from "../../render/nginx";
import { TEST_NGINX_SETTINGS } from "../support/nginx";

const nginxLine = (path: string, rt: number, urt: number | "-", rid?: string) =>
    `172.17.0.1 - - [07/Dec/2026:04:00:00 +0000] "GET ${path} HTTP/1.1" 200 512 "-" "wrk" ` +
    `rt=${rt.toFixed(3)} urt=${urt === "-" ? "-" : urt.toFixed(3)}` +
    (rid ? ` rid=${rid} uct=0.000 uht=${urt === "-" ? "-" : urt.toFixed(3)}` : "");
const appLine = (path: string, us: number, pid: number, rid?: string) =>
    `10.0.0.2 - - [07/Dec/2026:04:00:00 +0000] "GET ${path} HTTP/1.0" 200 512 "-" "wrk" rt_us=${us} pid=<${pid}> rid=${rid ?? "-"}`;

test("the line formats it parses are the ones the renderers write", () => {
    const nginx = renderNginxConf({ ...TEST_NGINX_SETTINGS, traceRequests: true });
    expect(nginx).toContain("rt=$request_time urt=$upstream_response_time '");
    expect(nginx).toContain("'rid=$request_id uct=$upstream_connect_time uht=$upstream_header_time';");
    const gunicorn = renderGunicornConf({ workers: 4, threads: 2, accessLog: true });
    expect(gunicorn).toContain("rt_us=%(D)s pid=%(p)s rid=%({x-request-id}i)s");
});

test("parses both logs' lines, with and without request ids", () => {
    expect(parseNginxLine(nginxLine("/login", 0.012, 0.01, "0af3"))).toEqual({
        key: "GET /login",
        rt: 12,
        urt: 10,
        rid: "0af3",
    });
    expect(parseNginxLine(nginxLine("/static/css/app.css", 0.001, "-"))).toEqual({
        key: "GET /static/css/app.css",
        rt: 1,
    });
    expect(parseAppLine(appLine("/tasks/7/done", 2500, 41, "0af3"))).toEqual({
        key: "GET /tasks/N/done",
        ms: 2.5,
        pid: "41",
        rid: "0af3",
    });
    expect(parseAppLine(appLine("/login", 2500, 41))).toEqual({ key: "GET /login", ms: 2.5, pid: "41" });
    expect(parseNginxLine("nginx: worker process started")).toBeUndefined();
});

test("splits each request into nginx, the wait before the app, and the app; the slowest 1 % shows where the tail comes from", () => {
    const nginx: string[] = [];
    const app: string[] = [];
    for (let i = 0; i < 200; i++) {
        const rid = i.toString(16).padStart(8, "0");
        // 198 requests: 1 ms in nginx, 1 ms waiting, 8 ms in the app; the 2 slowest waited 90 ms.
        const wait = i >= 198 ? 90 : 1;
        const appMs = 8;
        nginx.push(nginxLine("/login", (1 + wait + appMs) / 1000, (wait + appMs) / 1000, rid));
        app.push(appLine("/login", appMs * 1000, i % 4 === 0 ? 11 : 12, rid));
    }
    const out = summarizeLogs(nginx, app)["GET /login"];
    expect(out.count).toBe(200);
    expect(out.split!.joined).toBe(200);
    expect(out.split!.app_ms).toEqual({ p50: 8, p99: 8 });
    expect(out.split!.nginx_ms.p50).toBeCloseTo(1, 5);
    expect(out.split!.wait_ms.p50).toBeCloseTo(1, 5);
    expect(out.split!.slowest1pct).toEqual({ rt_ms: 99, nginx_ms: 1, wait_ms: 90, app_ms: 8 });
    expect(out.perWorker).toEqual({ "11": 50, "12": 150 });
});

test("without request ids there is no split; a path with fewer than 50 requests is left out", () => {
    const nginx = Array.from({ length: 60 }, () => nginxLine("/dashboard", 0.01, 0.009));
    nginx.push(...Array.from({ length: 10 }, () => nginxLine("/rare", 0.01, 0.009)));
    const out = summarizeLogs(nginx, []);
    expect(Object.keys(out)).toEqual(["GET /dashboard"]);
    expect(out["GET /dashboard"].split).toBeUndefined();
    expect(out["GET /dashboard"].urt_ms).toEqual({ p50: 9, p99: 9 });
});
