/**
 * nginx's keep-alive pool to gunicorn with a queue per worker (`appQueue: per-worker`; nginx >= 1.27.3,
 * the test nginx image is Debian sid's):
 * connections are reused, and the pooled connections of a worker or a container that stops end in
 * a way nginx retries, with POSTs in flight.
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { UPSTREAM_POOL } from "../../render/upstream";
import { recordFigure } from "../support/figures";
import { login, request } from "../support/http";
import { lostWrites, runLoad } from "../support/load";
import { containerLogs, copyOfDemoApp, gunicornProcesses, liveStack, LiveStack, redeclare } from "../support/stack";
import { explainLostWrites, noteAcknowledgedWrites } from "../support/writeTrail";

jest.setTimeout(600000);

let s: LiveStack;
let cookies: string[];
const app = copyOfDemoApp();
const figure = (name: string, data: Record<string, unknown>) => {
    console.log(`${name}: ${JSON.stringify(data)}`);
    recordFigure(name, data);
};

beforeAll(async () => {
    // The keep-alive pool is the per-worker queue's form (the default, one queue for all workers, has
    // a connection per request: appQueue.test.ts). The app copy notes the writes it acknowledges.
    noteAcknowledgedWrites(app.dir);
    s = await liveStack("e2e-perf-pool", {
        "lernmanager:loginRatePerMinute": "0",
        "lernmanager:appSource": app.dir,
        "lernmanager:appQueue": "per-worker",
    });
    cookies = await Promise.all(
        Array.from({ length: 30 }, (_, i) => login(s.port, `student${String(i + 1).padStart(2, "0")}`, "lernen")),
    );
});
afterAll(async () => {
    await s?.realization.teardown();
    app.remove();
});

/** Connections the app container's kernel has accepted so far (Tcp PassiveOpens of its network namespace). */
async function acceptedConnections(): Promise<number> {
    const { output } = await s.exec(s.app(), ["cat", "/proc/net/snmp"]);
    const [names, values] = output.split("\n").filter((l) => l.startsWith("Tcp:"));
    return Number(values.split(/\s+/)[names.split(/\s+/).indexOf("PassiveOpens")]);
}

test("the nginx image chose the pooled form for its nginx (>= 1.27.3)", async () => {
    const form = await s.exec(s.nginx(), ["cat", "/etc/nginx/lernmanager/upstream-form"]);
    expect(form.output.trim()).toBe("pooled");
    const conf = await s.exec(s.nginx(), ["cat", "/etc/nginx/lernmanager.conf"]);
    expect(conf.output).toContain("server app:8000 resolve max_fails=0;");
    const version = await s.exec(s.nginx(), ["nginx", "-v"]);
    const [major, minor, patch] = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(version.output)!.slice(1).map(Number);
    expect(major * 1e6 + minor * 1e3 + patch).toBeGreaterThanOrEqual(1027003);
});

test("nginx reuses its connections to gunicorn: far fewer connections than requests", async () => {
    const before = await acceptedConnections();
    const load = await runLoad({ port: s.port, connections: 16, durationMs: 8000, maxRequests: 3000, cookies });
    const opened = (await acceptedConnections()) - before;
    figure("pooledConnections", { requests: load.requests, upstreamConnectionsOpened: opened, p99Ms: load.p99Ms });
    expect(load.failures).toEqual({});
    expect(load.requests).toBeGreaterThan(300);
    // At most a pool per nginx worker (and the health checks' few): nothing like one per request.
    expect(opened).toBeLessThan(load.requests / 5);
});

test("a worker restarted (SIGTERM) under POST-heavy load with pooled connections: 0 failed", async () => {
    const restart = (async () => {
        await new Promise((r) => setTimeout(r, 1500));
        const { workers } = await gunicornProcesses(s.app());
        await s.exec(s.app(), ["python3", "-c", `import os, signal; os.kill(${workers[0].pid}, signal.SIGTERM)`]);
        return workers[0].pid;
    })();
    const load = await runLoad({ port: s.port, connections: 16, durationMs: 9000, cookies, writeShare: 0.7 });
    const restarted = await restart;
    const logs = (await containerLogs(s.app())).split("\n").filter((l) => /idle keep-alive connections/.test(l));
    figure("pooledWorkerRestart", {
        requests: load.requests,
        writes: load.acknowledgedWrites.length,
        failed: load.failed,
        failures: load.failures,
        stopLog: logs,
    });
    expect((await gunicornProcesses(s.app())).workers.map((w) => w.pid)).not.toContain(restarted);
    expect(load.acknowledgedWrites.length).toBeGreaterThan(100);
    expect(load.failures).toEqual({});
});

test("an app update with POSTs in flight over pooled connections: 0 failed, 0 lost writes", async () => {
    fs.appendFileSync(path.join(app.dir, "app.py"), `\n# release ${randomBytes(4).toString("hex")}\n`);
    const next = await redeclare(s, { "lernmanager:appSource": app.dir });
    const before = (await request(s.port, "/healthz")).json().version;
    const moments: Record<string, number> = {};
    const update = (async () => {
        await new Promise((r) => setTimeout(r, 2000));
        // The pool is full of connections to the old container when the new one starts.
        moments["the update started"] = Date.now();
        const replaced = await s.realization.update(next.registrations);
        moments["it ended"] = Date.now();
        await new Promise((r) => setTimeout(r, UPSTREAM_POOL.idleTimeoutSeconds * 1000));
        return replaced;
    })();
    const load = await runLoad({
        port: s.port,
        connections: 24,
        durationMs: 240000,
        cookies,
        writeShare: 0.7,
        until: update,
    });
    const replaced = await update;
    // The backup container runs the app image too: it follows the app.
    expect(replaced).toEqual(["lernmanager-e2e-perf-pool-app", "lernmanager-e2e-perf-pool-backups"]);
    expect((await request(s.port, "/healthz")).json().version).not.toBe(before);
    const missing = await lostWrites(s.port, load.acknowledgedWrites);
    if (missing.length) console.log(await explainLostWrites(s, missing, load.acknowledgedAt, moments));
    figure("pooledUpdateWithPosts", {
        requests: load.requests,
        writes: load.acknowledgedWrites.length,
        lostWrites: missing.length,
        failed: load.failed,
        failures: load.failures,
        p99Ms: load.p99Ms,
    });
    if (load.failed > 0) {
        const lines = (await s.logs(s.nginx())).split("\n");
        const errors = lines.filter((l) => /\[(error|warn)\]/.test(l));
        const failed = lines.filter((l) => /" 50[234] /.test(l));
        console.log(`nginx during the update:\n${[...errors.slice(0, 30), ...failed.slice(0, 10)].join("\n")}`);
    }
    expect(load.acknowledgedWrites.length).toBeGreaterThan(300);
    expect(missing).toEqual([]);
    expect(load.failures).toEqual({});
});
