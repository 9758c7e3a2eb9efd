/**
 * The steps around a deploy, on a real engine: the online backup and its restore, a
 * failing migration that leaves the running version serving, a failing smoke test that fails the
 * update.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { csrfHeaders, eventually, login, request } from "../support/http";
import { runCommand } from "../support/realize";
import { copyOfDemoApp, liveStack, LiveStack, redeclare } from "../support/stack";
import { PROJECT_DIR } from "../../core/paths";

jest.setTimeout(300000);

let s: LiveStack;
const app = copyOfDemoApp();
const log = (l: string) => process.stdout.write(`    [e2e-steps] ${l}\n`);

beforeAll(async () => {
    s = await liveStack("e2e-steps");
});
afterAll(async () => {
    await s?.realization.teardown();
    app.remove();
});

const markDone = async (cookie: string, writeId: string) =>
    request(s.port, "/tasks/2/done", {
        method: "POST",
        // The session's CSRF token, as the page's script sends it (without it: a 302 to /).
        headers: { ...csrfHeaders(cookie), "Content-Type": "application/x-www-form-urlencoded" },
        body: `write_id=${writeId}`,
    });
const writeCount = async () => (await request(s.port, "/api/writes/count")).json().count as number;
const sqlInApp = (sql: string) =>
    s.exec(s.app(), [
        "python3",
        "-c",
        `import sqlite3; c = sqlite3.connect('/app/data/lernmanager.db'); c.execute("${sql}"); c.commit()`,
    ]);

test("by default nginx logs each request with the app's time (urt); gunicorn logs no access lines", async () => {
    const marker = `/login?logged=${Date.now()}`;
    expect((await request(s.port, marker)).status).toBe(200);
    // nginx writes its access log in batches, at least every second.
    await eventually(
        10,
        async () => (await s.logs(s.nginx())).includes(`"GET ${marker} HTTP/1.1" 200`),
        "nginx log line",
    );
    const line = (await s.logs(s.nginx())).split("\n").find((l) => l.includes(`GET ${marker} `))!;
    expect(line).toMatch(/ rt=\d+\.\d{3} urt=\d+\.\d{3}$/);
    const appLog = await s.logs(s.app());
    expect(appLog).not.toContain(marker);
    expect(appLog).not.toMatch(/"GET \/\S* HTTP\/1\.[01]" \d{3}/);
});

test("backup before a new image, damage, restore: the data is back", async () => {
    const cookie = await login(s.port, "student02", "lernen");
    for (let i = 0; i < 5; i++) expect((await markDone(cookie, `kept-${i}`)).status).toBe(200);
    expect(await writeCount()).toBe(5);

    // The backup step as declared, run again as it would for the next image.
    const out = await runCommand(s.run.named("lernmanager-e2e-steps-backup"), log);
    expect(out).toMatch(/backup: wrote \/backups\/lernmanager-\d{8}T\d+Z-[0-9a-f]{12}\.db/);

    // Damage: the writes are gone.
    await sqlInApp("DELETE FROM writes");
    expect(await writeCount()).toBe(0);

    // The documented restore command.
    const startedBefore = (await s.app().inspect()).State.StartedAt;
    const listing = execFileSync("bash", ["cli/restore.sh", "e2e-steps", "--list"], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
    });
    expect(listing).toMatch(/lernmanager-.*\.db\t\d+/);
    const restored = execFileSync("bash", ["cli/restore.sh", "e2e-steps", "latest"], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
    });
    expect(restored).toContain("restore: /app/data/lernmanager.db restored from /backups/lernmanager-");
    // The backup may predate this version's init hook: the restart after the swap runs it again.
    expect(restored).toContain("the init hook runs again at the next app start");
    expect(restored).toMatch(/safety backup of the current data: lernmanager-\S+-before-restore\.db/);
    expect(restored).toMatch(/done: .* restored, the app is healthy again/);
    // The app container was stopped for the swap and started again; its start ran the init hook.
    expect((await s.app().inspect()).State.StartedAt).not.toBe(startedBefore);
    expect(await s.logs(s.app())).toMatch(/init hook \S+ ran in \d/);
    expect(await writeCount()).toBe(5);
    for (let i = 0; i < 5; i++) expect((await request(s.port, `/api/writes/kept-${i}`)).status).toBe(200);
    expect((await request(s.port, "/healthz")).status).toBe(200);
});

test("backups are pruned to backupKeep", async () => {
    const keep = await redeclare(s, { "lernmanager:backupKeep": "2" });
    const step = keep.named("lernmanager-e2e-steps-backup");
    for (let i = 0; i < 3; i++) await runCommand(step, log);
    const listing = execFileSync("bash", ["cli/restore.sh", "e2e-steps", "--list"], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
    });
    expect(listing.trim().split("\n")).toHaveLength(2);
});

test("a failing migration fails the deploy and leaves the running version serving", async () => {
    const before = { app: (await s.app().inspect()).Id, version: (await request(s.port, "/healthz")).json().version };
    fs.appendFileSync(path.join(app.dir, "static/css/app.css"), "\n.lm-migration-test { color: red; }\n");
    const next = await redeclare(s, {
        "lernmanager:appSource": app.dir,
        "lernmanager:migrateCommand": "python3 -c 'import sys; sys.exit(\"migration 42 failed: column exists\")'",
    });
    expect(next.outputs.appVersion).not.toBe(before.version);
    await expect(s.realization.update(next.registrations)).rejects.toThrow(
        /lernmanager-e2e-steps-migrate failed[\s\S]*migration 42 failed/,
    );
    expect((await s.app().inspect()).Id).toBe(before.app);
    const health = await request(s.port, "/healthz");
    expect(health.status).toBe(200);
    expect(health.json().version).toBe(before.version);
    expect((await request(s.port, "/login")).status).toBe(200);
});

test("a failing smoke test fails the update", async () => {
    // A new version whose start page is broken; its /healthz is fine, so the container is replaced.
    const appPy = path.join(app.dir, "app.py");
    fs.writeFileSync(
        appPy,
        `${fs.readFileSync(appPy, "utf8")}\n\n@app.before_request\ndef _broken_start_page():\n    from flask import request as _r\n    if _r.path == "/":\n        return "kaputt", 500\n`,
    );
    const next = await redeclare(s, { "lernmanager:appSource": app.dir });
    await expect(s.realization.update(next.registrations)).rejects.toThrow(
        /lernmanager-e2e-steps-smoke failed[\s\S]*FAIL page \/: 500/,
    );
    expect((await request(s.port, "/healthz")).json().version).toBe(next.outputs.appVersion);
});
