/**
 * The app's migrations and the generated admin password (issue 11), on a real engine with the demo
 * app: the first deploy runs and records every migration, the next image runs none, a failing
 * migration fails the deploy and leaves the running version serving, the default admin password
 * stops working and the generated one works, and a password an admin changed survives a redeploy.
 */
import * as fs from "fs";
import * as path from "path";
import { login, request } from "../support/http";
import { copyOfDemoApp, liveStack, LiveStack, redeclare } from "../support/stack";

jest.setTimeout(420000);

const STACK = "e2e-mig";
const MIGRATIONS = ["migrate_001_task_estimates.py", "migrate_002_task_comments.py", "migrate_003_estimate_index.py"];
let s: LiveStack;
const app = copyOfDemoApp();
const deployLog: string[] = [];
const log = (l: string) => {
    deployLog.push(l);
    process.stdout.write(`    [${STACK}] ${l}\n`);
};

beforeAll(async () => {
    s = await liveStack(STACK, { "lernmanager:appSource": app.dir });
});
afterAll(async () => {
    await s?.realization.teardown();
    app.remove();
});

/** Python run in the current app container, with the app's database open as `db`. */
async function py(code: string): Promise<string> {
    const prelude = [
        "import json, os, sqlite3",
        "db = sqlite3.connect(os.path.join(os.environ['LM_APP_DIR'], os.environ['LM_DATA_PATH'], os.environ['LM_DATABASE_FILE']))",
    ].join("\n");
    return (await s.exec(s.app(), ["python3", "-c", `${prelude}\n${code}`])).output.trim();
}
const doneFile = async () =>
    (await s.exec(s.app(), ["cat", "/app/data/migrations_done.txt"])).output.split("\n").filter(Boolean);
const schemaNames = async (): Promise<string[]> =>
    JSON.parse(await py("print(json.dumps(sorted(r[0] for r in db.execute('select name from sqlite_master'))))"));
const version = async () => (await request(s.port, "/healthz")).json().version as string;
const adminPassword = () => String(s.run.outputs.adminPassword);
const loginStatus = async (password: string) => {
    try {
        await login(s.port, "admin", password);
        return "ok";
    } catch (e) {
        return String((e as Error).message);
    }
};

test("the first deploy runs every migration once, in name order, and records each in the done-file", async () => {
    expect(await doneFile()).toEqual(MIGRATIONS);
    const names = await schemaNames();
    expect(names).toEqual(expect.arrayContaining(["task_comments", "idx_task_comments_task", "idx_tasks_estimate"]));
    // migrate_001 added the column and estimated every existing task.
    expect(await py("print(db.execute('select count(*), count(estimated_minutes) from tasks').fetchone())")).toBe(
        "(12, 12)",
    );
});

test("the app's default admin password no longer logs in through nginx; the generated adminPassword does", async () => {
    expect(adminPassword()).toMatch(/^mockpw[0-9a-f]{26}$/);
    expect(await loginStatus("admin")).toBe("login as admin answered 401");
    const cookie = await login(s.port, "admin", adminPassword());
    const page = await request(s.port, "/admin", { headers: { Cookie: cookie } });
    expect(page.status).toBe(200);
});

