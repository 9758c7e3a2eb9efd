import { spawnSync } from "child_process";
import { backupScript, migrationScript, smokeTestScript } from "../../render/deploy";

const base = { prefix: "lernmanager-dev", stack: "dev", label: "dev.lernmanager.stack" };
const backup = backupScript({
    ...base,
    dataVolume: "lernmanager-dev-data",
    backupsVolume: "lernmanager-dev-backups",
    databasePath: "/app/data/lernmanager.db",
    keep: 10,
});
const migration = migrationScript({
    ...base,
    network: "lernmanager-dev-net",
    dataVolume: "lernmanager-dev-data",
    uploadsVolume: "lernmanager-dev-uploads",
    cacheVolume: "lernmanager-dev-cache",
    dataPath: "data",
    uploadsPath: "instance/uploads",
    envNames: ["SECRET_KEY", "FLASK_ENV"],
});
const smoke = smokeTestScript({
    ...base,
    network: "lernmanager-dev-net",
    page: "/",
    staticFile: "/static/css/app.css",
});

describe("deploy step scripts", () => {
    test.each([
        ["backup", backup],
        ["migration", migration],
        ["smoke test", smoke],
    ])("%s: valid bash, strict mode, a hardened throwaway container of the new image", (_name, script) => {
        const syntax = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
        expect(syntax.stderr).toBe("");
        expect(syntax.status).toBe(0);
        expect(script.startsWith("set -euo pipefail\n")).toBe(true);
        expect(script).toContain("docker run --rm");
        expect(script).toContain('"$LM_IMAGE"');
        expect(script).toContain("--read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges:true");
        expect(script).toContain("--user 10001:10001");
        expect(script).toContain("--label 'dev.lernmanager.stack=dev'");
    });

    test("backup: online backup API script, data and backups volumes, no network, keeps N", () => {
        expect(backup).toContain("lm_backup.py backup");
        expect(backup).toContain("--mount 'type=volume,source=lernmanager-dev-data,target=/app/data'");
        expect(backup).toContain("--mount 'type=volume,source=lernmanager-dev-backups,target=/backups'");
        expect(backup).toContain("--network none");
        expect(backup).toContain("--keep 10");
        expect(() =>
            backupScript({ ...base, dataVolume: "d", backupsVolume: "b", databasePath: "/app/data/x.db", keep: 0 }),
        ).toThrow(/keep/);
    });

    test("migration: the init hook by default, with the app's volumes and environment names only (values stay out of the text)", () => {
        expect(migration).toContain("lm_init.py");
        expect(migration).toContain("-e SECRET_KEY");
        expect(migration).not.toMatch(/SECRET_KEY=/);
        expect(migration).toContain("--network 'lernmanager-dev-net'");
        expect(migration).toContain("target=/app/instance/uploads");
        const custom = migrationScript({
            ...base,
            network: "n",
            dataVolume: "d",
            uploadsVolume: "u",
            cacheVolume: "c",
            dataPath: "data",
            uploadsPath: "up",
            envNames: [],
            command: "python3 manage.py migrate --it's",
        });
        expect(custom).toContain("--entrypoint /bin/sh");
        // Run in /app instead of the hook (quoting checked in test/unit/migrations.test.ts).
        expect(custom).toContain("cd /app; /bin/sh -c ");
        expect(custom).toContain("python3 manage.py migrate --it");
        expect(custom).not.toContain("lm_init.py");
        expect(custom).toMatch(/migrate --it.*; python3 -OO \/opt\/lernmanager\/lm_preflight.py/);
        expect(spawnSync("bash", ["-n"], { input: custom }).status).toBe(0);
    });

    test("migration: then the preflight, with the app's scratch tmpfs and further persistent volumes", () => {
        expect(migration).toMatch(/lm_init\.py; python3 -OO \/opt\/lernmanager\/lm_preflight\.py'/);
        const withFolders = migrationScript({
            ...base,
            network: "n",
            dataVolume: "d",
            uploadsVolume: "u",
            cacheVolume: "c",
            dataPath: "data",
            uploadsPath: "up",
            envNames: [],
            persistent: [{ path: "instance/reports", volume: "lm-keep-instance-reports" }],
            scratchPaths: ["instance/tmp"],
        });
        expect(withFolders).toContain(
            "--mount 'type=volume,source=lm-keep-instance-reports,target=/app/instance/reports'",
        );
        expect(withFolders).toContain("--tmpfs '/app/instance/tmp:rw,nosuid,nodev,size=512m,uid=10001,gid=10001'");
        expect(spawnSync("bash", ["-n"], { input: withFolders }).status).toBe(0);
    });

    test("smoke test: through nginx on the stack's network", () => {
        expect(smoke).toContain("lm_smoke.py 'http://nginx:8080' \"$LM_VERSION\" '/' '/static/css/app.css'");
    });

    test("are stable (snapshot)", () => {
        expect({ backup, migration, smoke }).toMatchSnapshot();
    });
});
