// Off-host copies (backupCopyTo) read back from this computer for `npm run restore -- --from`: listed,
// one backup fetched (its .db, done-file, uploads and persistent-folder snapshots) into a private
// folder here, and decrypted here with the admin's age key (the private key never goes onto the server).
// A copy folder is on the Docker host: a one-off container of the stack's image reads it (read-only,
// as the backups' user, without network). An SFTP server is reached with this computer's sftp client.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { CopyTarget } from "./restoreArgs";
import { oneOffRunFlags } from "./oneOff";

export class CopiesError extends Error {}

export interface CopyEntry {
    /** The backup's .db name (without .age). */
    readonly name: string;
    readonly encrypted: boolean;
    readonly bytes: number;
}

export interface SftpOptions {
    readonly sftpKey?: string;
    readonly knownHosts?: string;
}

/** What belongs to one backup in a copy folder (lm_backup.py's names; .age when encrypted). */
const PARTS = String.raw`^(\.age|\.migrations_done\.txt(\.age)?|\.uploads|\.keep-[a-z0-9-]+)?$`;
const STAMP = String.raw`-\d{8}T\d{12}Z(?:-[^/]*)?\.db$`;

/** Runs in the one-off container, the folder mounted read-only at /copies: `list`, or `pack NAME` (a tar on stdout). */
const FOLDER_SCRIPT = `import json, os, re, sys, tarfile
d = "/copies"
stamp, parts = re.compile(r"${STAMP}"), re.compile(r"${PARTS}")
if sys.argv[1] == "list":
    out = []
    for n in sorted(os.listdir(d)):
        base = n[:-4] if n.endswith(".age") else n
        if stamp.search(base) and os.path.isfile(os.path.join(d, n)):
            out.append({"name": base, "encrypted": n != base, "bytes": os.path.getsize(os.path.join(d, n))})
    print(json.dumps(out))
else:
    name = sys.argv[2]
    tar = tarfile.open(fileobj=sys.stdout.buffer, mode="w|")
    for n in sorted(os.listdir(d)):
        if n.startswith(name) and parts.match(n[len(name):]):
            tar.add(os.path.join(d, n), arcname=n)
    tar.close()
`;

/** `docker run` arguments of the one-off container that reads a copy folder: `list`, or `pack NAME`. */
export function folderRun(
    target: CopyTarget & { kind: "folder" },
    image: string,
    stack: string,
    mode: string[],
): string[] {
    return [
        "run",
        ...oneOffRunFlags(stack, "restore-fetch"),
        "--mount",
        `type=bind,source=${target.path},target=/copies,readonly`,
        "--entrypoint",
        "python3",
        image,
        "-c",
        FOLDER_SCRIPT,
        ...mode,
    ];
}

