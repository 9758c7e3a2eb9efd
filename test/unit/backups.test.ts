import { spawnSync } from "child_process";
import { load, problems } from "../support/config";
import { PROJECT_DIR } from "../../core/paths";
import * as path from "path";
import { backupAgentRetention, backupAgentSettings } from "../../components/backups";
import { runProgram, testConfig } from "../support/mocks";
import { CONTAINER } from "../support/engineMapping";
import { statusReport, type StatusFacts } from "../../cli/statusReport";

describe("backup config", () => {
    test("the backup container: the app image, no network, live data under /srv/live, copy folders bound, the app's folders on tmpfs", async () => {
        const run = await runProgram(testConfig({ "lernmanager:backupCopyTo": '["/mnt/nas/lm"]' }), { stack: "bk" });
        const c = run.named("lernmanager-bk-backups");
        expect(c.type).toBe(CONTAINER);
        expect(c.inputs.image).toBe(run.named("lernmanager-bk-app").inputs.image);
        expect(c.inputs.networkMode).toBe("none");
        expect(c.inputs.wait).toBeUndefined();
        expect(c.inputs.mounts).toEqual([
            { type: "volume", source: "lernmanager-bk-data", target: "/srv/live/data" },
            { type: "volume", source: "lernmanager-bk-uploads", target: "/srv/live/uploads", readOnly: true },
            // The persistent folders, read-only: each backup keeps them beside the uploads.
            {
                type: "volume",
                source: "lernmanager-bk-keep-instance-reports",
                target: "/srv/live/keep-instance-reports",
                readOnly: true,
            },
            { type: "volume", source: "lernmanager-bk-backups", target: "/backups" },
            { type: "bind", source: "/mnt/nas/lm", target: "/srv/copy/0" },
        ]);
        expect(Object.keys(c.inputs.tmpfs)).toEqual(
            expect.arrayContaining([
                "/app/data",
                "/app/instance/uploads",
                "/app/instance/reports",
                "/app/instance/tmp",
            ]),
        );
        expect(c.secretInputs).toContain("envs");
        const settings = JSON.parse(c.inputs.command[1]);
        expect(settings).toMatchObject({
            database: "/srv/live/data/lernmanager.db",
            stem: "lernmanager",
            everySeconds: 21600,
        });
        expect(settings.doneFile).toBe("/srv/live/data/migrations_done.txt");
        expect(backupAgentSettings(load({ databaseFile: "mbi_tracker.db" })).stem).toBe("mbi_tracker");
        // Each backup keeps the persistent folders beside the uploads; restore.sh puts them back where the app has them.
        const withReports = backupAgentSettings(load({ persistentPaths: '["instance/reports"]' }));
        expect(withReports.folders).toEqual([
            ["instance-reports", "/srv/live/keep-instance-reports", "/app/instance/reports"],
        ]);
        expect(withReports.appUploads).toBe("/app/instance/uploads");
        expect(backupAgentSettings(load({ persistentPaths: "[]" })).folders).toBeUndefined();
    });

    test("the backup container gets the app's environment without the secrets of services it never calls", async () => {
        const run = await runProgram(
            testConfig({
                "lernmanager:llmApiKey": "sk-llm",
                "lernmanager:gradingServiceToken": "grading-token",
                "lernmanager:gradingServiceCallbackSecret": "callback-secret",
                "lernmanager:schoolName": "Schule Am Walde",
            }),
            { stack: "bk-env" },
        );
        const names = (envs: string[]) => envs.map((v) => v.slice(0, v.indexOf("=")));
        const app = names(run.named("lernmanager-bk-env-app").inputs.envs);
        const backups = names(run.named("lernmanager-bk-env-backups").inputs.envs);
        for (const secret of ["LLM_API_KEY", "GRADING_SERVICE_TOKEN", "GRADING_SERVICE_CALLBACK_SECRET"]) {
            expect(app).toContain(secret);
            expect(backups).not.toContain(secret);
        }
        // What the drill needs to start the app as it runs.
        expect(backups).toEqual(expect.arrayContaining(["SECRET_KEY", "SCHOOL_NAME", "FLASK_ENV"]));
        expect(run.named("lernmanager-bk-env-backups").secretInputs).toContain("envs");
    });
});

