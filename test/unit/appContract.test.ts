import { spawnSync } from "child_process";
import * as os from "os";
import * as path from "path";
import { CONFIG_KEYS } from "../../config/load";
import { CONTAINERS_DIR } from "../../core/paths";
import { load, problems } from "../support/config";
import { runProgram, testConfig } from "../support/mocks";

describe("the app's contract in config", () => {
    test("defaults: the real Lernmanager's database file, no extra folders, init in every worker", () => {
        const c = load({});
        expect(c.databaseFile).toBe("mbi_tracker.db");
        expect(c.scratchPaths).toEqual([]);
        expect(c.persistentPaths).toEqual([]);
        expect(c.initInWorkers).toBe(true);
        expect(c.loginRatePerMinute).toBe(60);
        // The time zone always: the app's dates are naive local time.
        expect(c.appSettings).toEqual({ TZ: "Europe/Berlin" });
        expect(c.appSecrets).toEqual({});
    });

    test("scratch and persistent folders are lists of folders inside the app", () => {
        const c = load({ scratchPaths: '["instance/tmp/"]', persistentPaths: '["instance/reports"]' });
        expect(c.scratchPaths).toEqual(["instance/tmp"]);
        expect(c.persistentPaths).toEqual(["instance/reports"]);
        expect(problems({ scratchPaths: '["../etc"]' })[0]).toMatch(
            /^lernmanager:scratchPaths\[0\] = "\.\.\/etc": must be a relative folder .*Fix: /,
        );
        expect(problems({ persistentPaths: "instance/reports" })[0]).toMatch(/persistentPaths = .*must be a list/);
        expect(problems({ scratchPaths: '["instance/uploads/tmp"]' })[0]).toMatch(
            /uploadsPath = "instance\/uploads" and lernmanager:scratchPaths\[0\] = "instance\/uploads\/tmp" overlap/,
        );
        expect(problems({ persistentPaths: '["instance/reports", "instance-reports"]' })[0]).toMatch(
            /persistentPaths\[1\] = "instance-reports" would share a volume name with "instance\/reports"/,
        );
    });

    test("the school's settings and secret keys become the app's environment; appEnv may not set them", () => {
        const c = load({ schoolName: "Gesamtschule Am Walde", dsbContact: "dsb@example.org", llmApiKey: "sk-1" });
        expect(c.appSettings).toEqual({
            SCHOOL_NAME: "Gesamtschule Am Walde",
            DSB_CONTACT: "dsb@example.org",
            TZ: "Europe/Berlin",
        });
        expect(load({ timeZone: "Europe/Vienna" }).appSettings.TZ).toBe("Europe/Vienna");
        expect(problems({ timeZone: "Mars/Olympus" })[0]).toMatch(
            /^lernmanager:timeZone = "Mars\/Olympus": not a known IANA time zone\. Fix:/,
        );
        expect(problems({ appEnv: '["TZ=Europe/Berlin"]' })[0]).toMatch(
            /appEnv sets TZ, which has its own key lernmanager:timeZone/,
        );
        expect(c.appSecrets).toEqual({ LLM_API_KEY: "sk-1" });
        expect(problems({ appEnv: '["LLM_API_KEY=sk-2"]' })[0]).toBe(
            "lernmanager:appEnv sets LLM_API_KEY, which has its own key lernmanager:llmApiKey. Fix: `pulumi config set llmApiKey --secret <value>` and remove it from appEnv.",
        );
        const secretKeys = Object.entries(CONFIG_KEYS)
            .filter(([, spec]) => "secret" in spec && spec.secret)
            .map(([k]) => k);
        expect(secretKeys).toEqual([
            "llmApiKey",
            "gradingServiceToken",
            "gradingServiceCallbackSecret",
            "tlsKey",
            "backupSftpKey",
        ]);
    });

    test("secret settings reach only secret inputs (the app's env, the migrate step's environment), never an output", async () => {
        const value = "sk-secret-value-1234";
        const run = await runProgram(testConfig({ "lernmanager:llmApiKey": value }), { stack: "unit-secret" });
        const app = run.named("lernmanager-unit-secret-app");
        expect(app.inputs.envs).toContain(`LLM_API_KEY=${value}`);
        for (const reg of run.registrations) {
            for (const [field, input] of Object.entries(reg.inputs)) {
                if (JSON.stringify(input).includes(value))
                    expect({ reg: reg.name, field, secret: reg.secretInputs.includes(field) }).toEqual({
                        reg: reg.name,
                        field,
                        secret: true,
                    });
            }
        }
        expect(JSON.stringify(run.outputs)).not.toContain(value);
    });

    test("the app container: TMPDIR on the first scratch folder, a tmpfs owned by the app user, a volume per persistent folder", async () => {
        const run = await runProgram(testConfig(), { stack: "unit-folders" });
        const app = run.named("lernmanager-unit-folders-app");
        expect(app.inputs.envs).toContain("TMPDIR=/app/instance/tmp");
        expect(app.inputs.tmpfs["/app/instance/tmp"]).toBe("rw,nosuid,nodev,size=512m,uid=10001,gid=10001");
        expect(app.inputs.mounts).toContainEqual({
            type: "volume",
            source: "lernmanager-unit-folders-keep-instance-reports",
            target: "/app/instance/reports",
        });
        const reports = run.named("lernmanager-unit-folders-storage-keep-instance-reports");
        expect(reports.inputs.name).toBe("lernmanager-unit-folders-keep-instance-reports");
    });

    test("prod: the persistent folder's volume is retained like the data, never protected (it comes and goes with the list)", async () => {
        const run = await runProgram(
            testConfig({ "lernmanager:protectData": "true", "lernmanager:persistentPaths": '["instance/reports"]' }),
            { stack: "unit-prot" },
        );
        // Retained, never protected: dropping the folder from the list must not wedge the stack.
        const opts = run.named("lernmanager-unit-prot-storage-keep-instance-reports").opts;
        expect(opts).toMatchObject({ retainOnDelete: true });
        expect(opts.protect).toBeFalsy();
    });
});

