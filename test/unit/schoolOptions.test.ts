import * as path from "path";
import { withBaseStack } from "../../config/baseStack";
import { loadConfig } from "../../config/load";
import { PROJECT_DIR } from "../../core/paths";
import { parseArgs } from "../../school/args";
import { schoolConfig } from "../../school/rules";

describe("test schools: another app source and another bind address", () => {
    test("create takes --app-source (made absolute) and --bind (an IPv4 address)", () => {
        expect(parseArgs(["create", "walde", "--app-source", "../lernmanager", "--bind", "0.0.0.0"])).toEqual({
            kind: "create",
            name: "walde",
            demoData: false,
            port: undefined,
            appSource: path.resolve("../lernmanager"),
            bindAddress: "0.0.0.0",
        });
        expect(() => parseArgs(["create", "walde", "--bind", "schulserver"])).toThrow(/not an IPv4 address/);
        expect(() => parseArgs(["create", "walde", "--app-source"])).toThrow(/--app-source ..\/lernmanager/);
        expect(() => parseArgs(["destroy", "walde", "--bind", "0.0.0.0"])).toThrow(/does not take --bind/);
    });

    test("the demo app on 127.0.0.1 stays the default", () => {
        const config = Object.fromEntries(
            schoolConfig({ port: 8100, demoData: true, createdAt: "x" }).map((e) => [e.key, e.value]),
        );
        expect(config["lernmanager:appSource"]).toBe("demo-app");
        expect(config["lernmanager:bindAddress"]).toBe("127.0.0.1");
        expect(config["lernmanager:databaseFile"]).toBe("lernmanager.db");
        expect(config["lernmanager:baseStack"]).toBeUndefined();
    });

    test("another app takes the real app's contract from prod; the school's port, address and no protection win", () => {
        const source = path.join(PROJECT_DIR, "demo-app"); // stands in for ../lernmanager, which must exist
        const entries = schoolConfig({
            port: 8101,
            demoData: false,
            createdAt: "2026-11-30T19:00:00.000Z",
            appSource: source,
            bindAddress: "192.168.1.20",
        });
        const own = Object.fromEntries(entries.filter((e) => !e.path).map((e) => [e.key, e.value]));
        expect(own).toMatchObject({
            "lernmanager:appSource": source,
            "lernmanager:baseStack": "prod",
            "lernmanager:protectData": "false",
            "lernmanager:bindAddress": "192.168.1.20",
            "lernmanager:allowPlainHttp": "true",
            "lernmanager:port": "8101",
        });
        expect(entries.map((e) => e.key)).not.toEqual(
            expect.arrayContaining(["lernmanager:databaseFile", "lernmanager:adminTable"]),
        );
        const raw = withBaseStack({ ...own, "lernmanager:appEnv": '["DEMO_DATA=0"]' }, "lernmanager", PROJECT_DIR);
        const config = loadConfig(raw, { project: "lernmanager", projectDir: PROJECT_DIR });
        expect(config).toMatchObject({
            databaseFile: "mbi_tracker.db",
            port: 8101,
            bindAddress: "192.168.1.20",
            protectData: false,
            initInWorkers: true,
            scratchPaths: ["instance/tmp"],
            persistentPaths: ["instance/reports", "instance/tmp/lernmanager_import"],
        });
    });
});
