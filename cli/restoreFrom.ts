// `npm run restore -- <stack> <backup>|latest --from <target>` (cli/restore.sh hands `--from` and
// `--help` here): a server rebuilt after the old one died gets its data back from the off-host copies.
// The backup is fetched and decrypted on this computer (cli/copies.ts), then
//   - a deployed stack: pushed into its backups volume (.lernmanager-incoming/) and restored by
//     cli/restore.sh with its safety: safety backup, writers stopped, migrations, health, undo on failure;
//   - a stack not deployed yet: copied into its volumes as `npm run import` does (render/import.ts),
//     before the first `pulumi up`, which then runs the pending migrations and waits for health.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { encryptedKeys } from "../config/baseStack";
import { ConfigError, loadConfig, type StackConfig } from "../config/load";
import { persistentSlug, stackNames } from "../core/names";
import { PROJECT_DIR } from "../core/paths";
import { ImportError, type ImportReport, runImport } from "../render/import";
import { CopiesError, decryptAll, fetchCopy, listCopies, resolveBackup, type SftpOptions } from "./copies";
import { stackConfig } from "./import";
import { parseRestoreArgs, RESTORE_USAGE, RestoreUsageError } from "./restoreArgs";
import { containers, docker, stackEngine } from "./stack";
import { oneOffRunFlags } from "./oneOff";

/** Where a fetched backup waits in the backups volume for cli/restore.sh (never pruned: not a top-level backup). */
export const INCOMING = ".lernmanager-incoming";

/** Unpacks a tar on stdin into /backups/INCOMING (emptied first), files 0600 and folders 0700. */
const PUSH_SCRIPT = `import os, shutil, sys, tarfile
os.umask(0o077)
d = "/backups/${INCOMING}"
shutil.rmtree(d, ignore_errors=True)
os.makedirs(d, mode=0o700)
tar = tarfile.open(fileobj=sys.stdin.buffer, mode="r|")
for m in tar:
    n = os.path.normpath(m.name)
    if n.startswith(("/", "..")) or not (m.isfile() or m.isdir()):
        sys.exit(f"refused {m.name}")
    tar.extract(m, d, set_attrs=False)
tar.close()
for root, dirs, files in os.walk(d):
    for x in dirs: os.chmod(os.path.join(root, x), 0o700)
    for x in files: os.chmod(os.path.join(root, x), 0o600)
`;

/** Lays a fetched backup out as an install (data/, the done-file, the uploads, the persistent folders) for runImport. */
export function layoutAsInstall(
    fetched: string,
    name: string,
    config: Pick<StackConfig, "dataPath" | "databaseFile" | "uploadsPath" | "persistentPaths"> &
        Partial<Pick<StackConfig, "migrations">>,
    into: string,
): void {
    const move = (from: string, to: string) => {
        if (!fs.existsSync(from)) return;
        fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
        fs.renameSync(from, to);
    };
    move(path.join(fetched, name), path.join(into, config.dataPath, config.databaseFile));
    if (config.migrations)
        move(path.join(fetched, `${name}.migrations_done.txt`), path.join(into, config.migrations.doneFile));
    move(path.join(fetched, `${name}.uploads`), path.join(into, config.uploadsPath));
    for (const p of config.persistentPaths)
        move(path.join(fetched, `${name}.keep-${persistentSlug(p)}`), path.join(into, p));
    for (const dir of [config.dataPath, config.uploadsPath, ...config.persistentPaths])
        fs.mkdirSync(path.join(into, dir), { recursive: true, mode: 0o700 });
}

/** What the restore into a stack not deployed yet says: files, rows per database, the safety backup, the next step. */
export function importedLine(
    name: string,
    stack: string,
    report: Pick<ImportReport, "safetyBackup"> & {
        readonly source: Pick<ImportReport["source"], "files">;
        readonly target: Pick<ImportReport["target"], "databases">;
    },
): string {
    const rows = Object.values(report.target.databases).map((d) => Object.values(d.rows).reduce((a, b) => a + b, 0));
    return (
        `${name} is in the volumes of ${stack}: ${report.source.files} files, ${rows.join("+") || 0} rows` +
        (report.safetyBackup ? `; what they held is in ${report.safetyBackup}` : "") +
        `. Next: \`npx pulumi up -s ${stack}\` (runs the pending migrations and waits until the app is healthy)`
    );
}

