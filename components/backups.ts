import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/load";
import type { BackupConfig } from "../config/backups";
import { SECRET_SETTING_ENVS } from "../config/settings";
import { backupScript, SCRATCH_TMPFS, StepBase } from "../render/deploy";
import { persistentSlug, type StackNames } from "../core/names";
import { LAYOUT } from "../core/layout";
import { appContainerSpec, AppServiceArgs, appImageContainer } from "./appService";
import { DATA_MOUNT_MARKER } from "./storage";
import { healthcheck } from "./hardening";

/** Where the backup container sees the live data, the uploads and the copy folders. */
export const BACKUP_LAYOUT = {
    liveData: "/srv/live/data",
    liveUploads: "/srv/live/uploads",
    backups: "/backups",
    copyDir: (i: number) => `/srv/copy/${i}`,
    /** A further persistent folder (config persistentPaths), read-only, by its slug. */
    liveFolder: (slug: string) => `/srv/live/keep-${slug}`,
} as const;

export interface BackupAgentArgs {
    /** The app container's arguments (image, environment, volumes, limits, labels). */
    readonly app: AppServiceArgs;
    /** The backups volume's name. */
    readonly backupsVolume: pulumi.Input<string>;
    readonly config: StackConfig;
    /** Created after these (the app container: the database exists). */
    readonly after: pulumi.Resource[];
}

/** `hourly=H,daily=D,weekly=W` (containers/runtime/backups/lm_backup.py --retention). */
export function backupAgentRetention(config: StackConfig): string {
    const r = config.backups.retention;
    return `hourly=${r.hourly},daily=${r.daily},weekly=${r.weekly}`;
}

/**
 * With dataHostPath, the first lines of the pre-deploy backup: is that folder the mounted disk (the
 * marker written at setup)? If not, the deploy stops before anything is changed. "" without one.
 */
export function dataMountGuard(root: string | undefined): string {
    if (!root) return "";
    return [
        `docker run --rm --network none --user 0:0 --cap-drop ALL --mount 'type=bind,source=${root},target=/check,readonly' --entrypoint /bin/sh "$LM_IMAGE" -c 'test -f /check/${DATA_MOUNT_MARKER}' || {`,
        `  echo "dataHostPath ${root} is not mounted (no ${DATA_MOUNT_MARKER} in it): unlock and mount the disk (e.g. cryptsetup open + mount), then run pulumi up again; a new disk: cli/data-host-path-init.sh ${root} once. Nothing was changed." >&2; exit 1; }`,
        "",
    ].join("\n");
}

/** The backup deploy step's script: before every new app image, with the same retention. */
export function preDeployBackup(config: StackConfig, names: StackNames, step: StepBase): { script: string } {
    return {
        script:
            dataMountGuard(config.dataHostPath) +
            backupScript({
                ...step,
                dataVolume: names.volumes.data,
                backupsVolume: names.volumes.backups,
                databasePath: `${LAYOUT.appDir}/${config.dataPath}/${config.databaseFile}`,
                keep: config.backupKeep,
                retention: backupAgentRetention(config),
                doneFile: config.migrations && `${LAYOUT.appDir}/${config.migrations.doneFile}`,
            }),
    };
}

/** The loop's settings (containers/runtime/backups/lm_backupd.py `--config`), a pure function of the config. */
export function backupAgentSettings(config: StackConfig) {
    const b = config.backups;
    const inData = (rel: string) => `${BACKUP_LAYOUT.liveData}/${rel.slice(config.dataPath.length + 1)}`;
    return {
        database: `${BACKUP_LAYOUT.liveData}/${config.databaseFile}`,
        // The same files as the app container sees them (cli/restore.sh restores through its mounts).
        appDatabase: `${LAYOUT.appDir}/${config.dataPath}/${config.databaseFile}`,
        appDoneFile: config.migrations ? `${LAYOUT.appDir}/${config.migrations.doneFile}` : "",
        appUploads: `${LAYOUT.appDir}/${config.uploadsPath}`,
        // The persistent folders each backup keeps beside the uploads: [slug, where the backup
        // container reads it, where the app has it] (lm_backup.py --folder; cli/restore.sh).
        ...(config.persistentPaths.length
            ? {
                  folders: config.persistentPaths.map((p) => [
                      persistentSlug(p),
                      BACKUP_LAYOUT.liveFolder(persistentSlug(p)),
                      `${LAYOUT.appDir}/${p}`,
                  ]),
              }
            : {}),
        stem: config.databaseFile.replace(/\.[^.]*$/, ""),
        backups: BACKUP_LAYOUT.backups,
        uploads: BACKUP_LAYOUT.liveUploads,
        keep: config.backupKeep,
        retention: backupAgentRetention(config),
        everySeconds: b.everySeconds ?? null,
        doneFile: config.migrations ? inData(config.migrations.doneFile) : "",
        migrations: config.migrations ?? null,
        copyDirs: b.copyDirs.map((dir, i) => [dir, BACKUP_LAYOUT.copyDir(i)]),
        sftp: b.sftpTargets,
        // Only when set: a stack without encrypted copies keeps the settings (and container) it had.
        ...(b.encryptTo.length ? { encryptTo: b.encryptTo } : {}),
    };
}

/** backupSftpHostKey for lm_sftp.py: `LM_SFTP_HOST_KEYS=type base64,type base64`, none when not set. */
export function sftpHostKeysEnv(keys: readonly string[]): string[] {
    return keys.length ? [`LM_SFTP_HOST_KEYS=${keys.join(",")}`] : [];
}

