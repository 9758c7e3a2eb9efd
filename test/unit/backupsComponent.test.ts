// What the backup container and the pre-deploy backup are given (components/backups.ts), from the
// config alone or with the component declared under Pulumi's mocks, without running the program:
// what `bash scripts/mutate.sh components/backups.ts` runs against each mutant. The same seen
// through the whole program: test/unit/backups.test.ts and backupsSftp.test.ts.
import * as pulumi from "@pulumi/pulumi";
import {
    BACKUP_HEALTHCHECK,
    BACKUP_LAYOUT,
    BackupAgent,
    backupAgentEnvs,
    backupAgentFields,
    backupAgentMounts,
    backupAgentNetworkMode,
    backupAgentRetention,
    backupAgentSettings,
    backupAgentTmpfs,
    dataMountGuard,
    preDeployBackup,
    sftpHostKeysEnv,
} from "../../components/backups";
import type { AppServiceArgs } from "../../components/appService";
import { SECRET_SETTING_ENVS } from "../../config/settings";
import { SCRATCH_TMPFS } from "../../render/deploy";
import { stackNames } from "../../core/names";
import { load } from "../support/config";
import { declareUnderMocks } from "../support/componentMocks";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----";
const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHv1k1RrZ0d3m0m2gqJ6Yc3c7yO4bT0qfQn0W3c2Jx1a";
const RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7==";
const AGE = "age1" + "q".repeat(58);
const SFTP = "sftp://backup@10.0.0.5/lernmanager";

describe("retention", () => {
    test("hourly, daily and weekly each under its own name, as configured", () => {
        expect(backupAgentRetention(load({ backupRetention: "hourly=5,daily=11,weekly=17" }))).toBe(
            "hourly=5,daily=11,weekly=17",
        );
        expect(backupAgentRetention(load({}))).toBe("hourly=24,daily=7,weekly=8");
    });
});

describe("the loop's settings (lm_backupd.py --config)", () => {
    test("a stack with copies, folders, migrations and encryption: every path as the backup container and the app see it", () => {
        const config = load({
            databaseFile: "lernmanager.db",
            backupKeep: "3",
            backupEvery: "45m",
            backupRetention: "hourly=5,daily=11,weekly=17",
            backupCopyTo: `["/mnt/nas/lm", "/media/usb", "${SFTP}"]`,
            backupSftpKey: KEY,
            backupEncryptTo: AGE,
            persistentPaths: '["instance/reports", "Instance/Extra_Files"]',
        });
        expect(backupAgentSettings(config)).toEqual({
            database: "/srv/live/data/lernmanager.db",
            appDatabase: "/app/data/lernmanager.db",
            appDoneFile: "/app/data/migrations_done.txt",
            appUploads: "/app/instance/uploads",
            folders: [
                ["instance-reports", "/srv/live/keep-instance-reports", "/app/instance/reports"],
                ["instance-extra-files", "/srv/live/keep-instance-extra-files", "/app/Instance/Extra_Files"],
            ],
            stem: "lernmanager",
            backups: "/backups",
            uploads: "/srv/live/uploads",
            keep: 3,
            retention: "hourly=5,daily=11,weekly=17",
            everySeconds: 2700,
            doneFile: "/srv/live/data/migrations_done.txt",
            migrations: { folder: "migrate", pattern: "migrate_*.py", doneFile: "data/migrations_done.txt" },
            copyDirs: [
                ["/mnt/nas/lm", "/srv/copy/0"],
                ["/media/usb", "/srv/copy/1"],
            ],
            sftp: [SFTP],
            encryptTo: [AGE],
        });
    });

    test("without migrations, folders, schedule or encryption: empty done files, null, and no folders or encryptTo key", () => {
        const s = backupAgentSettings(
            load({ migrationsPath: "", backupEvery: "off", persistentPaths: "[]", backupEncryptTo: "none" }),
        );
        expect(s).toMatchObject({ appDoneFile: "", doneFile: "", migrations: null, everySeconds: null });
        expect(Object.keys(s)).not.toContain("folders");
        expect(Object.keys(s)).not.toContain("encryptTo");
        expect(s.copyDirs).toEqual([]);
        expect(s.sftp).toEqual([]);
    });

    test("the done file is found inside dataPath wherever that is; the stem drops only the last extension", () => {
        const s = backupAgentSettings(
            load({
                dataPath: "var/db",
                migrationsDoneFile: "var/db/done.txt",
                databaseFile: "school.v2.sqlite",
            }),
        );
        expect(s.doneFile).toBe("/srv/live/data/done.txt");
        expect(s.appDoneFile).toBe("/app/var/db/done.txt");
        expect(s.database).toBe("/srv/live/data/school.v2.sqlite");
        expect(s.appDatabase).toBe("/app/var/db/school.v2.sqlite");
        expect(s.stem).toBe("school.v2");
        expect(backupAgentSettings(load({ databaseFile: "mbi_tracker" })).stem).toBe("mbi_tracker");
        expect(backupAgentSettings(load({ uploadsPath: "files/up" })).appUploads).toBe("/app/files/up");
    });
});

