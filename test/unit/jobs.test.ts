import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { SCHEDULER_HEALTHCHECK, SCHEDULER_STOP_GRACE_SECONDS } from "../../components/jobs";
import { ConfigError, loadConfig } from "../../config/load";
import { cronFields, CronError, isTimeZone } from "../../config/jobs";
import { CONTAINERS_DIR, PROJECT_DIR } from "../../core/paths";
import { statusReport } from "../../cli/statusReport";
import { runtimeCopies } from "../support/runtimeImage";
import { ProgramRun, runProgram, testConfig } from "../support/mocks";

const CONTAINER = "docker:index/container:Container";
const LM_CRONEXPR = path.join(CONTAINERS_DIR, "runtime", "jobs", "lm_cronexpr.py");
const ctx = { project: "lernmanager", projectDir: PROJECT_DIR };
const loadJobs = (jobs: unknown) => loadConfig({ "lernmanager:jobs": JSON.stringify(jobs) }, ctx).jobs;
const problemsOf = (jobs: unknown): string[] => {
    try {
        loadJobs(jobs);
    } catch (e) {
        if (e instanceof ConfigError) return [...e.problems];
        throw e;
    }
    return [];
};
const weekly = {
    name: "weekly-reports",
    schedule: "0 0 * * 1",
    command: "python3 generate_weekly_reports.py",
    timeZone: "Europe/Berlin",
};

describe("the scheduler in the container (containers/runtime/jobs/lm_cron.py)", () => {
    test("its Python unit tests pass (cron parsing, time zones, exactly-once, catch-up, health)", () => {
        const r = spawnSync(
            "python3",
            ["-W", "error", "-m", "unittest", "discover", "-s", "test/unit/python", "-p", "test_*.py"],
            {
                cwd: PROJECT_DIR,
                encoding: "utf8",
            },
        );
        expect(r.stderr).toMatch(/\nOK\s*$/);
        expect(Number(/Ran (\d+) tests/.exec(r.stderr)?.[1])).toBeGreaterThanOrEqual(18);
        expect(r.status).toBe(0);
    });

    // The same table through both parsers: the config check accepts exactly what the scheduler runs.
    const table = [
        "* * * * *",
        "0 0 * * 1",
        "30 0 * * *",
        "*/15 9-17 * * mon-fri",
        "0,30 6-18/2 1,15 jan-jun,dec sun",
        "0 0 13 * 5",
        "5 4 * * 7",
        "@daily",
        "@weekly",
        "0 0 29 2 *",
        "* * * *",
        "60 * * * *",
        "* 24 * * *",
        "5/10 * * * *",
        "*/0 * * * *",
        "5-1 * * * *",
        "0 0 31 2 *",
        "0 0 * foo *",
        "1,,2 * * * *",
        "0 0 0 * *",
        "0 0 * * 8",
    ];
    test.each(table)("TypeScript and Python agree on %j", (expr) => {
        const py = spawnSync("python3", [LM_CRONEXPR, expr], { encoding: "utf8" });
        let ts: unknown;
        try {
            ts = cronFields(expr);
        } catch (e) {
            if (!(e instanceof CronError)) throw e;
            ts = "error";
        }
        const fromPy = py.status === 0 ? JSON.parse(py.stdout) : py.status === 2 ? "error" : `crashed: ${py.stderr}`;
        expect(fromPy).toEqual(ts);
    });

    test("the runtime image ships it", () => {
        expect(runtimeCopies()).toContain("jobs");
        expect(fs.existsSync(path.join(CONTAINERS_DIR, "runtime", "jobs", "lm_cron.py"))).toBe(true);
        expect(fs.existsSync(path.join(CONTAINERS_DIR, "runtime", "jobs", "lm_cronexpr.py"))).toBe(true);
    });
});