describe("retention and backupKeep reach both backup paths", () => {
    // Distinct numbers per kind: a swap of two kinds, or a key that is read but not passed on, shows.
    const config = {
        "lernmanager:backupKeep": "3",
        "lernmanager:backupRetention": "hourly=5,daily=11,weekly=17",
    };

    test("backupAgentRetention passes hourly, daily and weekly each under its own name", () => {
        expect(backupAgentRetention(load({ backupRetention: "hourly=5,daily=11,weekly=17" }))).toBe(
            "hourly=5,daily=11,weekly=17",
        );
    });

    test("the scheduled loop and the pre-deploy backup get the configured backupKeep and retention", async () => {
        const run = await runProgram(testConfig(config), { stack: "keep" });
        const settings = JSON.parse(run.named("lernmanager-keep-backups").inputs.command[1]);
        expect(settings).toMatchObject({ keep: 3, retention: "hourly=5,daily=11,weekly=17" });
        const script: string = run.named("lernmanager-keep-backup").inputs.create;
        expect(script).toMatch(/ --keep 3 /);
        expect(script).toContain("--retention 'hourly=5,daily=11,weekly=17'");
        // And a different backupKeep gives a different number (not a default that happens to match).
        const other = await runProgram(testConfig({ ...config, "lernmanager:backupKeep": "4" }), { stack: "keep" });
        expect(JSON.parse(other.named("lernmanager-keep-backups").inputs.command[1]).keep).toBe(4);
        expect(other.named("lernmanager-keep-backup").inputs.create).toMatch(/ --keep 4 /);
    });
});

describe("dataHostPath", () => {
    test("a relative or system folder is refused, naming the key and the fix", () => {
        expect(problems({ dataHostPath: "srv/lm" })[0]).toMatch(
            /^lernmanager:dataHostPath = "srv\/lm": must be an absolute folder .*a relative path is refused.*Fix: `pulumi config set dataHostPath \/srv\/lernmanager`/,
        );
        expect(problems({ dataHostPath: "/var/lib/docker/x" })).toHaveLength(1);
        expect(load({ dataHostPath: "/srv/lm/" }).dataHostPath).toBe("/srv/lm");
    });

    test("the kept volumes bind to folders under it; the deploy checks its marker first; the app is told", async () => {
        const run = await runProgram(testConfig({ "lernmanager:dataHostPath": "/srv/lm" }), { stack: "hp" });
        const opts = (n: string) => run.named(`lernmanager-hp-storage-${n}`).inputs;
        expect(opts("data")).toMatchObject({
            driver: "local",
            driverOpts: { type: "none", o: "bind", device: "/srv/lm/data" },
        });
        expect(opts("backups").driverOpts.device).toBe("/srv/lm/backups");
        expect(opts("uploads").driverOpts.device).toBe("/srv/lm/uploads");
        expect(opts("static").driverOpts).toBeUndefined();
        expect(run.named("lernmanager-hp-storage-keep-instance-reports").inputs.driverOpts.device).toBe(
            "/srv/lm/keep-instance-reports",
        );
        const script: string = run.named("lernmanager-hp-backup").inputs.create;
        expect(script.split("\n")[0]).toMatch(
            /type=bind,source=\/srv\/lm,target=\/check,readonly.*test -f \/check\/\.lernmanager-data-mount/,
        );
        expect(script).toMatch(/is not mounted .*unlock and mount the disk/);
        const plain = await runProgram(testConfig(), { stack: "nohp" });
        expect(plain.named("lernmanager-nohp-storage-data").inputs.driverOpts).toBeUndefined();
        expect(plain.named("lernmanager-nohp-backup").inputs.create).not.toMatch(/\/check/);
    });
});