/** `bash` arguments that tar the fetched folder into a one-off container unpacking it into the backups volume's INCOMING. */
export function pushCommand(stack: string, volume: string, image: string, fetched: string): string[] {
    return [
        "-c",
        'set -o pipefail; src=$1; shift; tar -c -C "$src" . | docker "$@"',
        "bash",
        fetched,
        "run",
        "-i",
        ...oneOffRunFlags(stack, "restore-fetch"),
        "--mount",
        `type=volume,source=${volume},target=/backups`,
        "--entrypoint",
        "python3",
        image,
        "-c",
        PUSH_SCRIPT,
    ];
}

/** `docker` arguments that remove INCOMING from the backups volume after the restore (as the backups' user, no network). */
export function dropIncomingArgs(volume: string, image: string): string[] {
    return [
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "10001:10001",
        "--mount",
        `type=volume,source=${volume},target=/backups`,
        "--entrypoint",
        "rm",
        image,
        "-rf",
        `/backups/${INCOMING}`,
    ];
}

/** --help's last line: the Docker host the command would talk to (the stack's, else $DOCKER_HOST, else local). */
export function dockerHostLine(
    engine: { host: string; from: string } | undefined,
    dockerHost: string | undefined,
): string {
    const host = engine
        ? `${engine.host} (${engine.from})`
        : dockerHost
          ? `${dockerHost} ($DOCKER_HOST)`
          : "the local engine (no DOCKER_HOST; with a stack: its docker:host)";
    return `Docker host: ${host}`;
}

// Stryker disable all: from here on the command talks to Docker (the stack's containers, one-off
// containers, cli/restore.sh): test/e2e/restoreCopies.test.ts restores through it; the mutation score
// (scripts/mutate.sh) is of the parts above, which need no engine.

function say(text: string): void {
    console.log(`restore: ${text}`);
}

const projectName = () =>
    (YAML.parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as { name: string }).name;

/** The stack's config from Pulumi.<stack>.yaml (as `npm run import` reads it; no Pulumi CLI). */
function configOf(stack: string): StackConfig {
    const project = projectName();
    const raw = stackConfig(PROJECT_DIR, project, stack);
    return loadConfig(raw, {
        project,
        projectDir: PROJECT_DIR,
        encryptedKeys: encryptedKeys(PROJECT_DIR, stack, project),
    });
}

export interface RestoreFromResult {
    readonly backup: string;
    readonly deployed: boolean;
    readonly decrypted: number;
}