describe("the pre-deploy backup", () => {
    const names = stackNames("lernmanager", "bk");
    const step = { prefix: "lernmanager-bk", stack: "bk", label: "dev.lernmanager.stack" };

    test("dataMountGuard: nothing without dataHostPath; with it, the marker is checked read-only and a missing one stops the deploy with the fix", () => {
        expect(dataMountGuard(undefined)).toBe("");
        expect(dataMountGuard("")).toBe("");
        const lines = dataMountGuard("/srv/lm").split("\n");
        expect(lines).toEqual([
            `docker run --rm --network none --user 0:0 --cap-drop ALL --mount 'type=bind,source=/srv/lm,target=/check,readonly' --entrypoint /bin/sh "$LM_IMAGE" -c 'test -f /check/.lernmanager-data-mount' || {`,
            `  echo "dataHostPath /srv/lm is not mounted (no .lernmanager-data-mount in it): unlock and mount the disk (e.g. cryptsetup open + mount), then run pulumi up again; a new disk: cli/data-host-path-init.sh /srv/lm once. Nothing was changed." >&2; exit 1; }`,
            "",
        ]);
        expect(dataMountGuard("/mnt/crypt")).toContain("source=/mnt/crypt,target=/check");
    });

    test("its script: the guard first, then lm_backup.py with the configured keep, retention, database and done file", () => {
        const config = load({
            dataHostPath: "/srv/lm",
            databaseFile: "lernmanager.db",
            backupKeep: "4",
            backupRetention: "hourly=5,daily=11,weekly=17",
        });
        const { script } = preDeployBackup(config, stackNames("lernmanager", "bk", "/srv/lm"), step);
        expect(script.startsWith(dataMountGuard("/srv/lm"))).toBe(true);
        expect(script).toMatch(/ --keep 4 /);
        expect(script).toContain("--retention 'hourly=5,daily=11,weekly=17'");
        expect(script).toContain("--database '/app/data/lernmanager.db'");
        expect(script).toContain("--done-file '/app/data/migrations_done.txt'");
        expect(script).toContain("source=lernmanager-bk-data-bound-bfad09,target=/app/data'");

        const plain = preDeployBackup(
            load({ databaseFile: "x.db", backupKeep: "7", migrationsPath: "" }),
            names,
            step,
        ).script;
        expect(plain).not.toContain("/check");
        expect(plain).toMatch(/ --keep 7 /);
        expect(plain).toContain("--retention 'hourly=24,daily=7,weekly=8'");
        expect(plain).toContain("--database '/app/data/x.db'");
        expect(plain).not.toContain("--done-file");
        expect(plain).toContain("source=lernmanager-bk-data,target=/app/data'");
        expect(plain).toContain("source=lernmanager-bk-backups,target=/backups'");
    });
});

describe("the backup container's environment", () => {
    const app = ["SECRET_KEY=k", "SCHOOL_NAME=Schule=Am Walde", "FLASK_ENV=production", "LLM_API_KEY_HINT=x"];
    const secrets = SECRET_SETTING_ENVS.map((e) => `${e}=secret-${e}`);

    test("the app's, without the secrets of the services the backups never call", () => {
        expect(SECRET_SETTING_ENVS).toEqual(
            expect.arrayContaining(["LLM_API_KEY", "GRADING_SERVICE_TOKEN", "GRADING_SERVICE_CALLBACK_SECRET"]),
        );
        expect(backupAgentEnvs([...secrets, ...app], load({}).backups)).toEqual(app);
    });

    test("an SFTP key joins it, with the pinned host keys when there are any; host keys alone do not", () => {
        const withKey = load({ backupCopyTo: `["${SFTP}"]`, backupSftpKey: KEY, backupEncryptTo: "none" });
        expect(backupAgentEnvs(app, withKey.backups)).toEqual([...app, `LM_SFTP_KEY=${KEY}`]);
        const pinned = load({
            backupCopyTo: `["${SFTP}"]`,
            backupSftpKey: KEY,
            backupSftpHostKey: `${ED}\n${RSA}`,
            backupEncryptTo: "none",
        });
        expect(backupAgentEnvs(app, pinned.backups)).toEqual([
            ...app,
            `LM_SFTP_KEY=${KEY}`,
            `LM_SFTP_HOST_KEYS=${ED},${RSA}`,
        ]);
        expect(backupAgentEnvs(app, { ...pinned.backups, sftpKey: undefined })).toEqual(app);
        expect(sftpHostKeysEnv([ED])).toEqual([`LM_SFTP_HOST_KEYS=${ED}`]);
        expect(sftpHostKeysEnv([])).toEqual([]);
    });
});

