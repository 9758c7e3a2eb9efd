import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { encryptedKeys, stackFileConfig, withBaseStack } from "../../config/baseStack";
import { ConfigError, loadConfig } from "../../config/load";
import { PROJECT_DIR } from "../../core/paths";

describe("baseStack: a school's stack on top of Pulumi.prod.yaml", () => {
    test("every key the school does not set comes from prod; the school's own win; lists whole", () => {
        const school = withBaseStack(
            {
                "lernmanager:baseStack": "prod",
                "lernmanager:schoolName": "Gesamtschule Am Walde",
                "lernmanager:port": "8081",
                "docker:host": "ssh://admin@walde",
            },
            "lernmanager",
            PROJECT_DIR,
        );
        expect(school["lernmanager:schoolName"]).toBe("Gesamtschule Am Walde");
        expect(school["lernmanager:port"]).toBe("8081");
        expect(school["docker:host"]).toBe("ssh://admin@walde");
        expect(school["lernmanager:databaseFile"]).toBe("mbi_tracker.db");
        expect(school["lernmanager:protectData"]).toBe("true");
        expect(JSON.parse(school["lernmanager:scratchPaths"])).toEqual(["instance/tmp"]);
        expect(JSON.parse(school["lernmanager:jobs"]).map((j: { name: string }) => j.name)).toEqual([
            "weekly-reports",
            "auto-attendance",
        ]);
    });

    test("a key the school's own file does not set comes from prod even though Pulumi hands the program Pulumi.yaml's default", () => {
        const given = {
            "lernmanager:baseStack": "prod",
            "lernmanager:appSource": "demo-app", // Pulumi.yaml's default, applied by the CLI
            "lernmanager:workers": "2", // set in the school's own file
        };
        const own = new Set(["lernmanager:baseStack", "lernmanager:workers"]);
        const school = withBaseStack(given, "lernmanager", PROJECT_DIR, own);
        expect(school["lernmanager:appSource"]).toBe("../lernmanager");
        expect(school["lernmanager:workers"]).toBe("2");
    });

    test("without baseStack nothing changes", () => {
        expect(withBaseStack({ "lernmanager:port": "1" }, "lernmanager", PROJECT_DIR)).toEqual({
            "lernmanager:port": "1",
        });
    });

    test("secrets and docker:* keys of the base are never taken over; a missing or chained base is an error", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-base-"));
        try {
            fs.writeFileSync(
                path.join(dir, "Pulumi.base.yaml"),
                'config:\n  docker:host: ssh://other\n  lernmanager:llmApiKey:\n    secure: v1:abc\n  lernmanager:workers: "2"\n',
            );
            fs.writeFileSync(path.join(dir, "Pulumi.chained.yaml"), "config:\n  lernmanager:baseStack: base\n");
            expect(stackFileConfig(dir, "base")).toEqual({ "docker:host": "ssh://other", "lernmanager:workers": "2" });
            expect(withBaseStack({ "lernmanager:baseStack": "base" }, "lernmanager", dir)).toEqual({
                "lernmanager:baseStack": "base",
                "lernmanager:workers": "2",
            });
            expect(() => withBaseStack({ "lernmanager:baseStack": "nope" }, "lernmanager", dir)).toThrow(
                /there is no Pulumi.nope.yaml/,
            );
            expect(() => withBaseStack({ "lernmanager:baseStack": "chained" }, "lernmanager", dir)).toThrow(
                ConfigError,
            );
            expect(() => withBaseStack({ "lernmanager:baseStack": "../x" }, "lernmanager", dir)).toThrow(
                /not a stack name/,
            );
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("a stack file with encrypted values, read without the passphrase (npm run import)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-secure-"));
    fs.writeFileSync(
        path.join(dir, "Pulumi.schule-walde.yaml"),
        [
            "config:",
            "  lernmanager:backupCopyTo:",
            "    - sftp://lmbackup@nas.schule.example/lernmanager",
            "  lernmanager:backupSftpKey:",
            "    secure: v1:c2FsdA==:ZW5jcnlwdGVk",
            "  lernmanager:backupEncryptTo: none",
            "  lernmanager:schoolName: Gesamtschule Am Walde",
            "  docker:host: ssh://admin@walde",
            "",
        ].join("\n"),
    );
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const raw = (): Record<string, string> => ({
        ...stackFileConfig(dir, "schule-walde")!,
        "lernmanager:appSource": path.join(PROJECT_DIR, "demo-app"),
        "lernmanager:databaseFile": "lernmanager.db",
    });

    test("encryptedKeys names the keys set with --secret, nothing else", () => {
        expect([...encryptedKeys(dir, "schule-walde", "lernmanager")]).toEqual(["backupSftpKey"]);
        expect(raw()["lernmanager:backupSftpKey"]).toBeUndefined();
    });

    test("a key set with --secret counts as set: the sftp target's key is not reported missing", () => {
        expect(() => loadConfig(raw(), { project: "lernmanager", projectDir: PROJECT_DIR })).toThrow(
            /backupSftpKey is not set/,
        );
        const config = loadConfig(raw(), {
            project: "lernmanager",
            projectDir: PROJECT_DIR,
            encryptedKeys: encryptedKeys(dir, "schule-walde", "lernmanager"),
        });
        expect(config.backups.sftpTargets).toEqual(["sftp://lmbackup@nas.schule.example/lernmanager"]);
        expect(config.appSettings.SCHOOL_NAME).toBe("Gesamtschule Am Walde");
    });

    test("other problems still stop it", () => {
        expect(() =>
            loadConfig(
                { ...raw(), "lernmanager:workers": "0" },
                { project: "lernmanager", projectDir: PROJECT_DIR, encryptedKeys: new Set(["backupSftpKey"]) },
            ),
        ).toThrow(/lernmanager:workers = "0"/);
    });
});
