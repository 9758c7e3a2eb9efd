/**
 * What the real Lernmanager does between deploys, on a real engine with the demo app (which mirrors
 * it): a renamed admin brings `admin`/`admin` back with the next gunicorn worker's init_app(), and the
 * scheduler's admin guard replaces that password within a bounded time; the question import's ZIP
 * folder (TMPDIR/lernmanager_import) is a volume on the scratch tmpfs, so a file there is still
 * there for the new app container after an update, while the rest of the scratch folder is not.
 *
 * The scheduler runs on a test clock (LM_CRON_CLOCK, SPEED times the wall clock), so its
 * once-a-minute check comes every 60/SPEED wall seconds. A job whose exit 1 means "nothing to do"
 * leaves the scheduler healthy. Mostly waits and builds (one deploy, one update).
 */
import * as fs from "fs";
import * as path from "path";
import { loginAttempt } from "../support/http";
import { copyOfDemoApp, gunicornProcesses, liveStack, LiveStack, redeclare } from "../support/stack";

jest.setTimeout(600000);

const STACK = "e2e-twin-guards";
const SPEED = 6;
const IMPORT_DIR = "/app/instance/tmp/lernmanager_import";
let s: LiveStack;
const app = copyOfDemoApp();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
    s = await liveStack(
        STACK,
        {
            "lernmanager:appSource": app.dir,
            // A job whose exit 1 means "nothing to do" (as the weekly reports' without a report).
            "lernmanager:jobs": JSON.stringify([
                {
                    name: "idle",
                    schedule: "* * * * *",
                    command: "echo no report this week; exit 1",
                    nothingToDoExitCodes: [1],
                },
            ]),
            "lernmanager:persistentPaths": JSON.stringify(["instance/reports", "instance/tmp/lernmanager_import"]),
        },
        undefined,
        undefined,
        { "-scheduler": [`LM_CRON_CLOCK=${SPEED}x@${Math.floor(Date.now() / 1000)}`] },
    );
});
afterAll(async () => {
    await s?.realization.teardown();
    app.remove();
});

/** Python in the app container with the app's database open as `db`. */
async function py(code: string): Promise<string> {
    const prelude =
        "import os, sqlite3\ndb = sqlite3.connect(os.path.join(os.environ['LM_APP_DIR'], os.environ['LM_DATA_PATH'], os.environ['LM_DATABASE_FILE']))\n";
    return (await s.exec(s.app(), ["python3", "-c", prelude + code])).output.trim();
}
const adminHash = async () =>
    py(
        "r = db.execute(\"select password_hash from users where username = 'admin'\").fetchone()\nprint(r[0] if r else '')",
    );

test("a renamed admin's default comes back with a new worker; the scheduler's guard replaces it within a bounded time", async () => {
    const scheduler = s.realization.container("-scheduler");
    // The deploy replaced the default; the school renames its admin.
    expect((await loginAttempt(s.port, "admin", "admin")).ok).toBe(false);
    await py("db.execute(\"update users set username = 'chef' where username = 'admin'\"); db.commit()");
    expect(await adminHash()).toBe("");
    const chefBefore = await py(
        "print(db.execute(\"select password_hash from users where username = 'chef'\").fetchone()[0])",
    );

    // A worker restarts (as after a crash): gunicorn forks a new one, whose init_app() recreates admin/admin.
    const { workers } = await gunicornProcesses(s.app());
    await s.exec(s.app(), ["sh", "-c", `kill -TERM ${workers[0].pid}`]);
    const killed = Date.now();
    let recreatedAt = 0;
    let recreatedHash = "";
    while (Date.now() - killed < 30000 && !recreatedHash) {
        recreatedHash = await adminHash();
        if (recreatedHash) recreatedAt = Date.now();
        else await sleep(200);
    }
    expect(recreatedHash).not.toBe("");

    // The guard: within a minute of its clock (60/SPEED wall seconds) plus its poll, the default no
    // longer verifies; the recreated row has a password nobody knows, the renamed admin is untouched.
    const bound = (60 / SPEED + 5) * 1000;
    let replacedAt = 0;
    while (Date.now() - recreatedAt < bound + 20000) {
        const h = await adminHash();
        if (h && h !== recreatedHash) {
            replacedAt = Date.now();
            break;
        }
        await sleep(250);
    }
    const seconds = replacedAt ? (replacedAt - recreatedAt) / 1000 : NaN;
    console.log(
        `admin guard: default admin/admin recreated by a new worker, replaced after ${seconds.toFixed(1)} s (clock ${SPEED}x; bound ${bound / 1000} s)`,
    );
    expect(replacedAt).toBeGreaterThan(0);
    expect(replacedAt - recreatedAt).toBeLessThanOrEqual(bound);
    expect((await loginAttempt(s.port, "admin", "admin")).ok).toBe(false);
    expect(
        await py("print(db.execute(\"select password_hash from users where username = 'chef'\").fetchone()[0])"),
    ).toBe(chefBefore);

    // Logged, and kept for `npm run status` (lm_cron.py --status in the scheduler).
    const logs = await s.logs(scheduler);
    expect(logs).toMatch(/admin guard: 'admin' had the default password again .*replaced by a random one nobody knows/);
    const status = JSON.parse(
        (await s.exec(scheduler, ["python3", "-OO", "/opt/lernmanager/lm_cron.py", "--status"])).output,
    );
    expect(status.adminGuard.replaced).toBeGreaterThanOrEqual(1);
    expect(status.adminGuard.last.user).toBe("admin");
});

