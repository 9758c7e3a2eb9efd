// The Docker side of `npm run import`: the stack's volumes it copies into (bound to dataHostPath when
// that is set), created exactly as the program declares them, and the safety backup before it
// replaces anything.
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { StackConfig } from "../config/types";
import { CONTAINERS_DIR } from "../core/paths";
import { keptFolderName, keptVolumeName, STACK_LABEL, StackNames, volumeLabels } from "../core/names";

/** The backup helpers the safety backup runs (the same code as every backup). */
const BACKUP_MODULES = {
    lm_init: path.join(CONTAINERS_DIR, "runtime", "app", "lm_init.py"),
    lm_backup: path.join(CONTAINERS_DIR, "runtime", "backups", "lm_backup.py"),
};
/** Loads the modules from the environment (the Docker host may be remote: no bind mount of a local file). */
const BACKUP_BOOT = [
    "import os, sys, types",
    "for name in ('lm_init', 'lm_backup'):",
    "    mod = types.ModuleType(name); sys.modules[name] = mod",
    "    exec(compile(os.environ['LM_SRC_' + name.upper()], name + '.py', 'exec'), mod.__dict__)",
    "sys.argv = ['lm_backup.py'] + sys.argv[1:]",
    "sys.exit(sys.modules['lm_backup'].main())",
].join("\n");

export class ImportError extends Error {}

/** One folder the stack persists and the volume that keeps it. */
export interface ImportTarget {
    /** Inside the app, e.g. `data`, `instance/uploads`. */
    readonly folder: string;
    readonly volume: string;
    readonly labels: Record<string, string>;
    /** The local driver's bind options (components/storage.ts boundVolumeOptions) when under dataHostPath. */
    readonly driverOpts?: Record<string, string>;
}

/**
 * The volumes the import fills, named and labelled as components/storage.ts declares them; with
 * dataHostPath, bound to its folders (and so named apart from Docker's own: core/names.ts boundSuffix).
 */
export function importTargets(
    config: Pick<StackConfig, "dataPath" | "uploadsPath" | "persistentPaths" | "dataHostPath">,
    names: StackNames,
    stack: string,
): ImportTarget[] {
    const label = (kind: string) => Object.fromEntries(volumeLabels(stack, kind).map((l) => [l.label, l.value]));
    const root = config.dataHostPath;
    const bound = (folder: string) =>
        root ? { driverOpts: { type: "none", o: "bind", device: `${root}/${folder}` } } : {};
    return [
        { folder: config.dataPath, volume: names.volumes.data, labels: label("data"), ...bound("data") },
        { folder: config.uploadsPath, volume: names.volumes.uploads, labels: label("uploads"), ...bound("uploads") },
        ...config.persistentPaths.map((folder) => ({
            folder,
            volume: keptVolumeName(names, folder),
            labels: label(`keep:${folder}`),
            ...bound(keptFolderName(folder)),
        })),
    ];
}

/** The stack's backups volume as the program declares it (bound with dataHostPath). */
export function backupsTarget(
    config: Pick<StackConfig, "dataHostPath">,
    names: StackNames,
    stack: string,
): ImportTarget {
    const labels = Object.fromEntries(volumeLabels(stack, "backups").map((l) => [l.label, l.value]));
    const root = config.dataHostPath;
    return {
        folder: "backups",
        volume: names.volumes.backups,
        labels,
        ...(root ? { driverOpts: { type: "none", o: "bind", device: `${root}/backups` } } : {}),
    };
}

export interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

export function run(cmd: string, args: string[], env: Readonly<Record<string, string>>, input?: string): Promise<Run> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        // A program that exits without reading its input (docker volume inspect, or one that failed
        // early) closes the pipe: the write then fails with EPIPE, which is no error of ours; its
        // exit code and stderr say how it went.
        child.stdin.on("error", () => undefined);
        child.stdin.end(input ?? "");
    });
}

/**
 * Creates the targets' volumes as the program declares them, or checks that existing ones are: the
 * provider adopts a volume of the declared name only when its labels, driver and options read back
 * the same (kreuzwerker v4.5.0 resource_docker_volume.go: all ForceNew, all read back).
 */