test("a new image runs no migration again, and a password the admin changed survives the redeploy", async () => {
    // What the app did since: a task without an estimate (migrate_001 would fill it in again) and
    // an admin who chose a password of their own.
    await py("db.execute('update tasks set estimated_minutes = NULL where id = 1'); db.commit()");
    await py(
        [
            "from werkzeug.security import generate_password_hash",
            "db.execute(\"update users set password_hash = ? where username = 'admin'\", (generate_password_hash('chosen-by-the-admin'),))",
            "db.commit()",
        ].join("\n"),
    );
    const before = { app: (await s.app().inspect()).Id, version: await version() };
    fs.appendFileSync(path.join(app.dir, "static/css/app.css"), "\n.lm-migrations-redeploy { color: blue; }\n");
    const next = await redeclare(s);
    expect(next.outputs.appVersion).not.toBe(before.version);
    expect(next.outputs.adminPassword).toBe(s.run.outputs.adminPassword);
    deployLog.length = 0;
    await s.realization.update(next.registrations, { log });

    expect((await s.app().inspect()).Id).not.toBe(before.app);
    expect(await version()).toBe(next.outputs.appVersion);
    expect(deployLog.find((l) => l.startsWith(`ran lernmanager-${STACK}-migrate:`))).toContain(
        "'admin' has a password of its own (not the default): left as it is",
    );
    expect(await doneFile()).toEqual(MIGRATIONS);
    expect(await py("print(db.execute('select estimated_minutes from tasks where id = 1').fetchone()[0])")).toBe(
        "None",
    );
    // The runner itself, on the same data: nothing left to run.
    const again = await s.exec(s.app(), [
        "python3",
        "-OO",
        "/opt/lernmanager/lm_migrate.py",
        "--folder",
        "migrate",
        "--pattern",
        "migrate_*.py",
        "--done-file",
        "data/migrations_done.txt",
    ]);
    expect(again.output).toContain("3 in migrate/ (migrate_*.py), 3 already done");
    expect(again.output).toContain("done: 0 ran, 3 already done");

    expect(await loginStatus("chosen-by-the-admin")).toBe("ok");
    expect(await loginStatus(adminPassword())).toBe("login as admin answered 401");
    expect(await loginStatus("admin")).toBe("login as admin answered 401");
});

test("a failing migration fails the deploy: the running version keeps serving, the done-file stops before it", async () => {
    const dir = path.join(app.dir, "migrate");
    const migration = (body: string) =>
        `import demo_db\n\n\ndef run():\n${body}\n\n\nif __name__ == "__main__":\n    run()\n`;
    fs.writeFileSync(
        path.join(dir, "migrate_004_exports.py"),
        migration(
            "    conn = demo_db.connect()\n    conn.execute('CREATE TABLE IF NOT EXISTS exports (id INTEGER PRIMARY KEY)')\n    conn.commit()\n    conn.close()",
        ),
    );
    fs.writeFileSync(
        path.join(dir, "migrate_005_broken.py"),
        migration(
            "    conn = demo_db.connect()\n    conn.execute('ALTER TABLE no_such_table ADD COLUMN x INTEGER')\n    conn.close()",
        ),
    );
    fs.writeFileSync(
        path.join(dir, "migrate_006_after.py"),
        migration(
            "    conn = demo_db.connect()\n    conn.execute('CREATE TABLE never_created (id INTEGER)')\n    conn.commit()\n    conn.close()",
        ),
    );
    const before = { app: (await s.app().inspect()).Id, version: await version() };
    const next = await redeclare(s);
    expect(next.outputs.appVersion).not.toBe(before.version);

    await expect(s.realization.update(next.registrations, { log })).rejects.toThrow(
        /lernmanager-e2e-mig-migrate failed \(exit 1\)[\s\S]*migrate_004_exports\.py ran in [\d.]+ s \(recorded\)[\s\S]*no such table: no_such_table[\s\S]*migrate_005_broken\.py FAILED with exit code 1[\s\S]*1 later migration\(s\) not run/,
    );

    expect((await s.app().inspect()).Id).toBe(before.app);
    const health = await request(s.port, "/healthz");
    expect(health.status).toBe(200);
    expect(health.json().version).toBe(before.version);
    expect((await request(s.port, "/login")).status).toBe(200);
    expect(await loginStatus("chosen-by-the-admin")).toBe("ok");
    expect(await doneFile()).toEqual([...MIGRATIONS, "migrate_004_exports.py"]);
    const names = await schemaNames();
    expect(names).toContain("exports");
    expect(names).not.toContain("never_created");

    // Fixed in the next version: the deploy goes on from the migration that failed.
    fs.writeFileSync(path.join(dir, "migrate_005_broken.py"), migration("    print('fixed: nothing to do')"));
    const fixed = await redeclare(s);
    await s.realization.update(fixed.registrations, { log });
    expect(await version()).toBe(fixed.outputs.appVersion);
    expect(await doneFile()).toEqual([
        ...MIGRATIONS,
        "migrate_004_exports.py",
        "migrate_005_broken.py",
        "migrate_006_after.py",
    ]);
    expect(await schemaNames()).toContain("never_created");
});