test("a job's nothing-to-do exit code is logged as such, recorded, and the scheduler stays healthy", async () => {
    const scheduler = s.realization.container("-scheduler");
    // Two runs at least (a tick every 60/SPEED s), then a health check after them (every 10 s).
    const deadline = Date.now() + 60000;
    let runs = 0;
    while (Date.now() < deadline && runs < 2) {
        runs = (
            (await s.logs(scheduler)).match(/job idle tick \S+: exit code 1 after [0-9.]+ s: nothing to do\n/g) ?? []
        ).length;
        if (runs < 2) await sleep(1000);
    }
    expect(runs).toBeGreaterThanOrEqual(2);
    await sleep(12000);
    const logs = await s.logs(scheduler);
    expect(logs).not.toMatch(/job idle .*FAILED/);
    const health = (await scheduler.inspect()).State.Health!;
    expect(health.Status).toBe("healthy");
    expect(health.Log.at(-1)!.Output).toMatch(/^ok: /);
    const status = JSON.parse(
        (await s.exec(scheduler, ["python3", "-OO", "/opt/lernmanager/lm_cron.py", "--status"])).output,
    );
    expect(status.jobs.idle.last_run).toMatchObject({
        exitCode: 1,
        outcome: "nothing to do",
        outputTail: ["no report this week"],
    });
    expect(status.jobs.idle.last_failure).toBeUndefined();
});

test("the import ZIP folder survives an update: the new app container finds the file the old one had", async () => {
    const old = await s.app().inspect();
    await s.exec(s.app(), [
        "sh",
        "-c",
        `echo zip-bytes > ${IMPORT_DIR}/waiting.zip && echo scratch > /app/instance/tmp/other.txt`,
    ]);
    expect((await s.exec(s.app(), ["stat", "-c", "%u", IMPORT_DIR])).output.trim()).toBe("10001");

    fs.appendFileSync(path.join(app.dir, "app.py"), `\n# release ${Date.now()}\n`);
    const next = await redeclare(s);
    const replaced = await s.realization.update(next.registrations);
    expect(replaced).toContain(`lernmanager-${STACK}-app`);
    const now = await s.app().inspect();
    expect(now.Id).not.toBe(old.Id);
    expect(now.Config.Env).toEqual(expect.arrayContaining([expect.stringMatching(/^LM_APP_VERSION=/)]));
    expect(now.Config.Env.find((e) => e.startsWith("LM_APP_VERSION="))).not.toBe(
        old.Config.Env.find((e) => e.startsWith("LM_APP_VERSION=")),
    );

    expect((await s.exec(s.app(), ["cat", `${IMPORT_DIR}/waiting.zip`])).output.trim()).toBe("zip-bytes");
    // The rest of TMPDIR is scratch as before: a new tmpfs.
    const scratch = (await s.exec(s.app(), ["ls", "/app/instance/tmp"])).output.split(/\s+/).filter(Boolean);
    expect(scratch).toContain("lernmanager_import");
    expect(scratch).not.toContain("other.txt");
    // The app user can still write there (the volume kept its owner).
    await s.exec(s.app(), ["sh", "-c", `echo more > ${IMPORT_DIR}/second.zip`]);
});