describe("npm run status: one screen and a verdict", () => {
    const now = new Date("2026-11-30T20:00:00Z");
    const good: StatusFacts = {
        stack: "prod",
        now,
        apps: [{ name: "a", version: "3f2a9c1d0e4b", health: "healthy" }],
        nginx: { health: "healthy" },
        backup: {
            lastBackup: {
                file: "x.db",
                time: "2026-11-30T19:56:00+00:00",
                bytes: 73728,
                seconds: 0.01,
                reason: "scheduled",
            },
            lastDrill: {
                time: "2026-11-30T19:56:10+00:00",
                ok: true,
                backup: "x.db",
                seconds: 8.3,
                rows: { users: 31, tasks: 12 },
                healthz: 200,
            },
            copies: { "/mnt/nas": { time: "2026-11-30T19:56:01+00:00", ok: true } },
            config: { copyDirs: [["/mnt/nas", "/srv/copy/0"]], sftp: [] },
            backups: [{ file: "x.db", bytes: 73728 }],
            disk: { free: 41e9, total: 100e9 },
            health: [],
        },
    };
    test("all well: OK", () => {
        const r = statusReport(good);
        expect(r.problems).toEqual([]);
        expect(r.lines.join("\n")).toMatch(
            /last drill {4}ok 2026-11-30 19:56 UTC \(4 min ago\), 8.3 s, integrity ok, 2 tables, 43 rows/,
        );
        expect(r.lines.at(-1)).toBe("OK");
    });
    test("a failed drill, an unhealthy app, a missing backup container need a person", () => {
        const b = good.backup as any;
        expect(
            statusReport({
                ...good,
                backup: {
                    ...b,
                    lastDrill: { ...b.lastDrill, ok: false, error: "malformed" },
                    health: ["the last restore drill failed"],
                },
            }).problems,
        ).toEqual(["the last restore drill failed"]);
        expect(statusReport({ ...good, apps: [{ ...good.apps[0], health: "unhealthy" }] }).problems).toEqual([
            "the app is unhealthy",
        ]);
        expect(statusReport({ ...good, backup: { error: "no running backup container" } }).lines.at(-1)).toMatch(
            /^NEEDS A PERSON: backups: no running/,
        );
        expect(statusReport({ ...good, backup: { ...b, disk: { free: 5e9, total: 100e9 } } }).problems).toEqual([
            "only 5 % of the data path's disk is free",
        ]);
    });
    test("a failed backup: the reason and the next try; copies say whether they are encrypted", () => {
        const b = good.backup as any;
        const r = statusReport({
            ...good,
            backup: {
                ...b,
                lastBackupError: { time: "2026-11-30T19:58:00Z", error: "not enough free space in /backups" },
                retryAfter: "2026-11-30T20:03:00+00:00",
                health: ["the last backup failed: not enough free space in /backups"],
                config: { copyDirs: [["/mnt/nas", "/srv/copy/0"]] },
                copies: { "/mnt/nas": { time: "2026-11-30T19:56:00Z", ok: true, encrypted: true } },
            },
        });
        const text = r.lines.join("\n");
        expect(text).toContain(
            "backup FAILED 2026-11-30 19:58 UTC (2 min ago): not enough free space in /backups; next try 20:03 UTC",
        );
        expect(text).toContain("off-host copy /mnt/nas: ok 2026-11-30 19:56 UTC (4 min ago), encrypted");
        expect(r.problems).toEqual(["the last backup failed: not enough free space in /backups"]);
    });
});

test("lm_backup.py / lm_backupd.py / lm_drill.py / lm_sftp.py compile", () => {
    const files = ["lm_backup.py", "lm_backupd.py", "lm_drill.py", "lm_sftp.py"].map((f) =>
        path.join(PROJECT_DIR, "containers", "runtime", "backups", f),
    );
    const r = spawnSync("python3", ["-m", "py_compile", ...files], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
});