describe("config `jobs`: every field checked before any resource exists", () => {
    test("a valid list gives typed jobs; timeZone defaults to UTC", () => {
        expect(loadJobs([weekly, { name: "tick", schedule: "* * * * *", command: "date" }])).toEqual([
            { ...weekly, nothingToDoExitCodes: [1] },
            { name: "tick", schedule: "* * * * *", command: "date", timeZone: "UTC", nothingToDoExitCodes: [] },
        ]);
        expect(loadConfig({}, ctx).jobs).toEqual([]);
    });

    test("nothingToDoExitCodes: [1] by default for the weekly reports script (it exits 1 without a report), else none", () => {
        const codes = (job: Record<string, unknown>) => loadJobs([job])[0].nothingToDoExitCodes;
        expect(codes(weekly)).toEqual([1]);
        expect(codes({ ...weekly, command: "cd /app && python3 /app/generate_weekly_reports.py --week last" })).toEqual(
            [1],
        );
        expect(codes({ ...weekly, command: "flask --app app auto-attendance" })).toEqual([]);
        expect(codes({ ...weekly, command: "python3 generate_weekly_reports.py.bak" })).toEqual([]);
        // Given: taken as given (sorted, once each); [] counts every non-zero exit as a failure.
        expect(codes({ ...weekly, nothingToDoExitCodes: [] })).toEqual([]);
        expect(codes({ ...weekly, command: "./sync.sh", nothingToDoExitCodes: [3, 75, 3] })).toEqual([3, 75]);
    });

    test.each([
        [
            { ...weekly, schedule: "0 0 * * 1 *" },
            /jobs\[0\] \(job "weekly-reports"\): schedule = "0 0 \* \* 1 \*" is not a valid cron expression: needs 5 fields.*Fix:/,
        ],
        [{ ...weekly, schedule: "0 25 * * *" }, /hour: 25 is outside 0-23.*Fix: 5 fields/],
        [
            { ...weekly, timeZone: "Europe/Berlim" },
            /\(job "weekly-reports"\): timeZone = "Europe\/Berlim" is not a known IANA time zone\. Fix: e\.g\. timeZone: Europe\/Berlin/,
        ],
        [{ ...weekly, timeZone: "europe/berlin" }, /timeZone = "europe\/berlin" is not a known IANA time zone/],
        [
            { ...weekly, name: "Weekly Reports" },
            /name = "Weekly Reports" must be 1-40 lowercase letters.*Fix: e\.g\. name: weekly-reports/,
        ],
        [{ ...weekly, name: "../etc" }, /name = "\.\.\/etc" must be/],
        [{ ...weekly, command: "  " }, /command must be a non-empty shell command.*Fix:/],
        [{ ...weekly, schedul: "x" }, /unknown field "schedul"\. Fix: use only name, schedule, command, timeZone/],
        [
            { ...weekly, nothingToDoExitCodes: [0] },
            /\(job "weekly-reports"\): nothingToDoExitCodes = \[0\] must be a list of exit codes from 1 to 255 .*Fix: e\.g\. nothingToDoExitCodes: \[1\]/,
        ],
        [{ ...weekly, nothingToDoExitCodes: 1 }, /nothingToDoExitCodes = 1 must be a list of exit codes/],
        [{ ...weekly, nothingToDoExitCodes: ["1"] }, /nothingToDoExitCodes = \["1"\] must be a list/],
        [{ ...weekly, nothingToDoExitCodes: [256] }, /nothingToDoExitCodes = \[256\] must be a list/],
        ["weekly", /jobs\[0\] = "weekly": must be an object/],
    ])("rejects %j", (job, message) => {
        const problems = problemsOf([job]);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(/^lernmanager:jobs\[0\]/);
        expect(problems[0]).toMatch(message);
    });

    test("rejects a name used twice, naming the second job", () => {
        expect(problemsOf([weekly, { ...weekly, schedule: "@daily" }])).toEqual([
            'lernmanager:jobs[1] (job "weekly-reports"): the name "weekly-reports" is used twice. Fix: give each job its own name.',
        ]);
    });

    test("rejects a value that is not a list, with an example", () => {
        const problems = loadConfigProblems({ "lernmanager:jobs": '{"name":"x"}' });
        expect(problems[0]).toMatch(/^lernmanager:jobs = .*must be a list of jobs\. Fix: .*schedule: 0 0 \* \* 1/s);
    });

    test("isTimeZone: IANA names and UTC, nothing else", () => {
        expect(["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+1"].every(isTimeZone)).toBe(true);
        expect(["", "Mars/Base", "Berlin", "Europe/../Berlin", "Europe/Berlin "].some(isTimeZone)).toBe(false);
    });

    test("Pulumi.prod.yaml declares the weekly reports (Mondays 00:00) and the daily auto-attendance, Europe/Berlin", () => {
        const prod = YAML.parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.prod.yaml"), "utf8")).config;
        const jobs = loadJobs(prod["lernmanager:jobs"]);
        expect(jobs.map((j) => [j.name, j.command, j.timeZone])).toEqual([
            ["weekly-reports", "python3 generate_weekly_reports.py", "Europe/Berlin"],
            ["auto-attendance", "flask --app app auto-attendance", "Europe/Berlin"],
        ]);
        expect(jobs[0].schedule).toBe("0 0 * * 1");
        // The real app's weekly reports exit 1 when there is no report: nothing to do, not an alarm.
        expect(jobs.map((j) => j.nothingToDoExitCodes)).toEqual([[1], []]);
        const daily = cronFields(jobs[1].schedule);
        expect([daily.minute.length, daily.hour.length, daily.dayOfMonth.length, daily.dayOfWeek.length]).toEqual([
            1, 1, 31, 7,
        ]);
    });
});

