/**
 * One queue for all gunicorn workers (`appQueue: shared`, the default): nginx opens a connection per
 * request and a worker accepts one only while a thread of it is free, so a request waits for the
 * first free thread anywhere, never behind a worker whose threads are all busy while another idles.
 * The disaster it exists for: a few slow requests (a PDF report, a grading call) hold some workers,
 * and a class's clicks that land on those workers wait for them.
 */
import * as fs from "fs";
import * as path from "path";
import { recordFigure } from "../support/figures";
import { request } from "../support/http";
import { copyOfDemoApp, liveStack, LiveStack } from "../support/stack";

jest.setTimeout(600000);

const SLOW_SECONDS = 4;
const WORKERS = 4;
const THREADS = 2;

let s: LiveStack;
const app = copyOfDemoApp();
// A page that holds its thread for a while without using the CPU, as an outbound call does.
fs.appendFileSync(
    path.join(app.dir, "app.py"),
    `
import time as _lm_test_time
from flask import request as _lm_test_request


@app.get("/test-slow")
def _lm_test_slow():
    _lm_test_time.sleep(float(_lm_test_request.args.get("s", "1")))
    return "slow page done\\n"
`,
);

beforeAll(async () => {
    s = await liveStack("e2e-queue", {
        "lernmanager:loginRatePerMinute": "0",
        "lernmanager:appSource": app.dir,
        "lernmanager:workers": String(WORKERS),
        "lernmanager:threads": String(THREADS),
    });
});
afterAll(async () => {
    await s?.realization.teardown();
    app.remove();
});

test("the default: nginx opens a connection per request and a worker accepts only while a thread of it is free", async () => {
    const form = await s.exec(s.nginx(), ["cat", "/etc/nginx/lernmanager/upstream-form"]);
    expect(form.output.trim()).toBe("per-request");
    const conf = (await s.exec(s.nginx(), ["cat", "/etc/nginx/lernmanager.conf"])).output;
    expect(conf).toContain("proxy_pass $lm_app;");
    expect(conf).not.toMatch(/^\s*upstream lm_app \{/m);
    // The nginx is one that could pool (the test image's is >= 1.27.3): the queue chose this form.
    const version = (await s.exec(s.nginx(), ["nginx", "-v"])).output;
    const [major, minor] = /nginx\/(\d+)\.(\d+)\./.exec(version)!.slice(1).map(Number);
    expect(major * 1000 + minor).toBeGreaterThanOrEqual(1027);
    const gunicorn = (await s.exec(s.app(), ["cat", "/opt/lernmanager/gunicorn.conf.py"])).output;
    expect(gunicorn).toMatch(new RegExp(`^worker_connections = ${THREADS}$`, "m"));
    expect(gunicorn).toMatch(/^keepalive = 0$/m);
});

test("slow requests hold 6 of the 8 threads: every other request is answered at once, none waits behind them", async () => {
    const held = WORKERS * THREADS - 2;
    const slow = Array.from({ length: held }, async () => {
        const started = Date.now();
        const res = await request(s.port, `/test-slow?s=${SLOW_SECONDS}`, { timeoutMs: 30000 });
        return { status: res.status, ms: Date.now() - started };
    });
    // Let the slow ones reach their threads first.
    await new Promise((r) => setTimeout(r, 1000));
    const fast: number[] = [];
    const statuses: number[] = [];
    const probeUntil = Date.now() + (SLOW_SECONDS - 1.5) * 1000;
    // Two at a time (the free threads), for as long as the slow ones surely still run.
    await Promise.all(
        [0, 1].map(async () => {
            while (Date.now() < probeUntil) {
                const started = Date.now();
                const res = await request(s.port, "/login", { timeoutMs: 30000 });
                fast.push(Date.now() - started);
                statuses.push(res.status);
            }
        }),
    );
    const slowDone = await Promise.all(slow);
    const slowest = Math.max(...fast);
    recordFigure("sharedQueueBesideSlowRequests", {
        slowRequests: held,
        slowSeconds: SLOW_SECONDS,
        otherRequests: fast.length,
        otherSlowestMs: slowest,
        otherMedianMs: [...fast].sort((a, b) => a - b)[Math.floor(fast.length / 2)],
    });
    // The slow ones really held their threads for the whole probe.
    for (const r of slowDone) {
        expect(r.status).toBe(200);
        expect(r.ms).toBeGreaterThanOrEqual(SLOW_SECONDS * 1000);
    }
    expect(fast.length).toBeGreaterThan(10);
    expect(new Set(statuses)).toEqual(new Set([200]));
    // Behind a busy worker a request would wait seconds, until a slow one ends.
    expect(slowest).toBeLessThan(1500);
});
