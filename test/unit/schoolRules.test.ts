import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { CONFIG_KEYS, loadConfig } from "../../config/load";
import { PROJECT_DIR } from "../../core/paths";
import { formatAge, formatTime, parseAge } from "../../school/age";
import { parseArgs } from "../../school/args";
import { findProjectRoot } from "../../school/cli";
import {
    assertDestroyable,
    describeFailure,
    PROJECT,
    schoolConfig,
    SchoolError,
    schoolNameOf,
    schoolStackName,
    validateSchoolName,
} from "../../school/schools";

// The rules of test schools that need no backend (school/rules.ts, school/args.ts, school/errors.ts).
// The work against a (fake) Pulumi workspace is in school.test.ts.

const NOW = new Date("2025-11-20T12:00:00.000Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe("school names", () => {
    test.each(["a", "berlin", "pr-42", "x9", "hamburg-altona", "a".repeat(30)])("%s is a valid name", (name) => {
        expect(validateSchoolName(name)).toBe(name);
    });

    test.each([
        ["Berlin", "is not allowed"],
        ["1berlin", "is not allowed"],
        ["-berlin", "is not allowed"],
        ["berlin-", "is not allowed"],
        ["ber_lin", "is not allowed"],
        ["ber.lin", "is not allowed"],
        ["berlin mitte", "is not allowed"],
        ["", "is empty"],
        ["a".repeat(31), "is 31 characters long"],
    ])("%j is refused: %s, with the rule and an example", (name, why) => {
        expect(() => validateSchoolName(name)).toThrow(SchoolError);
        expect(() => validateSchoolName(name)).toThrow(`school name ${JSON.stringify(name)} ${why}`);
        expect(() => validateSchoolName(name)).toThrow(
            /lowercase and DNS-safe.*at most 30 characters \(for example berlin or pr-42\)/,
        );
    });

    test("reserved names and a doubled prefix are refused with a fix", () => {
        expect(() => validateSchoolName("prod")).toThrow(/"prod" is reserved.*for example berlin/);
        expect(() => validateSchoolName("dev")).toThrow(/"dev" is reserved/);
        expect(() => validateSchoolName("school-berlin")).toThrow(
            /starts with "school-"; give the name without it, for example berlin/,
        );
    });

    test("stack names are school-<name>", () => {
        expect(schoolStackName("berlin")).toBe("school-berlin");
        expect(schoolStackName("pr-42")).toBe("school-pr-42");
        expect(() => schoolStackName("Berlin")).toThrow(SchoolError);
        expect(schoolNameOf("school-berlin")).toBe("berlin");
        expect(schoolNameOf("my-org/school-berlin")).toBe("berlin");
        expect(schoolNameOf("dev")).toBeUndefined();
        expect(schoolNameOf("prod")).toBeUndefined();
        expect(schoolNameOf("school-")).toBeUndefined();
    });

    test("the project name is the one in Pulumi.yaml", () => {
        const project = YAML.parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8"));
        expect(project.name).toBe(PROJECT);
        expect(findProjectRoot(path.join(PROJECT_DIR, "school"))).toBe(PROJECT_DIR);
    });
});

describe("config from the template", () => {
    test("demo app on 127.0.0.1, unprotected, own port, createdAt, DEMO_DATA as a list entry", () => {
        expect(schoolConfig({ port: 8101, demoData: true, createdAt: NOW })).toEqual([
            { key: "lernmanager:appSource", value: "demo-app" },
            { key: "lernmanager:bindAddress", value: "127.0.0.1" },
            { key: "lernmanager:protectData", value: "false" },
            { key: "lernmanager:databaseFile", value: "lernmanager.db" },
            { key: "lernmanager:adminTable", value: "users" },
            { key: "lernmanager:port", value: "8101" },
            { key: "lernmanager:createdAt", value: "2025-11-20T12:00:00.000Z" },
            { key: "lernmanager:appEnv[0]", value: "DEMO_DATA=1", path: true },
            { key: "lernmanager:scratchPaths[0]", value: "instance/tmp", path: true },
            { key: "lernmanager:persistentPaths[0]", value: "instance/reports", path: true },
        ]);
        const without = schoolConfig({ port: 8100, demoData: false, createdAt: NOW });
        expect(without.find((e) => e.key.startsWith("lernmanager:appEnv"))?.value).toBe("DEMO_DATA=0");
    });

    test("every key is one the program reads, and the program's loader accepts the result", () => {
        const raw: Record<string, string> = {};
        for (const e of schoolConfig({ port: 8100, demoData: true, createdAt: NOW })) {
            const [, key] = e.key.split(":");
            const bare = key.replace(/\[\d+\]$/, "");
            expect(Object.keys(CONFIG_KEYS)).toContain(bare);
            // As Pulumi hands structured config to a program: JSON-encoded.
            raw[`lernmanager:${bare}`] = e.path ? JSON.stringify([e.value]) : e.value;
        }
        const config = loadConfig(raw, { project: PROJECT, projectDir: PROJECT_DIR });
        expect(config.port).toBe(8100);
        expect(config.bindAddress).toBe("127.0.0.1");
        expect(config.protectData).toBe(false);
        expect(config.appSource).toBe(path.join(PROJECT_DIR, "demo-app"));
        expect(config.appEnv).toEqual({ DEMO_DATA: "1" });
        expect(config.createdAt).toBe(NOW.toISOString());
        expect(config.scratchPaths).toEqual(["instance/tmp"]);
        expect(config.persistentPaths).toEqual(["instance/reports"]);
    });
});

