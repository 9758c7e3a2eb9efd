/**
 * The eight workloads on the demo app, and a check that each one's request gets the intended answer
 * before it is measured (a wrong cookie would otherwise measure a redirect, not the dashboard).
 */
import { csrfHeaders, originOf, request } from "../../test/support/http";
import { WorkloadName } from "./options";
import { WrkMode } from "./wrk";

/** Every request carries what a browser sends: nginx compresses for it, gunicorn and waitress do not. */
export const BROWSER_HEADERS = { "Accept-Encoding": "gzip, deflate" } as const;

export type WorkloadKind = "dynamic" | "static" | "pdf";

export interface Workload {
    readonly name: WorkloadName;
    readonly kind: WorkloadKind;
    /** What is requested (in write mode: the read; writes are POST /tasks/<id>/done). */
    readonly path: string;
    readonly mode: WrkMode;
    readonly describe: string;
    /** Throws unless one request (with the first student's cookie) gets the expected answer. */
    preflight(port: number, cookie: string): Promise<void>;
}

/** One write in this many requests of the `write` workload. */
export const WRITE_EVERY = 4;

async function expectAnswer(
    port: number,
    path: string,
    opts: { method?: string; cookie?: string; body?: string; type: RegExp; cache?: string },
): Promise<void> {
    const headers: Record<string, string> = { ...BROWSER_HEADERS };
    if (opts.cookie) headers.Cookie = opts.cookie;
    if (opts.body) {
        headers["Content-Type"] = "application/x-www-form-urlencoded";
        // A POST needs the session's CSRF token and (over HTTPS) a same-origin Referer, as from the page.
        if (opts.cookie) Object.assign(headers, csrfHeaders(opts.cookie), { Referer: `${originOf(port)}/dashboard` });
    }
    const res = await request(port, path, { method: opts.method, headers, body: opts.body, timeoutMs: 60000 });
    const type = String(res.headers["content-type"] ?? "");
    if (res.status !== 200 || !opts.type.test(type)) {
        throw new Error(`preflight ${opts.method ?? "GET"} ${path}: ${res.status} ${type}, expected 200 ${opts.type}`);
    }
    if (opts.cache && res.headers["x-report-cache"] !== opts.cache) {
        throw new Error(
            `preflight ${path}: X-Report-Cache ${String(res.headers["x-report-cache"])}, expected ${opts.cache}`,
        );
    }
}

export const WORKLOAD_DEFS: Record<WorkloadName, Workload> = {
    login: {
        name: "login",
        kind: "dynamic",
        path: "/login",
        mode: "plain",
        describe: "GET /login (template, no session)",
        preflight: (port) => expectAnswer(port, "/login", { type: /text\/html/ }),
    },
    dashboard: {
        name: "dashboard",
        kind: "dynamic",
        path: "/dashboard",
        mode: "cookie",
        describe: "GET /dashboard (4.7 KB), one student's session cookie per connection (student01..30)",
        preflight: (port, cookie) => expectAnswer(port, "/dashboard", { cookie, type: /text\/html/ }),
    },
    topic: {
        name: "topic",
        kind: "dynamic",
        path: "/topics/1",
        mode: "cookie",
        describe: "GET /topics/1 (35 KB page: Markdown rendered per request), cookie per connection",
        preflight: (port, cookie) => expectAnswer(port, "/topics/1", { cookie, type: /text\/html/ }),
    },
    write: {
        name: "write",
        kind: "dynamic",
        path: "/api/progress",
        mode: "write",
        describe: `POST /tasks/<id>/done (SQLite write) as 1 of ${WRITE_EVERY} requests, else GET /api/progress; cookie per connection`,
        async preflight(port, cookie) {
            const body = "write_id=bench-preflight";
            await expectAnswer(port, "/tasks/1/done", { method: "POST", cookie, body, type: /application\/json/ });
            await expectAnswer(port, "/api/progress", { cookie, type: /application\/json/ });
        },
    },
    css: {
        name: "css",
        kind: "static",
        path: "/static/css/app.css",
        mode: "plain",
        describe: "GET /static/css/app.css (57 KB)",
        preflight: (port) => expectAnswer(port, "/static/css/app.css", { type: /text\/css/ }),
    },
    js: {
        name: "js",
        kind: "static",
        path: "/static/js/app.js",
        mode: "plain",
        describe: "GET /static/js/app.js (61 KB)",
        preflight: (port) => expectAnswer(port, "/static/js/app.js", { type: /javascript/ }),
    },
    pdf: {
        name: "pdf",
        kind: "pdf",
        path: "/report/class/1.pdf?fresh=1",
        mode: "plain",
        describe: "GET /report/class/1.pdf?fresh=1 (reportlab builds it every time)",
        preflight: (port) =>
            expectAnswer(port, "/report/class/1.pdf?fresh=1", { type: /application\/pdf/, cache: "miss" }),
    },
    "pdf-cached": {
        name: "pdf-cached",
        kind: "pdf",
        path: "/report/class/1.pdf",
        mode: "plain",
        describe: "GET /report/class/1.pdf from the app's report cache (filled by the warm-up)",
        async preflight(port) {
            await request(port, "/report/class/1.pdf", { timeoutMs: 60000 });
            await expectAnswer(port, "/report/class/1.pdf", { type: /application\/pdf/, cache: "hit" });
        },
    },
};
