// `npm run import`: an old install's data/, uploads and further persistent folders into a stack's
// volumes, before the stack's app first starts (or while it is stopped). The copying itself is
// containers/import/lm_import.py: `pack` on the old server, `check` / `unpack` in a helper container.
import { spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { StackConfig } from "../config/types";
import { CONTAINERS_DIR } from "../core/paths";
import { persistentVolumeName, STACK_LABEL, StackNames, volumeLabels } from "../core/names";

export const IMPORT_SCRIPT = path.join(CONTAINERS_DIR, "import", "lm_import.py");
/** The backup helpers the safety backup before `--overwrite` runs (the same code as every backup). */
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

/** Where the old install is: a folder on this machine, or `ssh://[user@]host[:port]/path`. */
export type ImportSource =
    | { readonly kind: "local"; readonly path: string }
    | { readonly kind: "ssh"; readonly host: string; readonly port?: number; readonly path: string };

export function parseSource(text: string): ImportSource {
    const m = /^ssh:\/\/([^/:]+)(?::(\d+))?(\/.*)$/.exec(text);
    if (m) {
        // ssh would read a host (or user) starting with "-" as one of its options (e.g. -oProxyCommand=…).
        const [user, host] = m[1].includes("@") ? m[1].split(/@(.*)/s) : ["", m[1]];
        if (user.startsWith("-") || host.startsWith("-") || !/^[A-Za-z0-9._\[\]-]+$/.test(host)) {
            throw new ImportError(
                `${text}: the host must be a name or address (letters, digits, . and -, not starting with -). Fix: write ssh://[user@]host[:port]/path/to/lernmanager`,
            );
        }
        return { kind: "ssh", host: m[1], port: m[2] ? Number(m[2]) : undefined, path: m[3] };
    }
    if (text.startsWith("ssh://")) throw new ImportError(`${text}: write ssh://[user@]host[:port]/path/to/lernmanager`);
    return { kind: "local", path: path.resolve(text) };
}

export class ImportError extends Error {}

/** One folder the stack persists and the volume that keeps it. */
export interface ImportTarget {
    /** Inside the app, e.g. `data`, `instance/uploads`. */
    readonly folder: string;
    readonly volume: string;
    readonly labels: Record<string, string>;
}

export function importTargets(
    config: Pick<StackConfig, "dataPath" | "uploadsPath" | "persistentPaths">,
    names: StackNames,
    stack: string,
): ImportTarget[] {
    const label = (kind: string) => Object.fromEntries(volumeLabels(stack, kind).map((l) => [l.label, l.value]));
    return [
        { folder: config.dataPath, volume: names.volumes.data, labels: label("data") },
        { folder: config.uploadsPath, volume: names.volumes.uploads, labels: label("uploads") },
        ...config.persistentPaths.map((folder) => ({
            folder,
            volume: persistentVolumeName(names.prefix, folder),
            labels: label(`keep:${folder}`),
        })),
    ];
}

export interface ImportOptions {
    readonly stack: string;
    readonly names: StackNames;
    readonly config: Pick<
        StackConfig,
        "dataPath" | "uploadsPath" | "persistentPaths" | "databaseFile" | "pythonImage"
    > &
        Partial<Pick<StackConfig, "migrations">>;
    readonly source: ImportSource;
    /** Empty volumes that already hold something instead of refusing. */
    readonly overwrite?: boolean;
    /** DOCKER_HOST (and TLS settings) of the stack's engine (config/docker.ts). */
    readonly dockerEnv: Readonly<Record<string, string>>;
    /** python3 on this machine, for a local source. @default "python3" */
    readonly python?: string;
    /** The ssh command for an ssh:// source. @default ["ssh"] (your ~/.ssh/config and keys) */
    readonly ssh?: readonly string[];
}

/** What `pack` saw on the old server. */
export interface SourceSummary {
    root: string;
    files: number;
    bytes: number;
    databases: Record<string, Record<string, number>>;
    skipped: string[];
    missing: string[];
    env: Record<string, string> | null;
    /** Why the old .env could not be read (root's only), when so. */
    env_error?: string;
}

/** What arrived in the volumes. */
export interface TargetSummary {
    refused: string[];
    folders: Record<string, { files: number; bytes: number }>;
    databases: Record<string, { integrity: string; rows: Record<string, number> }>;
    migrationsDone?: string[];
    databaseFound: boolean;
    emptied: string[];
}

export interface ImportReport {
    readonly targets: ImportTarget[];
    readonly createdVolumes: string[];
    /** The before-import backup taken before --overwrite replaced a database (`npm run restore` brings it back). */
    readonly safetyBackup?: string;
    /** Folders whose volumes held something that the import replaced (--overwrite). */
    readonly emptied: string[];
    readonly source: SourceSummary;
    readonly target: TargetSummary;
    readonly seconds: number;
}

interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

function run(cmd: string, args: string[], env: Readonly<Record<string, string>>, input?: string): Promise<Run> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(input ?? "");
    });
}

