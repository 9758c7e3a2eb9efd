/**
 * `npm run import -- <stack> <old install> --overwrite` on a stack that already holds data (wall time
 * about 4 min, 2 cores): before anything is replaced, a `before-import` backup of the database and
 * uploads goes into the stack's backups volume, and `npm run restore` brings that data back.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { loadConfig } from "../../config/load";
import { formatImport } from "../../cli/importReport";
import { stackNames } from "../../core/names";
import { PROJECT_DIR } from "../../core/paths";
import { parseSource, runImport } from "../../render/import";
import { testConfig } from "../support/mocks";
import { docker, localEngine } from "../support/realize";
import { copyOfDemoApp, execIn, liveStack, LiveStack } from "../support/stack";

jest.setTimeout(900000);

const STACK = "e2e-dis-imp";
const app = copyOfDemoApp();
const old = copyOfDemoApp();
let s: LiveStack | undefined;

const sql = async (code: string) =>
    (
        await execIn(s!.app(), [
            "python3",
            "-c",
            `import sqlite3; db = sqlite3.connect('/app/data/lernmanager.db')\n${code}`,
        ])
    ).output.trim();
const stackContainers = () =>
    docker.listContainers({ filters: { label: [`dev.lernmanager.stack=${STACK}`] } }).then((l) => l.map((c) => c.Id));

beforeAll(async () => {
    // The old install: the app's own database, with a task only it has.
    const setup = [
        "import sqlite3",
        "import app; app.init_app()",
        "db = sqlite3.connect('data/lernmanager.db')",
        "db.execute(\"insert into tasks (title) values ('Vom alten Server')\"); db.commit()",
    ].join("\n");
    execFileSync(
        "docker",
        [
            "run",
            "--rm",
            "-v",
            `${old.dir}:/opt/lernmanager`,
            "-w",
            "/opt/lernmanager",
            "-e",
            "SECRET_KEY=old",
            "-e",
            "PYTHONPATH=/opt/lernmanager",
            testConfig()["lernmanager:pythonImage"],
            "python3",
            "-c",
            setup,
        ],
        { stdio: "pipe" },
    );
    s = await liveStack(STACK, { "lernmanager:appSource": app.dir, "lernmanager:backupEvery": "off" });
});
afterAll(async () => {
    await s?.realization.teardown();
    app.remove();
    old.remove();
});

test("import --overwrite takes a before-import backup first, and npm run restore brings the data back", async () => {
    await sql("db.execute(\"insert into classes (name) values ('Klasse vor dem Import')\"); db.commit()");
    await execIn(s!.app(), [
        "sh",
        "-c",
        "mkdir -p /app/instance/uploads/k9 && echo vorher > /app/instance/uploads/k9/b.txt",
    ]);
    // The import runs with the stack stopped (it refuses a running app).
    const ids = await stackContainers();
    await Promise.all(
        ids.map((id) =>
            docker
                .getContainer(id)
                .stop({ t: 40 })
                .catch(() => undefined),
        ),
    );
    const report = await runImport({
        stack: STACK,
        names: stackNames("lernmanager", STACK),
        config: loadConfig(testConfig(), { project: "lernmanager", projectDir: PROJECT_DIR }),
        source: parseSource(old.dir),
        overwrite: true,
        dockerEnv: { DOCKER_HOST: localEngine() },
    });
    expect(report.safetyBackup).toMatch(/^lernmanager-\d{8}T\d{12}Z-before-import\.db$/);
    expect(formatImport(report, STACK).join("\n")).toContain(
        `safety backup ${report.safetyBackup} in the backups volume; undo with \`npm run restore -- ${STACK} ${report.safetyBackup}\``,
    );
    await Promise.all(
        ids.map((id) =>
            docker
                .getContainer(id)
                .start()
                .catch(() => undefined),
        ),
    );
    // The old install's data is in; the class written before the import is gone from the live database.
    await new Promise((r) => setTimeout(r, 3000));
    const bk = s!.realization.container(`${STACK}-backups`);
    const inBackup = (
        await execIn(bk, [
            "sh",
            "-c",
            `ls -ln /backups/${report.safetyBackup} && cat /backups/${report.safetyBackup}.uploads/k9/b.txt`,
        ])
    ).output;
    expect(inBackup).toMatch(/^-rw------- 1 10001 10001 /);
    expect(inBackup).toContain("vorher");
    const restored = spawnSync("bash", ["cli/restore.sh", STACK, report.safetyBackup!], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
        timeout: 300000,
    });
    expect(`${restored.stdout}${restored.stderr}`).toContain(
        `done: ${report.safetyBackup} restored, the app is healthy again`,
    );
    expect(restored.status).toBe(0);
    expect(
        await sql(
            "print(db.execute(\"select count(*) from classes where name = 'Klasse vor dem Import'\").fetchone()[0])",
        ),
    ).toBe("1");
    expect(
        await sql("print(db.execute(\"select count(*) from tasks where title = 'Vom alten Server'\").fetchone()[0])"),
    ).toBe("0");
    expect(fs.existsSync(path.join(old.dir, "data", "lernmanager.db"))).toBe(true);
});
