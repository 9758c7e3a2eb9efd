/**
 * The app's migrations and the generated admin password, on a real engine with the demo
 * app: the first deploy runs and records every migration, the next image runs none, a failing
 * migration fails the deploy and leaves the running version serving, the default admin password
 * stops working and the generated one works, and a password an admin changed survives a redeploy.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { login, request } from "../support/http";
import { runCommand } from "../support/realize";
import { copyOfDemoApp, liveStack, LiveStack, redeclare } from "../support/stack";
import { PROJECT_DIR } from "../../core/paths";

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

// The runner's and the helper's details, in the app image as deployed (PYTHONOPTIMIZE=2, read-only
// root, user 10001), on scratch folders in the data volume.
const RUNNER_PROBE = `
import json, os, shutil, subprocess, sys, tempfile
root = tempfile.mkdtemp(dir="/app/data")
try:
    os.makedirs(root + "/migrate"); os.makedirs(root + "/data")
    files = {
        "helper.py": "VALUE = 42\\n",
        "migrate/migrate_001_env.py": (
            "import json, os, sys, helper\\n"
            "json.dump({'cwd': os.getcwd(), 'pythonpath': os.environ.get('PYTHONPATH'), 'optimize': sys.flags.optimize,"
            " 'admin': 'LM_ADMIN_PASSWORD' in os.environ, 'flask_env': os.environ.get('FLASK_ENV'), 'helper': helper.VALUE},"
            " open('data/env.json', 'w'))\\n"
        ),
        "migrate/migrate_002_fails.py": "import sys\\nprint('002 says why')\\nsys.exit(7)\\n",
        "migrate/migrate_003_never.py": "open('data/never', 'w')\\n",
        "migrate/_migrate_not_matched.py": "open('data/not_matched', 'w')\\n",
        "migrate/README.txt": "not a migration\\n",
        "data/migrations_done.txt": "migrate_000_old.py",
    }
    for name, text in files.items():
        open(os.path.join(root, name), "w").write(text)
    args = ["--app-dir", root, "--folder", "migrate", "--pattern", "migrate_*.py", "--done-file", "data/migrations_done.txt"]
    run = subprocess.run([sys.executable, "-OO", "/opt/lernmanager/lm_migrate.py", *args],
                         env={**os.environ, "LM_ADMIN_PASSWORD": "never-seen"}, capture_output=True, text=True)
    print(json.dumps({
        "code": run.returncode, "output": run.stdout + run.stderr,
        "done": open(root + "/data/migrations_done.txt").read(),
        "env": json.load(open(root + "/data/env.json")), "root": root,
        "never": os.path.exists(root + "/data/never"), "not_matched": os.path.exists(root + "/data/not_matched"),
    }))
finally:
    shutil.rmtree(root)
`;

const ADMIN_PROBE = `
import json, os, shutil, sqlite3, subprocess, sys, tempfile
from werkzeug.security import check_password_hash, generate_password_hash
root = tempfile.mkdtemp(dir="/app/data")
try:
    db = root + "/mbi_tracker.db"
    c = sqlite3.connect(db)
    # The real Lernmanager's admin table, its admin created like its init_app (werkzeug's default method).
    c.execute("CREATE TABLE admin (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT UNIQUE NOT NULL, password_hash TEXT NOT NULL)")
    c.execute("INSERT INTO admin (username, password_hash) VALUES ('admin', ?)", (generate_password_hash("admin"),))
    c.execute("INSERT INTO admin (username, password_hash) VALUES ('other', ?)", (generate_password_hash("admin"),))
    c.commit()
    def helper(table, password):
        env = {k: v for k, v in os.environ.items() if k != "LM_ADMIN_PASSWORD"}
        if password: env["LM_ADMIN_PASSWORD"] = password
        r = subprocess.run([sys.executable, "-OO", "/opt/lernmanager/lm_admin.py", "--database", db, "--table", table,
                            "--user-column", "username", "--hash-column", "password_hash", "--username", "admin",
                            "--default-password", "admin"], env=env, capture_output=True, text=True)
        return {"code": r.returncode, "output": r.stdout + r.stderr}
    out = {"wrong_table": helper("users", "n3w-Passw0rd"), "no_password": helper("admin", ""),
           "first": helper("admin", "n3w-Passw0rd"), "second": helper("admin", "another-one")}
    rows = dict(c.execute("SELECT username, password_hash FROM admin").fetchall())
    out["admin_new"] = check_password_hash(rows["admin"], "n3w-Passw0rd")
    out["admin_default"] = check_password_hash(rows["admin"], "admin")
    out["admin_prefix"] = rows["admin"].split(":")[0]
    out["other_default"] = check_password_hash(rows["other"], "admin")
    print(json.dumps(out))
finally:
    shutil.rmtree(root)
`;

test("the runner in the app image: name order, app folder, PYTHONPATH, no -OO and no LM_ADMIN_*, stops at the first failure", async () => {
    const r = JSON.parse((await s.exec(s.app(), ["python3", "-c", RUNNER_PROBE])).output.trim().split("\n").pop()!);
    expect(r.code).toBe(7);
    // A hand-written done-file without its last newline keeps its entry; the failed one is not recorded.
    expect(r.done).toBe("migrate_000_old.py\nmigrate_001_env.py\n");
    expect(r.env).toEqual({
        cwd: r.root,
        pythonpath: r.root,
        optimize: 0,
        admin: false,
        flask_env: "production",
        helper: 42,
    });
    expect(r.never).toBe(false);
    expect(r.not_matched).toBe(false);
    expect(r.output).toContain(
        "3 in migrate/ (migrate_*.py), 0 already done (listed in data/migrations_done.txt), 3 to run",
    );
    expect(r.output).toMatch(
        /migrate_001_env\.py ran in [\d.]+ s \(recorded\)\n[^\n]*running migrate_002_fails\.py\n002 says why\n/,
    );
    expect(r.output).toContain("migrate_002_fails.py FAILED with exit code 7");
    expect(r.output).toContain("1 later migration(s) not run");
    expect(r.output).not.toContain("never-seen");
});

test("the admin helper in the app image, on the real app's admin table: replaces the default once, never a changed one", async () => {
    const r = JSON.parse((await s.exec(s.app(), ["python3", "-c", ADMIN_PROBE])).output.trim().split("\n").pop()!);
    expect(r.wrong_table.code).toBe(2);
    expect(r.wrong_table.output).toContain("the database has no table 'users'");
    expect(r.wrong_table.output).toContain("pulumi config set adminTable");
    expect(r.no_password.code).toBe(2);
    expect(r.first).toEqual({
        code: 0,
        output: "[lernmanager] admin password: the default password of 'admin' is replaced by the generated one (stack output adminPassword)\n",
    });
    expect(r.second.output).toContain("'admin' has a password of its own (not the default): left as it is");
    expect(r.admin_new).toBe(true);
    expect(r.admin_default).toBe(false);
    // The real app's verify_password accepts werkzeug hashes by these prefixes only.
    expect(["pbkdf2", "scrypt"]).toContain(r.admin_prefix);
    // Only the configured user.
    expect(r.other_default).toBe(true);
    for (const part of [r.first, r.second]) expect(part.output).not.toMatch(/n3w-Passw0rd|another-one/);
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

test("a backup keeps the done-file; restoring it puts the database and the done-file back together", async () => {
    const seen = await doneFile();
    expect(seen).toHaveLength(6);
    // The backup step as declared, run as it would be for the next image.
    const out = await runCommand((await redeclare(s)).named(`lernmanager-${STACK}-backup`), log);
    expect(out).toMatch(/backup: wrote \/backups\/\S+\.db/);
    // Later: one more migration ran and was recorded.
    await py("db.execute('CREATE TABLE later_table (id INTEGER)'); db.commit()");
    await s.exec(s.app(), ["sh", "-c", "echo migrate_007_later.py >> /app/data/migrations_done.txt"]);
    expect(await doneFile()).toHaveLength(7);

    const restored = execFileSync("bash", ["cli/restore.sh", STACK, "latest"], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
    });
    expect(restored).toContain(
        "restore: /app/data/migrations_done.txt lists the 6 migration(s) that backup had seen; the next deploy runs the ones after them",
    );
    expect(await doneFile()).toEqual(seen);
    expect(await schemaNames()).not.toContain("later_table");
});