function loadConfigProblems(raw: Record<string, string>): string[] {
    try {
        loadConfig(raw, ctx);
    } catch (e) {
        if (e instanceof ConfigError) return [...e.problems];
        throw e;
    }
    return [];
}

describe("the scheduler container (Pulumi mocks)", () => {
    const jobs = [
        weekly,
        {
            name: "auto-attendance",
            schedule: "30 0 * * *",
            command: "flask --app app auto-attendance",
            timeZone: "Europe/Berlin",
        },
    ];
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runProgram(
            testConfig({ "lernmanager:jobs": JSON.stringify(jobs), "lernmanager:appEnv": '["LANGUAGE=de"]' }),
            {
                stack: "jobs",
            },
        );
    });
    const app = () => run.named("lernmanager-jobs-app");
    const scheduler = () => run.named("lernmanager-jobs-scheduler");

    test("gets exactly the app container's image, environment (SECRET_KEY included, secret), volumes and tmpfs", () => {
        for (const field of ["image", "envs", "mounts", "tmpfs"]) {
            expect({ field, value: scheduler().inputs[field] }).toEqual({ field, value: app().inputs[field] });
        }
        expect(scheduler().inputs.envs).toEqual(
            expect.arrayContaining([
                expect.stringMatching(/^SECRET_KEY=mock-secret-key-/),
                "FLASK_ENV=production",
                "TZ=Europe/Berlin",
            ]),
        );
        expect(scheduler().secretInputs).toEqual(["envs"]);
    });

    test("has the app container's hardening, limits, logs and restart policy", () => {
        for (const field of [
            "readOnly",
            "capabilities",
            "securityOpts",
            "memory",
            "ulimits",
            "logDriver",
            "logOpts",
            "init",
            "restart",
        ]) {
            expect({ field, value: scheduler().inputs[field] }).toEqual({ field, value: app().inputs[field] });
        }
        expect(scheduler().inputs.readOnly).toBe(true);
        expect(scheduler().inputs.capabilities).toEqual({ drops: ["ALL"] });
        expect(scheduler().inputs.securityOpts).toEqual(["no-new-privileges:true"]);
        expect(scheduler().inputs.memory).toBe(1024);
        expect(scheduler().inputs.logOpts).toEqual({ "max-size": "10m", "max-file": "5" });
    });

    test("runs lm_cron.py with the jobs as JSON, health-checked, and waits for health", () => {
        expect(scheduler().inputs.entrypoints).toEqual(["python3", "-OO", "/opt/lernmanager/lm_cron.py"]);
        expect(scheduler().inputs.command[0]).toBe("--jobs");
        expect(JSON.parse(scheduler().inputs.command[1])).toEqual([
            { ...jobs[0], nothingToDoExitCodes: [1] },
            { ...jobs[1], nothingToDoExitCodes: [] },
        ]);
        expect(scheduler().inputs.healthcheck).toEqual(SCHEDULER_HEALTHCHECK);
        expect(scheduler().inputs.wait).toBe(true);
        expect(scheduler().inputs.destroyGraceSeconds).toBe(SCHEDULER_STOP_GRACE_SECONDS);
        expect(scheduler().opts.replaceOnChanges).toEqual(["healthcheck", "tmpfs", "init"]);
    });

    test("guards the admin: where the app keeps it, the database file in the container, the public default", () => {
        expect(scheduler().inputs.command.slice(2, 3)).toEqual(["--admin-guard"]);
        expect(JSON.parse(scheduler().inputs.command[3])).toEqual({
            // The demo app's (test config): its database file, its admins in `users`.
            database: "/app/data/lernmanager.db",
            table: "users",
            usernameColumn: "username",
            hashColumn: "password_hash",
            username: "admin",
            defaultPassword: "admin",
        });
    });

    test('without the admin password replacement (adminTable "") there is no guard either', async () => {
        const off = await runProgram(
            testConfig({ "lernmanager:jobs": JSON.stringify(jobs), "lernmanager:adminTable": "" }),
            { stack: "noguard" },
        );
        expect(off.named("lernmanager-noguard-scheduler").inputs.command).toHaveLength(2);
    });

    test("is auto-named and created before the old one is deleted (overlap, never a gap)", () => {
        expect(scheduler().inputs.name).toBeUndefined();
        expect(scheduler().opts.deleteBeforeReplace).toBe(false);
    });

    test("joins the stack's network without the app's alias and publishes nothing", () => {
        expect(scheduler().inputs.networksAdvanced).toEqual([{ name: app().inputs.networksAdvanced[0].name }]);
        expect(scheduler().inputs.ports ?? []).toEqual([]);
    });

    test("carries the stack label and the role scheduler", () => {
        expect(scheduler().inputs.labels).toEqual([
            { label: "dev.lernmanager.stack", value: "jobs" },
            { label: "dev.lernmanager.role", value: "scheduler" },
        ]);
    });

    test("is created after the migration and the candidate (runs the migrated, proven image) and the image janitor", () => {
        expect(scheduler().opts.dependsOn).toEqual(["lernmanager-jobs-candidate", "lernmanager-jobs-image-cleanup"]);
        expect(scheduler().order).toBeGreaterThan(run.named("lernmanager-jobs-migrate").order);
        expect(scheduler().opts.parent).toBe("lernmanager-jobs-scheduler");
    });

    test("does not exist without jobs", async () => {
        const none = await runProgram(testConfig(), { stack: "nojobs" });
        expect(none.ofType(CONTAINER).map((c) => c.name)).toEqual([
            "lernmanager-nojobs-app",
            "lernmanager-nojobs-backups",
            "lernmanager-nojobs-nginx",
        ]);
    });

    test("a bad job creates no resource at all", async () => {
        await expect(
            runProgram(testConfig({ "lernmanager:jobs": JSON.stringify([{ ...weekly, schedule: "nope" }]) }), {
                stack: "badjob",
            }),
        ).rejects.toThrow(
            /lernmanager:jobs\[0\] \(job "weekly-reports"\): schedule = "nope" is not a valid cron expression/,
        );
    });
});

