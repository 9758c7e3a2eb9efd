// `npm run import`: an old install's data/, uploads and further persistent folders into a stack's
// volumes, before the stack's app first starts (or while it is stopped). The copying itself is
// containers/import/lm_import.py: `pack` on the old server, `check` / `unpack` in a helper container.
import { spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { StackConfig } from "../config/types";
import { CONTAINERS_DIR } from "../core/paths";
import { STACK_LABEL, StackNames } from "../core/names";
import {
    backupsTarget,
    ensureVolumes,
    ImportError,
    ImportTarget,
    importTargets,
    Run,
    run,
    safetyBackup,
} from "./importVolumes";
import { copyBackups, PlainVolumes } from "./importMove";

export { ImportError, importTargets } from "./importVolumes";
export type { ImportTarget } from "./importVolumes";

export const IMPORT_SCRIPT = path.join(CONTAINERS_DIR, "import", "lm_import.py");

/**
 * Where the old install is: a folder on this machine, `ssh://[user@]host[:port]/path`, or the stack's
 * own Docker volumes of before dataHostPath (`--from-plain-volumes`, render/importMove.ts).
 */
export type ImportSource =
    | { readonly kind: "local"; readonly path: string }
    | { readonly kind: "ssh"; readonly host: string; readonly port?: number; readonly path: string }
    | PlainVolumes;

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

export interface ImportOptions {
    readonly stack: string;
    readonly names: StackNames;
    readonly config: Pick<
        StackConfig,
        "dataPath" | "uploadsPath" | "persistentPaths" | "databaseFile" | "pythonImage"
    > &
        Partial<Pick<StackConfig, "migrations" | "dataHostPath">>;
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
    /** From the plain volumes: the backups copied into the bound backups volume. */
    readonly backupsCopied?: { from: string; to: string; files: number };
    readonly source: SourceSummary;
    readonly target: TargetSummary;
    readonly seconds: number;
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
    if (source.kind === "volumes")
        return [
            "docker",
            "run",
            "--rm",
            "-i",
            "--network",
            "none",
            "--user",
            "0:0",
            // The database's folder writable: SQLite opens a WAL database for reading only where it may write -shm.
            ...source.targets.flatMap((t, i) => [
                "--mount",
                `type=volume,source=${t.volume},target=/plain/${t.folder}${i === 0 ? "" : ",readonly"}`,
            ]),
            source.pythonImage,
            "python3",
            "-",
            "pack",
            "/plain",
            ...folders,
        ];
    const remote = ["python3", "-", "pack", source.path, ...folders].map(quote).join(" ");
    return [...ssh, ...(source.port ? ["-p", String(source.port)] : []), "-o", "BatchMode=yes", source.host, remote];
}

/** Copies the old install into the stack's volumes; throws ImportError with the reason and the fix. */
export async function runImport(opts: ImportOptions): Promise<ImportReport> {
    const started = Date.now();
    const env = opts.dockerEnv;
    const targets = importTargets(opts.config, opts.names, opts.stack);
    const move = opts.source.kind === "volumes" ? opts.source : undefined;
    for (const volume of [opts.names.volumes.data, ...(move ? [move.targets[0].volume] : [])]) {
        const busy = await run("docker", ["ps", "-q", "--filter", `volume=${volume}`], env);
        if (busy.code !== 0) throw new ImportError(`docker ps failed: ${busy.stderr.trim()}`);
        if (busy.stdout.trim())
            throw new ImportError(
                `a running container uses ${volume} (the stack's app is up). Import before the first ` +
                    `\`pulumi up\`, or stop the app first: docker stop $(docker ps -q --filter volume=${volume})`,
            );
    }
    if (move) {
        const missing = await run("docker", ["volume", "inspect", move.targets[0].volume], env);
        if (missing.code !== 0)
            throw new ImportError(`${move.targets[0].volume} does not exist: there are no plain volumes to move from`);
    }
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
    const checked = summaryLine<{ notEmpty: string[]; marked: string[] }>(check.stdout);
    const volumeOf = (dir: string) => targets.find((t) => `/target/${t.folder}` === dir)?.volume ?? dir;
    const root = opts.config.dataHostPath;
    if (root && /failed to mount local volume|no such file or directory/i.test(check.stderr))
        throw new ImportError(
            `dataHostPath ${root} is not set up (${check.stderr.trim().split("\n").pop()}). Fix: unlock and mount the disk; ` +
                `a new disk: cli/data-host-path-init.sh ${root}${opts.config.persistentPaths.map((p) => ` ${p}`).join("")} once`,
        );
    if (check.code === 3 && checked)
        throw new ImportError(
            `the stack's volumes are not empty (${checked.notEmpty.map(volumeOf).join(", ")}); nothing was copied. ` +
                `Fix: add --overwrite to replace what they hold with the old install's data.`,
        );
    if (check.code !== 0 || !checked) throw new ImportError(`the import helper failed: ${check.stderr.trim()}`);
    if (root && !checked.marked.includes(mountDirs[0]))
        throw new ImportError(
            `dataHostPath ${root} is not mounted (no .lernmanager-data-mount in its data folder): unlock and mount the disk; ` +
                `a new disk: cli/data-host-path-init.sh ${root} once. Nothing was copied.`,
        );

    // Before anything is replaced: a safety backup of the database (and its uploads) that `npm run
    // restore` brings back. --overwrite: of what the stack's volumes hold, into its backups volume.
    // A move from the plain volumes: of those, into their backups volume, which is then copied over.
    let safety: string | undefined;
    const c = opts.config;
    if (move)
        safety = await safetyBackup(
            opts.stack,
            c,
            {
                data: move.targets[0].volume,
                uploads: move.targets[1].volume,
                backups: move.backups,
                label: "before-host-path-move",
            },
            env,
        );
    else if (opts.overwrite && checked.notEmpty.length > 0)
        safety = await safetyBackup(
            opts.stack,
            c,
            {
                data: opts.names.volumes.data,
                uploads: opts.names.volumes.uploads,
                backups: backupsTarget(c, opts.names, opts.stack),
                label: "before-import",
            },
            env,
        );
    const backupsCopied = move
        ? await copyBackups(opts.stack, c.pythonImage, move.backups, backupsTarget(c, opts.names, opts.stack), env)
        : undefined;

    const [packCmd, ...packArgs] = packCommand(
        opts.source,
        targets.map((t) => t.folder),
        opts.python,
        opts.ssh,
    );
    const pack = spawn(packCmd, packArgs, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    const unpack = spawn(
        "docker",
        helper(["unpack", `${c.dataPath}/${c.databaseFile}`, ...mountDirs, ...(opts.overwrite ? ["--overwrite"] : [])]),
        { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] },
    );
    // Either side may exit without reading all its input (a refused ssh login, an unpack that
    // stopped): the write then fails with EPIPE; the exit codes and stderr below say what happened.
    pack.stdin.on("error", () => undefined);
    unpack.stdin.on("error", () => undefined);
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
    if (move) source.root = `the plain volumes (${move.targets.map((t) => t.volume).join(", ")})`;
    return {
        targets,
        createdVolumes,
        safetyBackup: safety,
        emptied: target.emptied,
        backupsCopied,
        source,
        target,
        seconds: (Date.now() - started) / 1000,
    };
}