export async function ensureVolumes(targets: ImportTarget[], env: Readonly<Record<string, string>>): Promise<string[]> {
    const created: string[] = [];
    for (const t of targets) {
        const found = await run("docker", ["volume", "inspect", "--format", "{{json .}}", t.volume], env);
        if (found.code === 0) {
            const have = JSON.parse(found.stdout.trim()) as {
                Labels?: Record<string, string>;
                Options?: Record<string, string>;
            };
            const labels = have.Labels ?? {};
            const wrong = Object.entries(t.labels).filter(([k, v]) => labels[k] !== v);
            if (wrong.length)
                throw new ImportError(
                    `volume ${t.volume} exists but is not this stack's (labels ${JSON.stringify(labels)}, expected ` +
                        `${JSON.stringify(t.labels)}); the provider would replace it. Fix: choose another stack name, or remove it.`,
                );
            const options = have.Options ?? {};
            if (JSON.stringify(sorted(options)) !== JSON.stringify(sorted(t.driverOpts ?? {})))
                throw new ImportError(
                    `volume ${t.volume} exists with driver options ${JSON.stringify(options)}, the stack declares ` +
                        `${JSON.stringify(t.driverOpts ?? {})}; the provider would replace it. Fix: remove it (docker volume rm ${t.volume}) if it holds nothing you need.`,
                );
            continue;
        }
        const labels = Object.entries(t.labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
        const opts = Object.entries(t.driverOpts ?? {}).flatMap(([k, v]) => ["--opt", `${k}=${v}`]);
        const driver = t.driverOpts ? ["--driver", "local"] : [];
        const made = await run("docker", ["volume", "create", ...driver, ...opts, ...labels, t.volume], env);
        if (made.code !== 0) throw new ImportError(`docker volume create ${t.volume} failed: ${made.stderr.trim()}`);
        created.push(t.volume);
    }
    return created;
}

const sorted = (o: Record<string, string>) =>
    Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

/** Which volumes the safety backup reads and writes, and its label. */
export interface SafetyBackup {
    readonly data: string;
    readonly uploads: string;
    readonly backups: ImportTarget;
    /** e.g. `before-import`: the backup file's name ends in it. */
    readonly label: string;
}

/**
 * The safety backup before --overwrite: lm_backup.py (the SQLite backup API, the uploads snapshot, the
 * done-file) as the backups' user, without network, into the stack's backups volume (created with the
 * stack's labels when missing). Returns the backup's file name, or undefined when there was no database.
 */
export async function safetyBackup(
    stack: string,
    c: Pick<StackConfig, "dataPath" | "uploadsPath" | "databaseFile" | "pythonImage"> &
        Partial<Pick<StackConfig, "migrations">>,
    volumes: SafetyBackup,
    env: Readonly<Record<string, string>>,
): Promise<string | undefined> {
    const made = await ensureVolumes([volumes.backups], env);
    if (made.length) {
        // A new volume's root belongs to root: give it to the backups' user, as the first deploy would.
        const own = await run(
            "docker",
            [
                "run",
                "--rm",
                "--network",
                "none",
                "--user",
                "0:0",
                "--mount",
                `type=volume,source=${volumes.backups.volume},target=/backups`,
                c.pythonImage,
                "sh",
                "-c",
                "chown 10001:10001 /backups && chmod 700 /backups",
            ],
            env,
        );
        if (own.code !== 0) throw new ImportError(`preparing ${volumes.backups.volume} failed: ${own.stderr.trim()}`);
    }
    const src = Object.fromEntries(
        Object.entries(BACKUP_MODULES).map(([name, file]) => [
            `LM_SRC_${name.toUpperCase()}`,
            fs.readFileSync(file, "utf8"),
        ]),
    );
    const args = [
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "10001:10001",
        "--cap-drop",
        "ALL",
        "--label",
        `${STACK_LABEL}=${stack}`,
        "--label",
        "dev.lernmanager.role=import-backup",
        "--mount",
        `type=volume,source=${volumes.data},target=/target/${c.dataPath}`,
        "--mount",
        `type=volume,source=${volumes.uploads},target=/target/${c.uploadsPath},readonly`,
        "--mount",
        `type=volume,source=${volumes.backups.volume},target=/backups`,
        ...Object.keys(src).flatMap((k) => ["--env", k]),
        "--env",
        "LM_INIT_MARKER=.lernmanager-init",
        c.pythonImage,
        "python3",
        "-c",
        BACKUP_BOOT,
        "backup",
        "--database",
        `/target/${c.dataPath}/${c.databaseFile}`,
        "--dir",
        "/backups",
        "--keep",
        "1000",
        "--label",
        volumes.label,
        "--uploads",
        `/target/${c.uploadsPath}`,
        ...(c.migrations ? ["--done-file", `/target/${c.migrations.doneFile}`] : []),
    ];
    const done = await run("docker", args, { ...env, ...src });
    if (done.code !== 0)
        throw new ImportError(
            `the safety backup (${volumes.label}) failed, so nothing was replaced: ${(done.stderr || done.stdout).trim().slice(-600)}`,
        );
    return /backup: wrote \/backups\/(\S+) /.exec(done.stdout)?.[1];
}