/** One sftp argument: the characters sftp's parser or glob treats specially, backslashed (as lm_sftp.py). */
export function sftpQuote(p: string): string {
    if (/[\r\n]/.test(p))
        throw new CopiesError(`${JSON.stringify(p)}: a name with a line break cannot be fetched with sftp`);
    return p.replace(/([\s\\"'*?[\]#])/g, "\\$1");
}

/** The sftp client's arguments for a batch on stdin: no prompts, the key and known_hosts if given. */
export function sftpArgs(target: CopyTarget & { kind: "sftp" }, opts: SftpOptions): string[] {
    const args = ["-b", "-", "-P", String(target.port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=15"];
    if (opts.sftpKey) args.push("-i", opts.sftpKey, "-o", "IdentitiesOnly=yes");
    if (opts.knownHosts) args.push("-o", `UserKnownHostsFile=${opts.knownHosts}`);
    args.push("-o", "StrictHostKeyChecking=accept-new", `${target.user}@${target.host}`);
    return args;
}

/** What a failed sftp batch says: the exit code, the fix for a refused key or a changed host key, its last output. */
export function sftpFailure(target: CopyTarget & { kind: "sftp" }, status: number | null, output: string): string {
    const why = output.trim();
    const hint = /Permission denied/.test(why)
        ? `: ${target.host} refused the key. Fix: --sftp-key <the private key whose public half is in the server's authorized_keys, e.g. ~/.ssh/lernmanager_backup>`
        : /Host key verification failed|IDENTIFICATION HAS CHANGED/.test(why)
          ? `: the server's host key is not the one known for ${target.host}. Check the server; then fix the known_hosts entry`
          : "";
    return `sftp ${target.text} failed (exit ${status})${hint}: ${why.slice(-400)}`;
}

/** `ls -la` lines of an sftp batch → [name, is folder, bytes]. */
export function parseSftpListing(output: string): [string, boolean, number][] {
    const found: [string, boolean, number][] = [];
    for (const line of output.split("\n")) {
        const parts = line.trim().split(/\s+/);
        if (parts.length < 9 || !/^[-dlpscb][-rwxsStT]{9}/.test(parts[0])) continue;
        const name = parts.slice(8).join(" ").split("/").pop()!;
        if (name !== "." && name !== "..") found.push([name, parts[0].startsWith("d"), Number(parts[4])]);
    }
    return found;
}

/** The complete copies of a listing (a .db, or .db.age, is written last: its presence means complete). */
export function completeCopies(entries: [string, boolean, number][]): CopyEntry[] {
    const stamp = new RegExp(STAMP);
    return entries
        .filter(([n, dir]) => !dir && stamp.test(n.replace(/\.age$/, "")))
        .map(([n, , bytes]) => ({ name: n.replace(/\.age$/, ""), encrypted: n.endsWith(".age"), bytes }))
        .sort((a, b) => a.name.localeCompare(b.name));
}

/** `latest`: the newest copy that is not a safety backup (before-restore, before-import). */
export function resolveBackup(copies: CopyEntry[], wanted: string, where: string): CopyEntry {
    const found =
        wanted === "latest"
            ? copies.filter((c) => !/-before-(restore|import)\.db$/.test(c.name)).pop()
            : copies.find((c) => c.name === wanted);
    if (!found)
        throw new CopiesError(
            wanted === "latest"
                ? `${where} holds no copies of backups. Fix: check --from (the folder or server in backupCopyTo)`
                : `${where} has no complete copy ${wanted}. Fix: pick one that --list shows`,
        );
    return found;
}

/** The sftp batch that fetches one backup's files (of a listing of `remote`) into dir, the .db last. */
export function sftpFetchBatch(
    entries: [string, boolean, number][],
    name: string,
    remote: string,
    dir: string,
): string[] {
    const parts = new RegExp(PARTS);
    const mine = entries.filter(([n]) => n.startsWith(name) && parts.test(n.slice(name.length)));
    const isDb = ([n]: [string, boolean, number]) => /\.db(\.age)?$/.test(n);
    // The .db last (as it was written last).
    const ordered = [...mine.filter((e) => !isDb(e)), ...mine.filter(isDb)];
    return [
        `lcd ${sftpQuote(dir)}`,
        `cd ${sftpQuote(remote)}`,
        ...ordered.map(([n, isDir]) => `get -p${isDir ? "r" : ""} ${sftpQuote(n)}`),
    ];
}

function walk(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? walk(p) : e.isFile() ? [p] : [];
    });
}

/** Decrypts every .age file under dir with the identity (age on this computer), replacing it. Returns the count. */
export function decryptAll(dir: string, identity: string | undefined, age = "age"): number {
    const sealed = walk(dir).filter((p) => p.endsWith(".age"));
    if (!sealed.length) return 0;
    if (!identity)
        throw new CopiesError(
            "the copy is encrypted (backupEncryptTo). Fix: add --identity <your age private key file, e.g. lernmanager-backup.key>",
        );
    if (!fs.existsSync(identity))
        throw new CopiesError(`--identity ${identity} does not exist. Fix: the path of your lernmanager-backup.key`);
    for (const file of sealed) {
        const out = file.slice(0, -".age".length);
        const r = spawnSync(age, ["-d", "-i", identity, "-o", out, file], { encoding: "utf8" });
        if (r.error)
            throw new CopiesError(
                `age is not installed on this computer (${r.error.message}). Fix: \`sudo apt-get install age\` (or https://age-encryption.org); the key stays here`,
            );
        if (r.status !== 0)
            throw new CopiesError(
                `age could not decrypt ${path.relative(dir, file)}: ${r.stderr.trim()}. Fix: --identity must be the private key of a backupEncryptTo recipient`,
            );
        fs.chmodSync(out, 0o600);
        fs.unlinkSync(file);
    }
    return sealed.length;
}

// Stryker disable all: from here on the copies are read through docker or sftp:
// test/e2e/restoreCopies.test.ts restores through them (a copy folder and an SFTP server); the
// mutation score (scripts/mutate.sh) is of the parts above, which need neither.

function sftp(target: CopyTarget & { kind: "sftp" }, opts: SftpOptions, commands: string[]): string {
    const r = spawnSync("sftp", sftpArgs(target, opts), {
        input: commands.join("\n") + "\n",
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error)
        throw new CopiesError(`sftp could not run (${r.error.message}): install OpenSSH's client (openssh-client)`);
    if (r.status !== 0) throw new CopiesError(sftpFailure(target, r.status, r.stderr || r.stdout));
    return r.stdout;
}

/** The copies the target holds, oldest first. image: a Python image on the Docker host (folder targets). */
export function listCopies(target: CopyTarget, image: string, stack: string, opts: SftpOptions = {}): CopyEntry[] {
    if (target.kind === "sftp")
        return completeCopies(parseSftpListing(sftp(target, opts, [`ls -la ${sftpQuote(target.path)}`])));
    const r = spawnSync("docker", folderRun(target, image, stack, ["list"]), { encoding: "utf8" });
    if (r.status !== 0)
        throw new CopiesError(
            `reading ${target.path} on the Docker host failed: ${(r.stderr || "").trim().slice(-400)}. Fix: mount the backup disk there (it must be readable by uid 10001)`,
        );
    return (JSON.parse(r.stdout) as CopyEntry[]).sort((a, b) => a.name.localeCompare(b.name));
}

/** Fetches one backup's files into dir (a private folder of this computer). */
export function fetchCopy(
    target: CopyTarget,
    copy: CopyEntry,
    dir: string,
    image: string,
    stack: string,
    opts: SftpOptions = {},
): void {
    if (target.kind === "folder") {
        const r = spawnSync(
            "bash",
            [
                "-c",
                'set -o pipefail; dest=$1; shift; docker "$@" | tar -x -C "$dest"',
                "bash",
                dir,
                ...folderRun(target, image, stack, ["pack", copy.name]),
            ],
            { encoding: "utf8" },
        );
        if (r.status !== 0)
            throw new CopiesError(
                `fetching ${copy.name} from ${target.path} failed: ${(r.stderr || "").trim().slice(-400)}`,
            );
        return;
    }
    const entries = parseSftpListing(sftp(target, opts, [`ls -la ${sftpQuote(target.path)}`]));
    sftp(target, opts, sftpFetchBatch(entries, copy.name, target.path, dir));
}
