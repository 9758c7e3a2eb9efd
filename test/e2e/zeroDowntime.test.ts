/**
 * Zero failed requests while the app is replaced by a new image the way Pulumi does it
 * (create the new container, wait until healthy, delete the old one with its grace period),
 * under 32 connections of mixed reads and writes through nginx (issue 6).
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { login, request } from "../support/http";
import { runLoad } from "../support/load";
import { copyOfDemoApp, liveStack, LiveStack, redeclare } from "../support/stack";
import { recordFigure } from "../support/figures";

jest.setTimeout(600000);

const NO_LOGIN_LIMIT = { "lernmanager:loginRatePerMinute": "0" };
let s: LiveStack;
const app = copyOfDemoApp();
beforeAll(async () => {
    // 30 simulated students share one client address here: no login rate limit for this stack.
    s = await liveStack("e2e-zdt", NO_LOGIN_LIMIT);
});
afterAll(async () => {
    await s?.realization.teardown();
    app.remove();
});

test("an app update under 32 connections of reads and writes: 0 failed requests, 0 lost writes", async () => {
    const cookies = await Promise.all(
        Array.from({ length: 30 }, (_, i) => login(s.port, `student${String(i + 1).padStart(2, "0")}`, "lernen")),
    );
    fs.appendFileSync(path.join(app.dir, "app.py"), `\n# release ${randomBytes(4).toString("hex")}\n`);
    const next = await redeclare(s, { "lernmanager:appSource": app.dir });
    const before = (await request(s.port, "/healthz")).json().version;

    let updateSeconds = 0;
    const update = (async () => {
        await new Promise((r) => setTimeout(r, 2000)); // load is running before the update starts
        const t0 = Date.now();
        const replaced = await s.realization.update(next.registrations);
        updateSeconds = (Date.now() - t0) / 1000;
        await new Promise((r) => setTimeout(r, 3000)); // and keeps running after it
        return replaced;
    })();
    const load = await runLoad({ port: s.port, connections: 32, durationMs: 240000, cookies, until: update });
    const replaced = await update;
    expect(replaced).toEqual(["lernmanager-e2e-zdt-app"]);
    expect((await request(s.port, "/healthz")).json().version).not.toBe(before);

    // Every acknowledged write is in the database.
    const missing: string[] = [];
    for (const id of load.acknowledgedWrites) {
        if ((await request(s.port, `/api/writes/${id}`)).status !== 200) missing.push(id);
    }
    console.log(
        `zero-downtime update: ${load.requests} requests in ${load.seconds.toFixed(1)} s (update ${updateSeconds.toFixed(1)} s), ` +
            `${load.failed} failed ${JSON.stringify(load.failures)}, ${load.acknowledgedWrites.length} writes acknowledged, ${missing.length} missing, p99 ${load.p99Ms} ms`,
    );
    recordFigure("zeroDowntimeUpdate", {
        requests: load.requests,
        failedRequests: load.failed,
        failures: load.failures,
        acknowledgedWrites: load.acknowledgedWrites.length,
        lostWrites: missing.length,
        updateSeconds,
        p50Ms: load.p50Ms,
        p99Ms: load.p99Ms,
    });
    // What nginx saw go wrong with the app during the update (shown only when a request failed).
    if (load.failed > 0) {
        const problems = (await s.logs(s.nginx())).split("\n").filter((l) => /\[(error|warn)\]|" 50[234] /.test(l));
        console.log(`nginx during the update:\n${problems.slice(-40).join("\n")}`);
    }
    expect(load.requests).toBeGreaterThan(500);
    expect(load.acknowledgedWrites.length).toBeGreaterThan(100);
    expect(missing).toEqual([]);
    expect(load.failures).toEqual({});
});