/** The JSON of the last `LMIMPORT {...}` line of a helper's output. */
export function summaryLine<T>(text: string): T | undefined {
    const line = text
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("LMIMPORT "));
    return line ? (JSON.parse(line.slice("LMIMPORT ".length)) as T) : undefined;
}

/** The command that runs `pack` where the old install is, the script arriving on its stdin. */
export function packCommand(
    source: ImportSource,
    folders: readonly string[],
    python = "python3",
    ssh: readonly string[] = ["ssh"],
): string[] {
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    if (source.kind === "local") return [python, "-", "pack", source.path, ...folders];
    const remote = ["python3", "-", "pack", source.path, ...folders].map(quote).join(" ");
    return [...ssh, ...(source.port ? ["-p", String(source.port)] : []), "-o", "BatchMode=yes", source.host, remote];
}

async function ensureVolumes(targets: ImportTarget[], env: Readonly<Record<string, string>>): Promise<string[]> {
    const created: string[] = [];
    for (const t of targets) {
        const found = await run("docker", ["volume", "inspect", "--format", "{{json .Labels}}", t.volume], env);
        if (found.code === 0) {
            const have = (JSON.parse(found.stdout.trim() || "null") ?? {}) as Record<string, string>;
            const wrong = Object.entries(t.labels).filter(([k, v]) => have[k] !== v);
            if (wrong.length)
                throw new ImportError(
                    `volume ${t.volume} exists but is not this stack's (labels ${JSON.stringify(have)}, expected ` +
                        `${JSON.stringify(t.labels)}); the provider would replace it. Fix: choose another stack name, or remove it.`,
                );
            continue;
        }
        const labels = Object.entries(t.labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
        const made = await run("docker", ["volume", "create", ...labels, t.volume], env);
        if (made.code !== 0) throw new ImportError(`docker volume create ${t.volume} failed: ${made.stderr.trim()}`);
        created.push(t.volume);
    }
    return created;
}

/**
 * The safety backup before --overwrite: lm_backup.py (the SQLite backup API, the uploads snapshot, the
 * done-file) as the backups' user, without network, into the stack's backups volume (created with the
 * stack's labels when missing). Returns the backup's file name, or undefined when there was no database.
 */
async function beforeImportBackup(
    opts: ImportOptions,
    env: Readonly<Record<string, string>>,
): Promise<string | undefined> {
    const c = opts.config;
    const label = Object.fromEntries(volumeLabels(opts.stack, "backups").map((l) => [l.label, l.value]));
    const made = await ensureVolumes([{ folder: "backups", volume: opts.names.volumes.backups, labels: label }], env);
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
                `type=volume,source=${opts.names.volumes.backups},target=/backups`,
                c.pythonImage,
                "sh",
                "-c",
                "chown 10001:10001 /backups && chmod 700 /backups",
            ],
            env,
        );
        if (own.code !== 0)
            throw new ImportError(`preparing ${opts.names.volumes.backups} failed: ${own.stderr.trim()}`);
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
        `${STACK_LABEL}=${opts.stack}`,
        "--label",
        "dev.lernmanager.role=import-backup",
        "--mount",
        `type=volume,source=${opts.names.volumes.data},target=/target/${c.dataPath}`,
        "--mount",
        `type=volume,source=${opts.names.volumes.uploads},target=/target/${c.uploadsPath},readonly`,
        "--mount",
        `type=volume,source=${opts.names.volumes.backups},target=/backups`,
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
        "before-import",
        "--uploads",
        `/target/${c.uploadsPath}`,
        ...(c.migrations ? ["--done-file", `/target/${c.migrations.doneFile}`] : []),
    ];
    const done = await run("docker", args, { ...env, ...src });
    if (done.code !== 0)
        throw new ImportError(
            `the safety backup before --overwrite failed, so nothing was replaced: ${(done.stderr || done.stdout).trim().slice(-600)}`,
        );
    return /backup: wrote \/backups\/(\S+) /.exec(done.stdout)?.[1];
}