describe("the time zone", () => {
    // The app container's entry script (app and candidate): a zone the image has no data for stops it.
    const entrypoint = (tz: string | undefined) =>
        spawnSync("sh", [path.join(CONTAINERS_DIR, "runtime", "app", "entrypoint.sh")], {
            encoding: "utf8",
            env: { PATH: process.env.PATH, LM_APP_DIR: os.tmpdir(), ...(tz === undefined ? {} : { TZ: tz }) },
        });
    test.each([["Mars/Base"], ["europe/berlin"], [""], [undefined]])(
        "the app's entry script refuses TZ=%j before anything else, naming it and the fix",
        (tz) => {
            const r = entrypoint(tz);
            expect(r.status).toBe(78);
            expect(r.stderr).toContain(`[lernmanager] TZ=${tz ?? ""} has no zone data in this image`);
            expect(r.stderr).toContain("Fix: `pulumi config set timeZone Europe/Berlin`");
        },
    );
    test("a zone with its data gets past the check", () => {
        const r = entrypoint("Europe/Berlin");
        expect(r.stderr).not.toContain("has no zone data");
        expect(r.status).not.toBe(78);
    });

    test("every container of the app image gets the same TZ (app, scheduler, backups) and the image the zone data", async () => {
        const run = await runProgram(
            testConfig({
                "lernmanager:timeZone": "Europe/Vienna",
                "lernmanager:jobs": JSON.stringify([{ name: "daily", schedule: "0 1 * * *", command: "true" }]),
            }),
            { stack: "tz" },
        );
        const tz = (suffix: string) => (run.named(suffix).inputs.envs as string[]).filter((e) => e.startsWith("TZ="));
        expect(tz("lernmanager-tz-app")).toEqual(["TZ=Europe/Vienna"]);
        for (const other of ["lernmanager-tz-scheduler", "lernmanager-tz-backups"])
            expect(tz(other)).toEqual(tz("lernmanager-tz-app"));
        const runtime = run.ofType("docker:index/image:Image").find((i) => /-runtime:/.test(i.inputs.imageName))!;
        expect(runtime.inputs.build.args.OS_PACKAGES.split(" ")).toContain("tzdata");
    });
});
