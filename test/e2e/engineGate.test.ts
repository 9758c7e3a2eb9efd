/**
 * A new app version that cannot become healthy never takes a request (round three, item 4), on the
 * real Docker engine under load, played by the stand-in engine (test/support/lifecycle.ts: init
 * errors and pending deletes as the real engine keeps them). The deploy's candidate step runs the new
 * version without the `app` alias first (render/deploy.ts candidateScript): it fails the deploy
 * with the app's last log lines, the app container is not replaced, the old version serves every
 * request; the next `up` with a good version proceeds as usual. Stack e2e-eng-gate
 * (LM_E2E_STALE='^e2e-eng-').
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { freePort, login, request } from "../support/http";
import { LifecycleEngine, mockDigest, UpFailed } from "../support/lifecycle";
import { runLoad } from "../support/load";
import { runProgram, testConfig } from "../support/mocks";
import { docker } from "../support/realize";
import { containerLogs, copyOfDemoApp } from "../support/stack";

jest.setTimeout(900000);

const stack = "e2e-eng-gate";
const log = (l: string) => process.stdout.write(`    [${stack}] ${l}\n`);
const engine = new LifecycleEngine({ log });
const app = copyOfDemoApp();
const key = randomBytes(32).toString("hex");
let config: Record<string, string>;
const up = async () =>
    engine.up((await runProgram(testConfig(config), { stack, secretKey: key, imageId: mockDigest })).registrations);
const appContainer = () => docker.getContainer(engine.state.get(`lernmanager-${stack}-app`)!.id);
const nginx = () => docker.getContainer(engine.state.get(`lernmanager-${stack}-nginx`)!.id);
/** Request lines of an access log, health checks left out. */
const requestLines = (text: string) =>
    text.split("\n").filter((l) => /" \d{3} /.test(l) && !l.includes("lernmanager-healthcheck"));

/**
 * Only inside gunicorn (the migrate step's preflight does not see it): the init hook and every page
 * work, /healthz's read-only database check (an sqlite URI) fails. The container keeps running,
 * unhealthy: under the alias `app`, nginx would send it requests.
 */
const BROKEN = `
import sys as _sys
if "gunicorn" in _sys.argv[0]:
    import sqlite3 as _sqlite3

    _connect = _sqlite3.connect

    def _broken(*args, **kwargs):
        if kwargs.get("uri"):
            raise _sqlite3.OperationalError("broken release: the health check cannot read the database")
        return _connect(*args, **kwargs)

    _sqlite3.connect = _broken
`;

beforeAll(async () => {
    config = {
        "lernmanager:port": String(await freePort()),
        "lernmanager:appSource": app.dir,
        "lernmanager:loginRatePerMinute": "0",
        "lernmanager:appAccessLog": "true",
    };
});
afterAll(async () => {
    await engine.destroy({ continueOnError: true }).catch(() => undefined);
    for (const c of await docker.listContainers({ all: true, filters: { label: [`dev.lernmanager.stack=${stack}`] } }))
        await docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined);
    app.remove();
});

test("a version whose health check fails gets 0 requests; the old one serves all; the next good up is normal", async () => {
    await up();
    const port = Number(config["lernmanager:port"]);
    const oldVersion = (await request(port, "/healthz")).json().version;
    const oldId = (await appContainer().inspect()).Id;
    const cookies = await Promise.all(
        Array.from({ length: 8 }, (_, i) => login(port, `student${String(i + 1).padStart(2, "0")}`, "lernen")),
    );
    const appPy = path.join(app.dir, "app.py");
    const good = fs.readFileSync(appPy, "utf8");
    fs.writeFileSync(appPy, `${good}\n${BROKEN}`);
    const since = Math.floor(Date.now() / 1000);

    // The failing deploy, under load from 2 s before it until 3 s after.
    const t0 = Date.now();
    const failing = (async () => {
        await new Promise((r) => setTimeout(r, 2000));
        const outcome = await up().then(
            () => undefined,
            (e: Error) => e,
        );
        await new Promise((r) => setTimeout(r, 3000));
        return outcome;
    })();
    const load = await runLoad({ port, connections: 8, durationMs: 600000, cookies, until: failing });
    const error = await failing;
    console.log(
        `gate: failing up ${((Date.now() - t0) / 1000).toFixed(0)} s; ${load.requests} requests, ${load.failed} failed ${JSON.stringify(load.failures)}`,
    );

    // The deploy failed, saying why, with the app's last log lines.
    expect(error).toBeInstanceOf(UpFailed);
    const message = (error as UpFailed).message;
    console.log(`gate: the failed deploy says:\n${message}`);
    expect(message).toContain("did not become healthy");
    expect(message).toContain("It received no request");
    expect(message).toContain("its health check failed");
    expect(message).toContain("broken release: the health check cannot read the database");
    // The candidate's own log: only the health checks reached it.
    expect(requestLines(message)).toEqual([]);

    // The old version served everything, without one failure.
    expect(load.failed).toBe(0);
    expect(load.requests).toBeGreaterThan(200);
    expect((await request(port, "/healthz")).json().version).toBe(oldVersion);
    expect((await appContainer().inspect()).Id).toBe(oldId);
    const served = requestLines(await containerLogs(appContainer())).length;
    expect(served).toBeGreaterThanOrEqual(load.requests);
    const nginxLines = ((await nginx().logs({ stdout: true, stderr: true, since })) as unknown as Buffer).toString(
        "utf8",
    );
    expect(nginxLines.split("\n").filter((l) => /" 5\d\d |\[(error|crit)\]/.test(l))).toEqual([]);
    // Nothing left: no candidate container, no half-replaced app container, nothing pending.
    const roles = (await docker.listContainers({ all: true, filters: { label: [`dev.lernmanager.stack=${stack}`] } }))
        .map((c) => c.Labels["dev.lernmanager.role"])
        .sort();
    expect(roles).not.toContain("candidate");
    expect(roles.filter((r) => r === "app")).toEqual(["app"]);
    // Pending deletes: only the deploy steps the failed up replaced (no delete script), no container.
    expect(engine.pendingDeletes.filter((p) => p.type === "docker:index/container:Container")).toEqual([]);

    // The next up, with a good version: as usual.
    fs.writeFileSync(appPy, `${good}\n# release ${randomBytes(3).toString("hex")}\n`);
    const report = await up();
    expect(report.replaces.map((r) => r.name.replace(`lernmanager-${stack}-`, ""))).toEqual(
        expect.arrayContaining(["app", "candidate", "migrate"]),
    );
    const next = (await request(port, "/healthz")).json();
    expect(next.status).toBe("ok");
    expect(next.version).not.toBe(oldVersion);
    expect((await appContainer().inspect()).Id).not.toBe(oldId);
    expect(engine.pendingDeletes).toEqual([]);
});