/** Copies the old install into the stack's volumes; throws ImportError with the reason and the fix. */
export async function runImport(opts: ImportOptions): Promise<ImportReport> {
    const started = Date.now();
    const env = opts.dockerEnv;
    const targets = importTargets(opts.config, opts.names, opts.stack);
    const busy = await run("docker", ["ps", "-q", "--filter", `volume=${opts.names.volumes.data}`], env);
    if (busy.code !== 0) throw new ImportError(`docker ps failed: ${busy.stderr.trim()}`);
    if (busy.stdout.trim())
        throw new ImportError(
            `a running container uses ${opts.names.volumes.data} (the stack's app is up). Import before the first ` +
                `\`pulumi up\`, or stop the app first: docker stop $(docker ps -q --filter volume=${opts.names.volumes.data})`,
        );
    const createdVolumes = await ensureVolumes(targets, env);
    const script = fs.readFileSync(IMPORT_SCRIPT, "utf8");
    const mountDirs = targets.map((t) => `/target/${t.folder}`);
    const helper = (mode: string[]) => [
        "run",
        "--rm",
        "-i",
        "--name",
        `${opts.names.prefix}-import-${randomBytes(3).toString("hex")}`,
        "--label",
        `${STACK_LABEL}=${opts.stack}`,
        "--network",
        "none",
        "--user",
        "0:0",
        ...targets.flatMap((t) => ["--mount", `type=volume,source=${t.volume},target=/target/${t.folder}`]),
        opts.config.pythonImage,
        "python3",
        "-c",
        script,
        ...mode,
    ];

    const check = await run("docker", helper(["check", ...(opts.overwrite ? ["--overwrite"] : []), ...mountDirs]), env);
    const checked = summaryLine<{ notEmpty: string[] }>(check.stdout);
    const volumeOf = (dir: string) => targets.find((t) => `/target/${t.folder}` === dir)?.volume ?? dir;
    if (check.code === 3 && checked)
        throw new ImportError(
            `the stack's volumes are not empty (${checked.notEmpty.map(volumeOf).join(", ")}); nothing was copied. ` +
                `Fix: add --overwrite to replace what they hold with the old install's data.`,
        );
    if (check.code !== 0 || !checked) throw new ImportError(`the import helper failed: ${check.stderr.trim()}`);

    // --overwrite replaces a database: first a safety backup of it (and of its uploads) into the
    // stack's backups volume, labelled before-import, that `npm run restore` brings back.
    let safety: string | undefined;
    if (opts.overwrite && checked.notEmpty.length > 0) safety = await beforeImportBackup(opts, env);

    const [packCmd, ...packArgs] = packCommand(
        opts.source,
        targets.map((t) => t.folder),
        opts.python,
        opts.ssh,
    );
    const pack = spawn(packCmd, packArgs, { stdio: ["pipe", "pipe", "pipe"] });
    const unpack = spawn(
        "docker",
        helper([
            "unpack",
            `${opts.config.dataPath}/${opts.config.databaseFile}`,
            ...mountDirs,
            ...(opts.overwrite ? ["--overwrite"] : []),
        ]),
        {
            env: { ...process.env, ...env },
            stdio: ["pipe", "pipe", "pipe"],
        },
    );
    pack.stdout.pipe(unpack.stdin);
    pack.stdin.end(script);
    const collect = (child: ReturnType<typeof spawn>) =>
        new Promise<Run>((resolve, reject) => {
            let stdout = "";
            let stderr = "";
            child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
            if (child !== pack) child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
            child.on("error", reject);
            child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        });
    const [packed, unpacked] = await Promise.all([collect(pack), collect(unpack)]);
    const source = summaryLine<SourceSummary>(packed.stderr);
    if (packed.code !== 0 || !source)
        throw new ImportError(`reading the old install failed (exit ${packed.code}): ${packed.stderr.trim()}`);
    const target = summaryLine<TargetSummary>(unpacked.stdout);
    if (unpacked.code !== 0 || !target)
        throw new ImportError(`writing into the volumes failed (exit ${unpacked.code}): ${unpacked.stderr.trim()}`);
    return {
        targets,
        createdVolumes,
        safetyBackup: safety,
        emptied: target.emptied,
        source,
        target,
        seconds: (Date.now() - started) / 1000,
    };
}