describe("what may be destroyed", () => {
    test("assertDestroyable on its own", () => {
        expect(() => assertDestroyable("prod", {})).toThrow(/production stack/);
        expect(() => assertDestroyable("org/prod", {})).toThrow(/production stack/);
        expect(() => assertDestroyable("dev", {})).toThrow(/only test schools/);
        expect(() => assertDestroyable("school-a", { "lernmanager:protectData": "true" })).toThrow(
            /protectData = true/,
        );
        expect(() => assertDestroyable("school-a", { "lernmanager:protectData": "false" })).not.toThrow();
        expect(() => assertDestroyable("school-a", {})).not.toThrow();
    });
});

describe("command line arguments", () => {
    test("parses commands and options", () => {
        expect(parseArgs(["create", "berlin"])).toEqual({
            kind: "create",
            name: "berlin",
            demoData: false,
            port: undefined,
        });
        expect(parseArgs(["create", "berlin", "--demo-data", "--port", "8200"])).toEqual({
            kind: "create",
            name: "berlin",
            demoData: true,
            port: 8200,
        });
        expect(parseArgs(["create", "--port=8200", "berlin"])).toMatchObject({ port: 8200 });
        expect(parseArgs(["destroy", "berlin"])).toEqual({ kind: "destroy", name: "berlin" });
        expect(parseArgs(["destroy", "--older-than", "7d"])).toEqual({
            kind: "destroy",
            name: undefined,
            olderThanMs: 7 * DAY,
            olderThanText: "7d",
        });
        expect(parseArgs(["destroy", "pr-3", "--older-than=12h"])).toMatchObject({
            name: "pr-3",
            olderThanMs: 12 * HOUR,
        });
        expect(parseArgs(["list"])).toEqual({ kind: "list" });
        expect(parseArgs(["exists", "pr-3"])).toEqual({ kind: "exists", name: "pr-3" });
        expect(parseArgs(["--help"])).toEqual({ kind: "help" });
        expect(parseArgs(["create", "-h"])).toEqual({ kind: "help" });
    });

    test.each([
        [[], "no command given"],
        [["launch"], 'unknown command "launch"'],
        [["create"], "create needs a school name"],
        [["create", "Berlin"], 'school name "Berlin" is not allowed'],
        [["create", "a", "b"], 'create takes one name, got "a" "b"'],
        [["create", "berlin", "--port"], "--port needs a value"],
        [["create", "berlin", "--port", "80a"], "--port 80a is not a port"],
        [["create", "berlin", "--port", "70000"], "--port 70000 is not a port"],
        [["create", "berlin", "--older-than", "7d"], "create does not take --older-than"],
        [["create", "berlin", "--force"], "unknown option --force"],
        [["destroy"], "destroy needs a school name or --older-than"],
        [["destroy", "--older-than", "week"], '--older-than "week" is not an age'],
        [["destroy", "prod"], "refusing to destroy prod"],
        [["destroy", "berlin", "--demo-data"], "destroy does not take --demo-data"],
        [["list", "x"], 'list takes no name, got "x"'],
    ])("%j is refused: %s", (argv, message) => {
        expect(() => parseArgs(argv)).toThrow(SchoolError);
        expect(() => parseArgs(argv)).toThrow(message);
    });
});

describe("errors", () => {
    test("describeFailure picks the CLI's last error line", () => {
        const cliError = new Error(
            "code: 255\n stdout: Previewing update\n\n stderr: error: first\nerror: update failed\n err?: \n",
        );
        expect(describeFailure(cliError)).toBe("update failed");
        expect(describeFailure(new Error("spawn pulumi ENOENT"))).toBe("spawn pulumi ENOENT");
        expect(describeFailure(new SchoolError("as is"))).toBe("as is");
    });
});

describe("ages", () => {
    test.each([
        ["7d", 7 * DAY],
        ["12h", 12 * HOUR],
        ["30m", 30 * 60_000],
        ["1d", DAY],
    ])("%s parses", (text, ms) => {
        expect(parseAge(text)).toBe(ms);
    });

    test.each(["7", "d", "7w", "0d", "-1d", "1.5d", "7 days", ""])("%j is refused with the accepted forms", (text) => {
        expect(() => parseAge(text)).toThrow(SchoolError);
        expect(() => parseAge(text)).toThrow(
            /use a positive whole number followed by d \(days\), h \(hours\) or m \(minutes\), for example --older-than 7d/,
        );
    });

    test("ages and times for people", () => {
        expect(formatAge(3 * DAY + 4 * HOUR + 59 * 60_000)).toBe("3d 4h");
        expect(formatAge(5 * HOUR + 12 * 60_000)).toBe("5h 12m");
        expect(formatAge(7 * 60_000 + 59_000)).toBe("7m");
        expect(formatAge(-HOUR)).toBe("0m");
        expect(formatTime(NOW)).toBe("2025-11-20 12:00 UTC");
    });
});