describe("npm run status: the jobs and the admin guard", () => {
    const now = new Date("2026-11-30T20:00:00Z");
    const base = {
        stack: "prod",
        now,
        apps: [{ name: "a", version: "v1", health: "healthy" }],
        nginx: { health: "healthy" },
        backup: { health: [] },
    };
    const run = (exitCode: number, outcome?: string) => ({
        tick: "2026-11-30T00:00+01:00",
        exitCode,
        seconds: 0.4,
        ...(outcome ? { outcome } : {}),
    });

    test("nothing to do is shown as such and needs no person; the guard's replacements are shown", () => {
        const r = statusReport({
            ...base,
            scheduler: {
                health: "healthy",
                status: {
                    jobs: {
                        "weekly-reports": { last_run: run(1, "nothing to do") },
                        "auto-attendance": { last_run: run(0, "ok") },
                    },
                    adminGuard: {
                        replaced: 2,
                        last: { time: "2026-11-30T19:50:00+00:00", user: "admin", scheduler: "abc" },
                    },
                },
            },
        });
        const text = r.lines.join("\n");
        expect(text).toContain("job weekly-reports   nothing to do, tick 2026-11-30T00:00+01:00 (exit 1, 0.4 s)");
        expect(text).toContain("job auto-attendance  ok, tick 2026-11-30T00:00+01:00 (0.4 s)");
        expect(text).toContain(
            'admin guard   put a random password on the recreated default "admin" 2 time(s), last 2026-11-30 19:50 UTC (10 min ago)',
        );
        expect(r.problems).toEqual([]);
    });

    test("a failed job (also one recorded before outcomes were) and an unhealthy scheduler need a person", () => {
        const r = statusReport({
            ...base,
            scheduler: {
                health: "unhealthy",
                status: { jobs: { "weekly-reports": { last_run: run(1) } }, adminGuard: null },
            },
        });
        expect(r.lines.join("\n")).toContain("admin guard   no default admin password came back");
        expect(r.problems).toEqual([
            "the scheduler is unhealthy",
            "job weekly-reports failed (tick 2026-11-30T00:00+01:00, exit code 1)",
        ]);
        expect(r.lines.at(-1)).toMatch(/^NEEDS A PERSON: the scheduler is unhealthy; job weekly-reports failed/);
    });
});
