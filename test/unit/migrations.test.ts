/**
 * The app's migrations runner and the generated admin password: config validation, the
 * migrate step's script, and what the program registers (GIVEN config, WHEN declared, THEN ...).
 */
import { runtimeCopies } from "../support/runtimeImage";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, loadConfig } from "../../config/load";
import { migrationScript, type MigrationStep } from "../../render/deploy";
import { PROJECT_DIR } from "../../core/paths";
import { ProgramRun, runProgram, testConfig } from "../support/mocks";

const ctx = { project: "lernmanager", projectDir: PROJECT_DIR };
const load = (values: Record<string, string>) =>
    loadConfig(Object.fromEntries(Object.entries(values).map(([k, v]) => [`lernmanager:${k}`, v])), ctx);
const problemsOf = (values: Record<string, string>): string => {
    try {
        load(values);
    } catch (e) {
        if (e instanceof ConfigError) return e.message;
        throw e;
    }
    throw new Error("expected a ConfigError");
};

describe("config: migrations runner and admin password", () => {
    test("defaults are the real Lernmanager's: migrate/migrate_*.py, data/migrations_done.txt, admin/admin in table admin", () => {
        const c = load({});
        expect(c.migrations).toEqual({
            folder: "migrate",
            pattern: "migrate_*.py",
            doneFile: "data/migrations_done.txt",
        });
        expect(c.adminPassword).toEqual({
            table: "admin",
            usernameColumn: "username",
            hashColumn: "password_hash",
            username: "admin",
            defaultPassword: "admin",
        });
    });

    test('"" turns each off', () => {
        const c = load({ migrationsPath: "", adminTable: "" });
        expect(c.migrations).toBeUndefined();
        expect(c.adminPassword).toBeUndefined();
    });

    test.each([
        [
            { migrationsPath: "../migrate" },
            /lernmanager:migrationsPath = "\.\.\/migrate": must be a relative folder.*Fix:/,
        ],
        [{ migrationsPath: "migrations" }, /demo-app has no folder migrations\/\. Fix: .*migrationsPath ""/],
        [
            { migrationsPattern: "migrate_*" },
            /lernmanager:migrationsPattern = "migrate_\*": must be a file name pattern ending in \.py/,
        ],
        [{ migrationsPattern: "m/*.py" }, /migrationsPattern = "m\/\*\.py"/],
        [
            { migrationsDoneFile: "migrations_done.txt" },
            /migrationsDoneFile = "migrations_done.txt": must be a file inside the data folder \(data\/\).*Fix: `pulumi config set migrationsDoneFile data\/migrations_done.txt`/,
        ],
        [{ migrationsDoneFile: "data/../x.txt" }, /migrationsDoneFile = "data\/\.\.\/x\.txt"/],
        [
            { adminTable: "admin; DROP TABLE x" },
            /lernmanager:adminTable = "admin; DROP TABLE x": must be an SQL table or column name/,
        ],
        [
            { adminPasswordColumn: "pass word" },
            /lernmanager:adminPasswordColumn = "pass word".*Fix: `pulumi config set adminPasswordColumn "password_hash"`/,
        ],
        [{ adminUsername: "" }, /lernmanager:adminUsername = "": must not be empty while adminTable is set/],
        [{ adminDefaultPassword: "" }, /lernmanager:adminDefaultPassword = "": must not be empty/],
    ])("%j is refused with the key and the fix", (values, message) => {
        expect(problemsOf(values)).toMatch(message);
    });

    test("the done-file follows dataPath", () => {
        expect(problemsOf({ dataPath: "db" })).toMatch(/must be a file inside the data folder \(db\/\)/);
        expect(load({ dataPath: "db", migrationsDoneFile: "db/done.txt" }).migrations?.doneFile).toBe("db/done.txt");
    });

    test("the default folder may be missing (no migrations); a folder set explicitly must exist", () => {
        const bare = fs.mkdtempSync(path.join(os.tmpdir(), "lm-app-"));
        try {
            fs.writeFileSync(path.join(bare, "requirements.txt"), "");
            fs.writeFileSync(path.join(bare, "app.py"), "app = None\ndef init_app(): pass\n");
            expect(load({ appSource: bare }).migrations?.folder).toBe("migrate");
            expect(problemsOf({ appSource: bare, migrationsPath: "migrate" })).toMatch(/has no folder migrate\//);
        } finally {
            fs.rmSync(bare, { recursive: true, force: true });
        }
    });

    test("with the runner or the replacement off, their other keys are not checked", () => {
        expect(() => load({ migrationsPath: "", migrationsPattern: "x" })).not.toThrow();
        expect(() => load({ adminTable: "", adminUsername: "" })).not.toThrow();
    });
});

const step: MigrationStep = {
    prefix: "lernmanager-dev",
    stack: "dev",
    label: "dev.lernmanager.stack",
    network: "lernmanager-dev-net",
    dataVolume: "lernmanager-dev-data",
    uploadsVolume: "lernmanager-dev-uploads",
    cacheVolume: "lernmanager-dev-cache",
    dataPath: "data",
    uploadsPath: "instance/uploads",
    envNames: ["SECRET_KEY", "FLASK_ENV"],
    migrations: { folder: "migrate", pattern: "migrate_*.py", doneFile: "data/migrations_done.txt" },
    adminPassword: {
        databasePath: "/app/data/mbi_tracker.db",
        table: "admin",
        usernameColumn: "username",
        hashColumn: "password_hash",
        username: "admin",
        defaultPassword: "admin",
    },
};
/** The shell text the container runs (`/bin/sh -c '<this>'`), unquoted by bash itself. */
const innerScript = (script: string): string => {
    const fake = `docker() { for a in "$@"; do last="$a"; done; printf '%s' "$last"; }\n`;
    const out = spawnSync("bash", ["-c", fake + script], {
        encoding: "utf8",
        env: { PATH: process.env.PATH, LM_IMAGE: "sha256:x" },
    });
    expect(out.status).toBe(0);
    return out.stdout;
};

describe("the migrate step's script", () => {
    const script = migrationScript(step);

    test("valid bash; in one container: init hook, migrations, preflight, admin password; stops at the first failure", () => {
        expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
        const inner = innerScript(script);
        const parts = inner.split("; ");
        expect(parts[0]).toBe("set -e");
        expect(parts[1]).toBe("cd /app");
        expect(parts[2]).toBe("env -u LM_ADMIN_PASSWORD python3 -OO /opt/lernmanager/lm_init.py");
        expect(parts[3]).toBe(
            'python3 -OO /opt/lernmanager/lm_migrate.py --folder migrate --pattern "migrate_*.py" --done-file data/migrations_done.txt',
        );
        // The preflight (the new version can become healthy) before the password is touched.
        expect(parts[4]).toBe("env -u LM_ADMIN_PASSWORD python3 -OO /opt/lernmanager/lm_preflight.py");
        expect(parts[5]).toBe(
            "python3 -OO /opt/lernmanager/lm_admin.py --database /app/data/mbi_tracker.db --table admin " +
                "--user-column username --hash-column password_hash --username admin --default-password admin",
        );
        expect(parts).toHaveLength(6);
    });

    test("the generated password comes in by name only, and only the last part sees it", () => {
        expect(script).toContain("-e LM_ADMIN_PASSWORD \\");
        expect(script).not.toMatch(/LM_ADMIN_PASSWORD=/);
        expect(script).toContain("--mount 'type=volume,source=lernmanager-dev-data,target=/app/data'");
        const bare = migrationScript({ ...step, adminPassword: undefined });
        expect(bare).not.toContain("LM_ADMIN_PASSWORD \\");
        expect(innerScript(bare)).not.toContain("lm_admin.py");
    });

    test("odd values reach the helpers unchanged (quoted once for the container's shell)", () => {
        const odd = { ...step.adminPassword!, username: "Frau Müller", defaultPassword: `it's "$HOME" \\ !x` };
        const inner = innerScript(migrationScript({ ...step, adminPassword: odd }));
        // The container's /bin/sh with stand-ins that print the arguments lm_admin.py would get.
        const fakes =
            'cd() { :; }; env() { :; }; python3() { [ "$2" = /opt/lernmanager/lm_admin.py ] && printf "<%s>" "$@"; :; }\n';
        const out = spawnSync("sh", ["-c", fakes + inner], { encoding: "utf8" });
        expect(out.stdout).toContain(`<--username><Frau Müller>`);
        expect(out.stdout).toContain(`<--default-password><it's "$HOME" \\ !x>`);
    });

    test("a migrateCommand replaces the init hook; the runner and the password still follow", () => {
        const inner = innerScript(migrationScript({ ...step, command: "python3 manage.py migrate --it's" }));
        expect(inner).toContain(`env -u LM_ADMIN_PASSWORD /bin/sh -c 'python3 manage.py migrate --it'\\''s'; python3`);
        expect(inner).not.toContain("lm_init.py");
        expect(inner).toMatch(/lm_migrate\.py.*; python3 -OO \/opt\/lernmanager\/lm_admin\.py/);
    });

    test("without an init hook: the runner, the preflight and the password", () => {
        const inner = innerScript(migrationScript({ ...step, initHook: false }));
        expect(inner).not.toContain("lm_init.py");
        expect(inner).toMatch(
            /^set -e; cd \/app; python3 -OO \/opt\/lernmanager\/lm_migrate\.py .*lm_preflight\.py; .*lm_admin\.py/,
        );
    });

    test("is stable (snapshot)", () => {
        expect(script).toMatchSnapshot();
    });
});

describe("the declared stack (Pulumi mocks)", () => {
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runProgram(testConfig(), { stack: "mig", secretKey: "the-secret-key" });
    });
    const migrate = () => run.named("lernmanager-mig-migrate");

    test("a second RandomPassword, kept in state, for the admin", () => {
        const passwords = run.ofType("random:index/randomPassword:RandomPassword");
        expect(passwords.map((p) => p.name).sort()).toEqual([
            "lernmanager-mig-admin-password",
            "lernmanager-mig-secret-key",
        ]);
        expect(run.named("lernmanager-mig-admin-password").inputs).toMatchObject({ length: 24, special: false });
    });

    test("the migrate step's environment carries the password, the whole environment marked secret", () => {
        expect(migrate().secretInputs).toEqual(["environment"]);
        const env = migrate().inputs.environment;
        expect(env.LM_ADMIN_PASSWORD).toBe(run.outputs.adminPassword);
        expect(env.LM_ADMIN_PASSWORD).toMatch(/^mockpw[0-9a-f]{26}$/);
        expect(env.LM_ADMIN_PASSWORD).not.toBe(env.SECRET_KEY);
        expect(migrate().inputs.create).not.toContain(env.LM_ADMIN_PASSWORD);
        // The test config points the replacement at the demo app's table.
        expect(migrate().inputs.create).toContain("--table users");
        expect(migrate().inputs.create).toContain("lm_migrate.py --folder migrate");
        expect(run.named("lernmanager-mig-backup").inputs.environment.LM_ADMIN_PASSWORD).toBeUndefined();
        expect(run.named("lernmanager-mig-smoke").inputs.environment.LM_ADMIN_PASSWORD).toBeUndefined();
    });

    test("the app container never gets the admin password", () => {
        const envs = run.named("lernmanager-mig-app").inputs.envs as string[];
        expect(envs.some((e) => e.startsWith("LM_ADMIN_PASSWORD="))).toBe(false);
        expect(envs.join("\n")).not.toContain(String(run.outputs.adminPassword));
    });

    test("the output adminPassword is a secret (and the only secret output)", () => {
        expect(run.secretOutputs).toEqual(["adminPassword"]);
    });

    test("each backup keeps the done-file beside it (a restore puts both back together)", () => {
        expect(run.named("lernmanager-mig-backup").inputs.create).toContain(
            "--done-file '/app/data/migrations_done.txt'",
        );
    });

    test('with adminTable "" there is no admin password, no output, no LM_ADMIN_PASSWORD', async () => {
        const off = await runProgram(testConfig({ "lernmanager:adminTable": "" }), { stack: "off" });
        expect(off.ofType("random:index/randomPassword:RandomPassword")).toHaveLength(1);
        expect(off.outputs.adminPassword).toBeUndefined();
        expect(off.named("lernmanager-off-migrate").inputs.environment.LM_ADMIN_PASSWORD).toBeUndefined();
        expect(off.named("lernmanager-off-migrate").inputs.create).not.toContain("lm_admin.py");
        const noRunner = await runProgram(testConfig({ "lernmanager:migrationsPath": "" }), { stack: "norunner" });
        expect(noRunner.named("lernmanager-norunner-backup").inputs.create).not.toContain("--done-file");
        expect(noRunner.named("lernmanager-norunner-migrate").inputs.create).not.toContain("lm_migrate.py");
    });

    test("with no init hook the migrate step still runs the migrations (and runs no hook)", async () => {
        const noHook = await runProgram(testConfig({ "lernmanager:initHook": "" }), { stack: "nohook" });
        const create = noHook.named("lernmanager-nohook-migrate").inputs.create as string;
        expect(create).toContain("lm_migrate.py");
        expect(create).not.toContain("lm_init.py");
        expect(noHook.named("lernmanager-nohook-candidate").opts.dependsOn).toContain("lernmanager-nohook-migrate");
    });
});

describe("the demo app's migrations", () => {
    const dir = path.join(PROJECT_DIR, "demo-app", "migrate");
    const files = fs
        .readdirSync(dir)
        .filter((f) => /^migrate_.*\.py$/.test(f))
        .sort();

    test("a few, numbered, each importing the app's own database module (needs PYTHONPATH)", () => {
        expect(files.length).toBeGreaterThanOrEqual(3);
        files.forEach((f, i) => expect(f.startsWith(`migrate_${String(i + 1).padStart(3, "0")}_`)).toBe(true));
        for (const f of files) {
            const text = fs.readFileSync(path.join(dir, f), "utf8");
            expect(text).toMatch(/^import demo_db$/m);
            expect(text).not.toContain("sys.path");
            expect(text).toMatch(/if __name__ == "__main__":\n    run\(\)/);
        }
    });

    test("the runner and the helper are in the runtime image", () => {
        expect(runtimeCopies()).toContain("deploy");
        for (const f of ["lm_migrate.py", "lm_admin.py"])
            expect(fs.existsSync(path.join(PROJECT_DIR, "containers", "runtime", "deploy", f))).toBe(true);
        expect(os.EOL).toBe("\n");
    });
});