describe("the backup container's mounts, tmpfs and network", () => {
    test("live data read-write, uploads and persistent folders read-only, the backups volume, each copy folder bound in order", () => {
        const volumes = {
            data: "v-data",
            uploads: "v-uploads",
            backups: "v-backups",
            persistent: [
                { path: "instance/reports", volume: "v-reports" },
                { path: "Instance/Extra_Files", volume: "v-extra" },
            ],
        };
        expect(backupAgentMounts(volumes, ["/mnt/nas/lm", "/media/usb"])).toEqual([
            { type: "volume", source: "v-data", target: "/srv/live/data" },
            { type: "volume", source: "v-uploads", target: "/srv/live/uploads", readOnly: true },
            { type: "volume", source: "v-reports", target: "/srv/live/keep-instance-reports", readOnly: true },
            { type: "volume", source: "v-extra", target: "/srv/live/keep-instance-extra-files", readOnly: true },
            { type: "volume", source: "v-backups", target: "/backups" },
            { type: "bind", source: "/mnt/nas/lm", target: "/srv/copy/0" },
            { type: "bind", source: "/media/usb", target: "/srv/copy/1" },
        ]);
        expect(backupAgentMounts({ ...volumes, persistent: [] }, [])).toHaveLength(3);
    });

    test("tmpfs: /tmp and throwaway copies of the app's data, uploads, persistent, scratch, static and cache folders", () => {
        const config = load({
            dataPath: "var/db",
            migrationsPath: "",
            uploadsPath: "files/up",
            persistentPaths: '["instance/reports"]',
            scratchPaths: '["instance/tmp"]',
        });
        expect(backupAgentTmpfs(config)).toEqual({
            "/tmp": "rw,nosuid,nodev,size=256m,mode=1777",
            "/app/var/db": SCRATCH_TMPFS,
            "/app/files/up": SCRATCH_TMPFS,
            "/app/instance/reports": SCRATCH_TMPFS,
            "/app/instance/tmp": SCRATCH_TMPFS,
            "/srv/static": SCRATCH_TMPFS,
            "/var/cache/lernmanager": SCRATCH_TMPFS,
        });
        expect(SCRATCH_TMPFS).toBe("rw,nosuid,nodev,size=512m,uid=10001,gid=10001");
    });

    test("no network with folder copies only; the default bridge with an sftp target", () => {
        expect(backupAgentNetworkMode(load({}).backups)).toBe("none");
        const folders = load({ backupCopyTo: '["/mnt/nas/lm"]', backupEncryptTo: "none" });
        expect(backupAgentNetworkMode(folders.backups)).toBe("none");
        const sftp = load({ backupCopyTo: `["${SFTP}"]`, backupSftpKey: KEY, backupEncryptTo: "none" });
        expect(backupAgentNetworkMode(sftp.backups)).toBe("bridge");
    });

    test("the loop is started with its settings; health by lm_backupd.py --health every 30 s; 60 s to stop", () => {
        const config = load({
            backupKeep: "5",
            backupCopyTo: `["${SFTP}"]`,
            backupSftpKey: KEY,
            backupEncryptTo: "none",
        });
        const volumes = { data: "d", uploads: "u", backups: "b", persistent: [] };
        const fields = backupAgentFields(config, volumes);
        expect(fields.entrypoints).toEqual(["python3", "-OO", "/opt/lernmanager/lm_backupd.py"]);
        expect(fields.command[0]).toBe("--config");
        expect(JSON.parse(fields.command[1])).toEqual(backupAgentSettings(config));
        expect(fields.command).toHaveLength(2);
        expect(fields.mounts).toEqual(backupAgentMounts(volumes, []));
        expect(fields.tmpfs).toEqual(backupAgentTmpfs(config));
        expect(fields.networkMode).toBe("bridge");
        expect(fields.destroyGraceSeconds).toBe(60);
        expect(fields.healthcheck).toBe(BACKUP_HEALTHCHECK);
        expect(BACKUP_HEALTHCHECK).toEqual({
            tests: ["CMD", "python3", "-OO", "/opt/lernmanager/lm_backupd.py", "--health"],
            interval: "30s",
            timeout: "10s",
            retries: 2,
            startPeriod: "2m0s",
        });
        expect(BACKUP_LAYOUT.copyDir(7)).toBe("/srv/copy/7");
    });
});