/** Lists the copies (list) or restores one; `config` for a stack not deployed yet (default: its Pulumi.<stack>.yaml). */
export async function restoreFromCopies(
    argv: string[],
    configFor: (stack: string) => StackConfig = configOf,
): Promise<RestoreFromResult | undefined> {
    const args = parseRestoreArgs(argv);
    if (args.kind !== "copies") throw new RestoreUsageError("restoreFromCopies needs --from");
    const { stack } = args;
    const backupBox = containers(stack, "backup", true)[0];
    const deployed = Boolean(backupBox);
    const config = deployed ? undefined : configFor(stack);
    const image = backupBox ? docker(["inspect", "--format", "{{.Image}}", backupBox]).trim() : config!.pythonImage;
    // Files named relative to where the admin typed `npm run` (npm runs the script in the project folder).
    const mine = (p: string | undefined) => p && path.resolve(process.env.INIT_CWD ?? process.cwd(), p);
    const sftpOpts: SftpOptions = { sftpKey: mine(args.sftpKey), knownHosts: mine(args.knownHosts) };
    const copies = listCopies(args.from, image, stack, sftpOpts);
    if (args.list) {
        for (const c of copies) console.log(`${c.name}${c.encrypted ? ".age" : ""}\t${c.bytes}`);
        if (!copies.length) say(`${args.from.text} holds no copies of backups`);
        return undefined;
    }
    const copy = resolveBackup(copies, args.backup!, args.from.text);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "lm-restore-"));
    fs.chmodSync(work, 0o700);
    try {
        const fetched = path.join(work, "fetched");
        fs.mkdirSync(fetched, { mode: 0o700 });
        say(`fetching ${copy.name}${copy.encrypted ? ".age" : ""} from ${args.from.text}`);
        fetchCopy(args.from, copy, fetched, image, stack, sftpOpts);
        if (!fs.existsSync(path.join(fetched, copy.encrypted ? `${copy.name}.age` : copy.name)))
            throw new CopiesError(`${copy.name} did not arrive from ${args.from.text}`);
        const decrypted = decryptAll(fetched, mine(args.identity));
        if (decrypted) say(`${decrypted} file(s) decrypted here with ${args.identity}`);
        if (deployed) {
            pushAndRestore(stack, backupBox, fetched, copy.name);
        } else {
            const layout = path.join(work, "install");
            layoutAsInstall(fetched, copy.name, config!, layout);
            say(`stack ${stack} is not deployed: copying ${copy.name} into its volumes (as npm run import does)`);
            const report = await runImport({
                stack,
                names: stackNames(projectName(), stack),
                config: config!,
                source: { kind: "local", path: layout },
                overwrite: args.overwrite,
                dockerEnv: {},
            });
            say(importedLine(copy.name, stack, report));
        }
        return { backup: copy.name, deployed, decrypted };
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

/** Into the backups volume (INCOMING), then cli/restore.sh restores it with its safety; the incoming copy goes after. */
function pushAndRestore(stack: string, backupBox: string, fetched: string, name: string): void {
    const image = docker(["inspect", "--format", "{{.Image}}", backupBox]).trim();
    const volume = docker([
        "inspect",
        "--format",
        '{{range .Mounts}}{{if eq .Destination "/backups"}}{{.Name}}{{end}}{{end}}',
        backupBox,
    ]).trim();
    const push = spawnSync("bash", pushCommand(stack, volume, image, fetched), { encoding: "utf8" });
    if (push.status !== 0)
        throw new CopiesError(`putting ${name} into ${volume} failed: ${push.stderr.trim().slice(-400)}`);
    say(`${name} is in the backups volume ${volume}; restoring it with a safety backup first`);
    const r = spawnSync("bash", [path.join(PROJECT_DIR, "cli", "restore.sh"), stack, `${INCOMING}/${name}`], {
        stdio: "inherit",
    });
    docker(dropIncomingArgs(volume, image), { allowFail: true });
    if (r.status !== 0) throw new CopiesError(`the restore of ${name} failed (above); the stack runs as before`);
}

function help(stack: string | undefined): void {
    console.log(RESTORE_USAGE);
    console.log(`\n${dockerHostLine(stack ? stackEngine(stack) : undefined, process.env.DOCKER_HOST)}`);
}

if (require.main === module) {
    (async () => {
        const argv = process.argv.slice(2);
        const args = parseRestoreArgs(argv);
        if (args.kind === "help") return help(args.stack);
        if (args.kind !== "copies")
            throw new RestoreUsageError("no --from: cli/restore.sh restores from the stack's own backups");
        const engine = stackEngine(args.stack);
        Object.assign(process.env, engine.env);
        process.stderr.write(`Docker host: ${engine.host} (${engine.from})\n`);
        const done = await restoreFromCopies(argv);
        if (done) say(`done: ${done.backup} from ${args.from.text}`);
    })().then(
        () => (process.exitCode = process.exitCode ?? 0),
        (err: unknown) => {
            const usage = err instanceof RestoreUsageError;
            const known =
                usage || err instanceof CopiesError || err instanceof ImportError || err instanceof ConfigError;
            console.error(`restore: ${known ? (err as Error).message : String((err as Error)?.stack ?? err)}`);
            process.exitCode = usage ? 2 : 1;
        },
    );
}
