/**
 * Rollback and restore on the real engine: `npm run rollback` back to the kept previous
 * image under load (0 failed requests: new container beside the old one, then the old one drains);
 * the next deploy removes the rollback's containers; a restore of a backup older than the running
 * version runs that version's new migration; `--with-data` brings back the data of before the
 * deploy, naming the minutes of writes it discards.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { PROJECT_DIR } from "../../core/paths";
import { recordFigure } from "../support/figures";
import { login, request } from "../support/http";
import { runLoad } from "../support/load";
import { docker } from "../support/realize";
import { copyOfDemoApp, execIn, liveStack, LiveStack, redeclare } from "../support/stack";

jest.setTimeout(1200000);

const STACK = "e2e-bk-rollback";
let s: LiveStack;
const app = copyOfDemoApp();

const appContainer = async () => {
    const found = await docker.listContainers({
        filters: { label: [`dev.lernmanager.stack=${STACK}`, "dev.lernmanager.role=app"] },
    });
    expect(found).toHaveLength(1);
    return docker.getContainer(found[0].Id);
};
const sql = async (statement: string) =>
    (
        await execIn(await appContainer(), [
            "python3",
            "-c",
            `import sqlite3,sys; c=sqlite3.connect("/app/data/lernmanager.db"); r=c.execute(sys.argv[1]).fetchall(); c.commit(); print(r)`,
            statement,
        ])
    ).output.trim();
const mark = (id: string) => sql(`INSERT INTO writes (write_id, user_id, task_id, at) VALUES ('${id}', 1, 1, 'x')`);
const has = async (id: string) => (await sql(`SELECT count(*) FROM writes WHERE write_id='${id}'`)) === "[(1,)]";
const version = async () => (await request(s.port, "/healthz")).json().version as string;
async function release(extra: Record<string, string> = {}) {
    fs.appendFileSync(path.join(app.dir, "app.py"), `\n# release ${Date.now()}\n`);
    for (const [file, text] of Object.entries(extra)) fs.writeFileSync(path.join(app.dir, file), text);
    await s.realization.update((await redeclare(s)).registrations);
}
function ops(script: string, ...args: string[]): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
        const p = spawn("npx", ["ts-node", `cli/${script}.ts`, ...args], { cwd: PROJECT_DIR });
        let out = "";
        p.stdout.on("data", (d) => (out += d));
        p.stderr.on("data", (d) => (out += d));
        const timer = setTimeout(() => p.kill(), 600000);
        p.on("close", (code) => (clearTimeout(timer), resolve({ code, out })));
    });
}

beforeAll(async () => {
    s = await liveStack(STACK, { "lernmanager:appSource": app.dir, "lernmanager:loginRatePerMinute": "0" });
});
afterAll(async () => {
    // Containers a rollback started are not in the realization's list.
    for (const c of await docker.listContainers({ all: true, filters: { label: [`dev.lernmanager.stack=${STACK}`] } }))
        await docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined);
    await s?.realization.teardown();
    app.remove();
});

let v1 = "";
let v2 = "";
test("a code-only rollback under 16 connections: 0 failed requests, the data stays, the next deploy cleans up", async () => {
    v1 = await version();
    await release();
    v2 = await version();
    expect(v2).not.toBe(v1);
    await mark("after-v2");
    const cookies = await Promise.all(
        Array.from({ length: 16 }, (_, i) => login(s.port, `student${String(i + 1).padStart(2, "0")}`, "lernen")),
    );
    const t0 = Date.now();
    let rollbackSeconds = 0;
    const rollback = (async () => {
        await new Promise((r) => setTimeout(r, 2000));
        const r = await ops("rollback", STACK);
        rollbackSeconds = (Date.now() - t0 - 2000) / 1000;
        await new Promise((r2) => setTimeout(r2, 3000));
        return r;
    })();
    const load = await runLoad({ port: s.port, connections: 16, durationMs: 300000, cookies, until: rollback });
    const r = await rollback;
    expect(r.out).toMatch(/code rolled back in/);
    expect(r.code).toBe(0);
    expect(await version()).toBe(v1);
    expect(await has("after-v2")).toBe(true);
    expect(load.failures).toEqual({});
    expect(load.failed).toBe(0);
    recordFigure("rollback: code only, 16 connections", {
        requests: load.requests,
        failed: load.failed,
        rollbackSeconds,
        p99Ms: load.p99Ms,
    });
    process.stdout.write(
        `    rollback: ${load.requests} requests, ${load.failed} failed, ${rollbackSeconds.toFixed(1)} s\n`,
    );
    // Nothing older than v1 is kept: a second rollback refuses.
    expect((await ops("rollback", STACK)).out).toMatch(/nothing to roll back to/);
});

test("a restore of a backup older than the running version runs its new migration; --with-data brings the data back", async () => {
    // v3 brings a migration; its deploy takes a backup before (labelled v3) and removes the rollback's containers.
    await release({
        "migrate/migrate_004_bk_marker.py":
            'import demo_db\nc = demo_db.connect()\nc.execute("CREATE TABLE IF NOT EXISTS bk_marker (x)")\nc.commit()\n',
    });
    const v3 = await version();
    const leftovers = await docker.listContainers({
        all: true,
        filters: { label: [`dev.lernmanager.stack=${STACK}`, "dev.lernmanager.rollback"] },
    });
    expect(leftovers).toEqual([]);
    await mark("after-v3");
    expect(await sql("SELECT count(*) FROM sqlite_master WHERE name='bk_marker'")).toBe("[(1,)]");

    // Restore of the backup taken before v3: the v3 image's migration runs again on it.
    const before = spawnSync("bash", ["cli/restore.sh", STACK, "--list"], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
    });
    const file = before.stdout
        .split("\n")
        .map((l) => l.split("\t")[0])
        .filter((f) => f.endsWith(`-${v3}.db`))
        .pop()!;
    expect(file).toBeDefined();
    const restored = spawnSync("bash", ["cli/restore.sh", STACK, file], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
    });
    expect(restored.stdout).toMatch(/safety backup of the current data: lernmanager-\S+-before-restore\.db/);
    expect(`${restored.stdout}${restored.stderr}`).toMatch(/migrate_004_bk_marker\.py/);
    expect(restored.status).toBe(0);
    expect(await sql("SELECT count(*) FROM sqlite_master WHERE name='bk_marker'")).toBe("[(1,)]");
    expect(await has("after-v2")).toBe(true);
    expect(await has("after-v3")).toBe(false);
    expect(await version()).toBe(v3);

    // --with-data: back to v2 and the data of before v3's deploy.
    await mark("after-restore");
    const r = await ops("rollback", STACK, "--with-data");
    expect(r.out).toMatch(
        new RegExp(`restoring \\S+-${v3}\\.db, taken before ${v3} was deployed: this discards the last \\d+ minute`),
    );
    expect(r.code).toBe(0);
    expect(await version()).toBe(v2);
    expect(await has("after-v2")).toBe(true);
    expect(await has("after-restore")).toBe(false);
});
