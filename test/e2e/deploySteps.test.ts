/**
 * The steps around a deploy (issue 4), on a real engine: the online backup and its restore, a
 * failing migration that leaves the running version serving, a failing smoke test that fails the
 * update.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { login, request } from "../support/http";
import { runProgram, testConfig } from "../support/mocks";
import { runCommand } from "../support/realize";
import { liveStack, LiveStack } from "../support/stack";
import { PROJECT_DIR } from "../../lib/paths";

jest.setTimeout(300000);

let s: LiveStack;
let appCopy: string;
const log = (l: string) => process.stdout.write(`    [e2e-steps] ${l}\n`);

beforeAll(async () => {
    s = await liveStack("e2e-steps");
    appCopy = fs.mkdtempSync(path.join(os.tmpdir(), "lm-steps-app-"));
    fs.cpSync(path.join(PROJECT_DIR, "demo-app"), appCopy, { recursive: true });
});
afterAll(async () => {
    await s?.realization.teardown();
    fs.rmSync(appCopy, { recursive: true, force: true });
});

const markDone = async (cookie: string, writeId: string) =>
    request(s.port, "/tasks/2/done", {
        method: "POST",
        headers: { Cookie: cookie, "Content-Type": "application/x-www-form-urlencoded" },
        body: `write_id=${writeId}`,
    });
const writeCount = async () => (await request(s.port, "/api/writes/count")).json().count as number;
const sqlInApp = (sql: string) =>
    s.exec(s.app(), [
        "python3",
        "-c",
        `import sqlite3; c = sqlite3.connect('/app/data/lernmanager.db'); c.execute("${sql}"); c.commit()`,
    ]);

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

    // The documented restore command, online, while the app runs.
    const listing = execFileSync("bash", ["scripts/restore-backup.sh", "e2e-steps", "--list"], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
    });
    expect(listing).toMatch(/lernmanager-.*\.db\t\d+/);
    const restored = execFileSync("bash", ["scripts/restore-backup.sh", "e2e-steps", "latest"], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
    });
    expect(restored).toContain("restore: /app/data/lernmanager.db restored from /backups/lernmanager-");
    expect(await writeCount()).toBe(5);
    for (let i = 0; i < 5; i++) expect((await request(s.port, `/api/writes/kept-${i}`)).status).toBe(200);
    expect((await request(s.port, "/healthz")).status).toBe(200);
});

test("backups are pruned to backupKeep", async () => {
    const keep = await runProgram(testConfig({ "lernmanager:port": String(s.port), "lernmanager:backupKeep": "2" }), {
        stack: "e2e-steps",
        secretKey: s.secretKey,
    });
    const step = keep.named("lernmanager-e2e-steps-backup");
    for (let i = 0; i < 3; i++) await runCommand(step, log);
    const listing = execFileSync("bash", ["scripts/restore-backup.sh", "e2e-steps", "--list"], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
    });
    expect(listing.trim().split("\n")).toHaveLength(2);
});

test("a failing migration fails the deploy and leaves the running version serving", async () => {
    const before = { app: (await s.app().inspect()).Id, version: (await request(s.port, "/healthz")).json().version };
    fs.appendFileSync(path.join(appCopy, "static/css/app.css"), "\n.lm-migration-test { color: red; }\n");
    const next = await runProgram(
        testConfig({
            "lernmanager:port": String(s.port),
            "lernmanager:appSource": appCopy,
            "lernmanager:migrateCommand": "python3 -c 'import sys; sys.exit(\"migration 42 failed: column exists\")'",
        }),
        { stack: "e2e-steps", secretKey: s.secretKey },
    );
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
    const appPy = path.join(appCopy, "app.py");
    fs.writeFileSync(
        appPy,
        `${fs.readFileSync(appPy, "utf8")}\n\n@app.before_request\ndef _broken_start_page():\n    from flask import request as _r\n    if _r.path == "/":\n        return "kaputt", 500\n`,
    );
    const next = await runProgram(
        testConfig({ "lernmanager:port": String(s.port), "lernmanager:appSource": appCopy }),
        {
            stack: "e2e-steps",
            secretKey: s.secretKey,
        },
    );
    await expect(s.realization.update(next.registrations)).rejects.toThrow(
        /lernmanager-e2e-steps-smoke failed[\s\S]*FAIL page \/: 500/,
    );
    expect((await request(s.port, "/healthz")).json().version).toBe(next.outputs.appVersion);
});
