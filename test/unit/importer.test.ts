import { ImportError, importTargets, packCommand, parseSource, summaryLine } from "../../render/import";
import { envCommands } from "../../cli/importReport";
import { stackNames } from "../../core/names";
import { plainVolumesSource } from "../../render/importMove";
import { runProgram, testConfig } from "../support/mocks";

describe("npm run import: sources, targets, the old .env", () => {
    test("a local path or ssh://[user@]host[:port]/path", () => {
        expect(parseSource("/opt/lernmanager")).toEqual({ kind: "local", path: "/opt/lernmanager" });
        expect(parseSource("ssh://admin@schulserver/opt/lernmanager")).toEqual({
            kind: "ssh",
            host: "admin@schulserver",
            port: undefined,
            path: "/opt/lernmanager",
        });
        expect(parseSource("ssh://srv:2222/opt/lm")).toMatchObject({ port: 2222 });
        expect(() => parseSource("ssh://schulserver")).toThrow(ImportError);
        // A host or user that ssh would take for an option is refused.
        for (const bad of [
            "ssh://-oProxyCommand=touch${IFS}x/opt/lm",
            "ssh://-x@srv/opt/lm",
            "ssh://admin@-oX=y/opt/lm",
        ])
            expect(() => parseSource(bad)).toThrow(/not starting with -/);
        expect(parseSource("ssh://admin@srv-1.schule.local/opt/lm")).toMatchObject({
            host: "admin@srv-1.schule.local",
        });
    });

    test("pack runs python3 from stdin, over ssh with the user's ssh config and no password prompt", () => {
        expect(packCommand({ kind: "local", path: "/old" }, ["data"])).toEqual([
            "python3",
            "-",
            "pack",
            "/old",
            "data",
        ]);
        expect(packCommand(parseSource("ssh://admin@srv:2222/opt/it's"), ["data", "instance/uploads"])).toEqual([
            "ssh",
            "-p",
            "2222",
            "-o",
            "BatchMode=yes",
            "admin@srv",
            "'python3' '-' 'pack' '/opt/it'\\''s' 'data' 'instance/uploads'",
        ]);
    });

    test("one volume per persisted folder, labelled exactly as Storage declares them", () => {
        const targets = importTargets(
            { dataPath: "data", uploadsPath: "instance/uploads", persistentPaths: ["instance/reports"] },
            stackNames("lernmanager", "schule-walde"),
            "schule-walde",
        );
        expect(targets).toEqual([
            {
                folder: "data",
                volume: "lernmanager-schule-walde-data",
                labels: { "dev.lernmanager.stack": "schule-walde", "dev.lernmanager.volume": "data" },
            },
            {
                folder: "instance/uploads",
                volume: "lernmanager-schule-walde-uploads",
                labels: { "dev.lernmanager.stack": "schule-walde", "dev.lernmanager.volume": "uploads" },
            },
            {
                folder: "instance/reports",
                volume: "lernmanager-schule-walde-keep-instance-reports",
                labels: { "dev.lernmanager.stack": "schule-walde", "dev.lernmanager.volume": "keep:instance/reports" },
            },
        ]);
    });

    test("with dataHostPath: the volumes the program declares there, bound and named apart, exactly as Storage does", async () => {
        const root = "/srv/lm";
        const targets = importTargets(
            {
                dataPath: "data",
                uploadsPath: "instance/uploads",
                persistentPaths: ["instance/reports"],
                dataHostPath: root,
            },
            stackNames("lernmanager", "hp", root),
            "hp",
        );
        const run = await runProgram(testConfig({ "lernmanager:dataHostPath": root }), { stack: "hp" });
        for (const [t, kind] of [
            [targets[0], "data"],
            [targets[1], "uploads"],
            [targets[2], "keep-instance-reports"],
        ] as const) {
            const declared = run.named(`lernmanager-hp-storage-${kind}`).inputs;
            expect(t.volume).toBe(declared.name);
            expect(t.volume).toMatch(/-bound-[0-9a-f]{6}$/);
            expect(t.driverOpts).toEqual(declared.driverOpts);
            expect(t.labels).toEqual(Object.fromEntries(declared.labels.map((l: any) => [l.label, l.value])));
        }
    });

    test("--from-plain-volumes: the stack's plain volumes as the source, refused without dataHostPath", () => {
        const c = { dataPath: "data", uploadsPath: "instance/uploads", persistentPaths: [], pythonImage: "py" };
        expect(() => plainVolumesSource(c, "lernmanager", "walde")).toThrow(
            /dataHostPath is not set. Fix: `pulumi config set dataHostPath/,
        );
        const src = plainVolumesSource({ ...c, dataHostPath: "/srv/lm" }, "lernmanager", "walde");
        expect(src.targets.map((t) => [t.volume, t.driverOpts])).toEqual([
            ["lernmanager-walde-data", undefined],
            ["lernmanager-walde-uploads", undefined],
        ]);
        expect(src.backups.volume).toBe("lernmanager-walde-backups");
    });

    test("the helper's last LMIMPORT line is its summary", () => {
        expect(summaryLine('noise\nLMIMPORT {"a":1}\nLMIMPORT {"a":2}\nmore noise\n')).toEqual({ a: 2 });
        expect(summaryLine("nothing")).toBeUndefined();
    });

    test("the old .env becomes pulumi config set commands, secrets marked and hidden unless asked", () => {
        const env = {
            SECRET_KEY: "x",
            SCHOOL_NAME: "Schule Am Walde",
            GRADING_SERVICE_TOKEN: "tok",
            MAX_UPLOAD_MB: "10",
            WHATEVER: "1",
        };
        expect(envCommands(env, "schule-walde")).toEqual([
            expect.stringMatching(/^# SECRET_KEY: not carried over/),
            "pulumi config set -s schule-walde schoolName 'Schule Am Walde'",
            "pulumi config set -s schule-walde --secret gradingServiceToken '<GRADING_SERVICE_TOKEN from the old .env>'   # secret",
            expect.stringMatching(/^# MAX_UPLOAD_MB: not carried over: the app reads no such variable/),
            expect.stringMatching(/^pulumi config set -s schule-walde --path 'appEnv\[0\]' WHATEVER=1 /),
        ]);
        expect(envCommands(env, "s", true)[2]).toBe(
            "pulumi config set -s s --secret gradingServiceToken tok   # secret",
        );
    });

    test("an extra variable goes after the appEnv entries the stack has (prod's TZ), which are kept", () => {
        const lines = envCommands({ WHATEVER: "1" }, "schule-walde", false, { TZ: "Europe/Berlin" });
        expect(lines).toEqual([
            "pulumi config set -s schule-walde --path 'appEnv[0]' TZ=Europe/Berlin   # kept: the stack has it already",
            expect.stringMatching(/^pulumi config set -s schule-walde --path 'appEnv\[1\]' WHATEVER=1 /),
        ]);
        // Nothing extra to add: the stack's list is left alone.
        expect(envCommands({ SCHOOL_NAME: "Walde" }, "s", false, { TZ: "Europe/Berlin" })).toEqual([
            "pulumi config set -s s schoolName Walde",
        ]);
    });

    test("a placeholder from the old install's template is not carried over but named with its key", () => {
        const lines = envCommands(
            { SCHOOL_NAME: "[Schulname]", DSB_CONTACT: "CHANGE_ME", SCHOOL_EMAIL: "it@walde.de" },
            "s",
        );
        expect(lines[0]).toBe(
            "# WARNING: SCHOOL_NAME = '[Schulname]' looks like a placeholder the old install never filled in: set the real value with `pulumi config set -s s schoolName <value>`",
        );
        expect(lines[1]).toMatch(/^# WARNING: DSB_CONTACT = CHANGE_ME looks like a placeholder/);
        expect(lines[2]).toBe("pulumi config set -s s schoolEmail it@walde.de");
    });
});