/**
 * The backup container's environment: the app's (`NAME=value` each; the drill starts the app) without
 * the secrets of services the backups never call (SECRET_SETTING_ENVS); with an SFTP key (secret
 * backupSftpKey) that key joins it, for lm_sftp.py only, and so do the pinned host keys (backupSftpHostKey).
 */
export function backupAgentEnvs(appEnvs: readonly string[], backups: BackupConfig): string[] {
    return [
        ...appEnvs.filter((v) => !SECRET_SETTING_ENVS.includes(v.slice(0, v.indexOf("=")))),
        ...(backups.sftpKey ? [`LM_SFTP_KEY=${backups.sftpKey}`, ...sftpHostKeysEnv(backups.sftpHostKeys)] : []),
    ];
}

/** The volumes the backup container mounts (names, or Outputs of them in the program). */
export interface BackupAgentVolumes<V> {
    readonly data: V;
    readonly uploads: V;
    readonly backups: V;
    /** The further persistent folders inside the app and their volumes. */
    readonly persistent: readonly { readonly path: string; readonly volume: V }[];
}

/**
 * Its mounts: the live data (read-write: SQLite's backup API takes a lock), the uploads and the
 * persistent folders read-only, the backups volume, and each copy folder as a bind mount of the
 * existing host folder.
 */
export function backupAgentMounts<V>(volumes: BackupAgentVolumes<V>, copyDirs: readonly string[]) {
    return [
        { type: "volume", source: volumes.data, target: BACKUP_LAYOUT.liveData },
        { type: "volume", source: volumes.uploads, target: BACKUP_LAYOUT.liveUploads, readOnly: true },
        ...volumes.persistent.map((p) => ({
            type: "volume",
            source: p.volume,
            target: BACKUP_LAYOUT.liveFolder(persistentSlug(p.path)),
            readOnly: true,
        })),
        { type: "volume", source: volumes.backups, target: BACKUP_LAYOUT.backups },
        ...copyDirs.map((dir, i) => ({ type: "bind", source: dir, target: BACKUP_LAYOUT.copyDir(i) })),
    ];
}

/** Its tmpfs: /tmp, and the app's own folders as throwaway space where the restore drill starts the app. */
export function backupAgentTmpfs(config: StackConfig): Record<string, string> {
    const scratch = (p: string) => [`${LAYOUT.appDir}/${p}`, SCRATCH_TMPFS] as const;
    return Object.fromEntries([
        ["/tmp", "rw,nosuid,nodev,size=256m,mode=1777"],
        ...[config.dataPath, config.uploadsPath, ...config.persistentPaths, ...config.scratchPaths].map(scratch),
        [LAYOUT.staticDir, SCRATCH_TMPFS],
        [LAYOUT.cacheDir, SCRATCH_TMPFS],
    ]);
}

/** No network at all unless an SFTP target needs one (the default bridge: out to the server only). */
export function backupAgentNetworkMode(backups: BackupConfig): "bridge" | "none" {
    return backups.sftpTargets.length > 0 ? "bridge" : "none";
}

/** Health: `lm_backupd.py --health` (a failed backup, copy or drill; an overdue backup; a stopped loop). */
const BACKUP_HEALTH_TEST = ["CMD", "python3", "-OO", `${LAYOUT.runtimeDir}/lm_backupd.py`, "--health"];
export const BACKUP_HEALTHCHECK = healthcheck(BACKUP_HEALTH_TEST, {
    every: 30,
    timeout: 10,
    retries: 2,
    startPeriod: 120,
});

/** The backup container's own fields besides the environment (a pure function of the config and the volumes). */
export function backupAgentFields<V>(config: StackConfig, volumes: BackupAgentVolumes<V>) {
    return {
        entrypoints: ["python3", "-OO", `${LAYOUT.runtimeDir}/lm_backupd.py`],
        command: ["--config", JSON.stringify(backupAgentSettings(config))],
        mounts: backupAgentMounts(volumes, config.backups.copyDirs),
        tmpfs: backupAgentTmpfs(config),
        networkMode: backupAgentNetworkMode(config.backups),
        healthcheck: BACKUP_HEALTHCHECK,
        destroyGraceSeconds: 60,
    };
}

/**
 * The backup container: the current app image, with the app's environment and hardening, but no
 * network (none at all unless an SFTP target needs one), the live data and uploads mounted under
 * /srv/live, the backups volume, the copy folders (bind mounts of existing host folders), and the
 * app's own folders as throwaway tmpfs, where the restore drill starts the app on the newest backup
 * (containers/runtime/backups/lm_backupd.py, lm_drill.py). Not waited for by the deploy: a NAS that is down
 * makes it unhealthy (`npm run status`), never blocks a deploy.
 */
export class BackupAgent extends pulumi.ComponentResource {
    public readonly container: docker.Container;

    constructor(name: string, args: BackupAgentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lernmanager:app:BackupAgent", name, {}, opts);
        const { app, config } = args;
        const envs = pulumi.output(appContainerSpec(app).envs).apply((e) => backupAgentEnvs(e, config.backups));
        const volumes = { ...app.volumes, backups: args.backupsVolume, persistent: app.persistent ?? [] };
        this.container = appImageContainer(
            this,
            name,
            app,
            "backup",
            { envs: pulumi.secret(envs), ...backupAgentFields(config, volumes) },
            args.after,
        );
        this.registerOutputs({ container: this.container.name });
    }
}