/** A resource the backup container must be created after (the app container, in the program). */
class Before extends pulumi.CustomResource {
    constructor(name: string) {
        super("test:index:Before", name, {});
    }
}

describe("the BackupAgent component, declared under the mocks", () => {
    const appArgs = (extra: Partial<AppServiceArgs> = {}): AppServiceArgs => ({
        image: "app-image-id",
        network: "net",
        volumes: { data: "v-data", uploads: "v-uploads", static: "v-static", cache: "v-cache" },
        dataPath: "data",
        uploadsPath: "instance/uploads",
        persistent: [{ path: "instance/reports", volume: "v-reports" }],
        env: { SCHOOL_NAME: "Schule Am Walde", LLM_API_KEY: "sk-llm" },
        secretKey: "the-secret-key",
        labels: [{ label: "dev.lernmanager.stack", value: "bk" }],
        ...extra,
    });

    test("one container of the app's image: the app's env without unused secrets plus the SFTP key, all secret; its mounts, role label and order", async () => {
        const config = load({
            databaseFile: "lernmanager.db",
            backupCopyTo: `["/mnt/nas/lm", "${SFTP}"]`,
            backupSftpKey: KEY,
            backupEncryptTo: "none",
            persistentPaths: '["instance/reports"]',
        });
        let agent: BackupAgent | undefined;
        const declared = await declareUnderMocks((transformations) => {
            const first = new Before("before");
            agent = new BackupAgent(
                "lm-backups",
                { app: appArgs(), backupsVolume: "v-backups", config, after: [first] },
                { transformations },
            );
        });
        expect(declared.map((d) => `${d.type} ${d.name}`).sort()).toEqual([
            "docker:index/container:Container lm-backups",
            "lernmanager:app:BackupAgent lm-backups",
            "test:index:Before before",
        ]);
        const c = declared.find((d) => d.type === "docker:index/container:Container")!;
        expect(c.secretInputs).toContain("envs");
        expect(c.inputs.envs).toEqual([
            "SECRET_KEY=the-secret-key",
            "SCHOOL_NAME=Schule Am Walde",
            `LM_SFTP_KEY=${KEY}`,
        ]);
        expect(c.inputs.image).toBe("app-image-id");
        expect(c.inputs.entrypoints).toEqual(["python3", "-OO", "/opt/lernmanager/lm_backupd.py"]);
        expect(JSON.parse(c.inputs.command[1])).toEqual(backupAgentSettings(config));
        expect(c.inputs.mounts).toEqual([
            { type: "volume", source: "v-data", target: "/srv/live/data" },
            { type: "volume", source: "v-uploads", target: "/srv/live/uploads", readOnly: true },
            { type: "volume", source: "v-reports", target: "/srv/live/keep-instance-reports", readOnly: true },
            { type: "volume", source: "v-backups", target: "/backups" },
            { type: "bind", source: "/mnt/nas/lm", target: "/srv/copy/0" },
        ]);
        expect(c.inputs.networkMode).toBe("bridge");
        expect(c.inputs.tmpfs).toEqual(backupAgentTmpfs(config));
        expect(c.inputs.readOnly).toBe(true);
        expect(c.inputs.labels).toEqual([
            { label: "dev.lernmanager.stack", value: "bk" },
            { label: "dev.lernmanager.role", value: "backup" },
        ]);
        expect(c.opts.parent).toBe(agent);
        expect(c.opts.dependsOn).toHaveLength(1);
        expect(c.opts.deleteBeforeReplace).toBe(false);
        expect(agent!.container).toBeInstanceOf(pulumi.CustomResource);
        // Its state keeps the container's name (Pulumi auto-names it).
        const component = declared.find((d) => d.type === "lernmanager:app:BackupAgent")!;
        expect(component.outputs).toEqual({ container: "lm-backups-a1b2c3d" });
    });

    test("without an SFTP key or persistent folders: the app's env only, no network, no folder mounts", async () => {
        const config = load({ persistentPaths: "[]" });
        const declared = await declareUnderMocks((transformations) => {
            new BackupAgent(
                "lm-plain",
                { app: appArgs({ persistent: undefined }), backupsVolume: "v-b2", config, after: [] },
                { transformations },
            );
        });
        const c = declared.find((d) => d.type === "docker:index/container:Container")!;
        expect(c.inputs.envs).toEqual(["SECRET_KEY=the-secret-key", "SCHOOL_NAME=Schule Am Walde"]);
        expect(c.secretInputs).toContain("envs");
        expect(c.inputs.networkMode).toBe("none");
        expect(c.inputs.mounts.map((m: { target: string }) => m.target)).toEqual([
            "/srv/live/data",
            "/srv/live/uploads",
            "/backups",
        ]);
        expect(c.inputs.mounts[2].source).toBe("v-b2");
    });
});
