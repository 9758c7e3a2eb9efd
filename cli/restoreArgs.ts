// The arguments of `npm run restore` (cli/restore.sh, cli/restoreFrom.ts): a pure parser, so every bad
// argument gets one line naming the fix before anything touches Docker or a copy target.

export const RESTORE_USAGE = `usage:
  npm run restore -- <stack> [<backup>|latest] [--list]
      from the stack's own backups volume (cli/restore.sh)
  npm run restore -- <stack> --from <target> --list [--sftp-key <file>] [--known-hosts <file>]
  npm run restore -- <stack> <backup>|latest --from <target> [--identity <file>] [--sftp-key <file>]
                     [--known-hosts <file>] [--overwrite]
      from an off-host copy (backupCopyTo): a new server after the old one died (docs/backups.md,
      "The server died")

  <target>      a copy folder on the Docker host (/mnt/nas/lernmanager) or sftp://user@host[:port]/path
  <backup>      a name as --list prints it (lernmanager-20261130T193615625944Z-scheduled.db, with or
                without .age); latest: the newest copy that is not a safety backup
  --identity    your age private key (lernmanager-backup.key) for encrypted copies (backupEncryptTo);
                it stays on this computer: the copies are decrypted here, never on the server
  --sftp-key    the SSH key for an sftp:// target (default: your ssh config and keys)
  --known-hosts the known_hosts file for the sftp server's key (default: ~/.ssh/known_hosts; a server
                not in it yet is accepted and remembered)
  --overwrite   before the first \`pulumi up\`: replace volumes that already hold data (a safety backup
                of them is taken first)

A deployed stack: the database, its migrations done-file, the uploads and the persistent folders come
back with today's safety: a safety backup first (...-before-restore.db), the writers stopped, pending
migrations run, the app's health waited for, the previous state back on failure. A stack not deployed
yet (a new, empty host): they go into its volumes, as \`npm run import\` does; then \`npx pulumi up\`.`;

export class RestoreUsageError extends Error {}

/** What a `--from` target names: a folder on the Docker host or an SFTP server's folder. */
export type CopyTarget =
    | { readonly kind: "folder"; readonly path: string; readonly text: string }
    | {
          readonly kind: "sftp";
          readonly user: string;
          readonly host: string;
          readonly port: number;
          readonly path: string;
          readonly text: string;
      };

export type RestoreArgs =
    | { readonly kind: "help"; readonly stack?: string }
    /** No --from: the stack's own backups volume, cli/restore.sh as it always was. */
    | { readonly kind: "local" }
    | {
          readonly kind: "copies";
          readonly stack: string;
          readonly from: CopyTarget;
          /** undefined with --list. A name without `.age`, or "latest". */
          readonly backup?: string;
          readonly list: boolean;
          readonly identity?: string;
          readonly sftpKey?: string;
          readonly knownHosts?: string;
          readonly overwrite: boolean;
      };

const STACK_RE = /^[A-Za-z0-9_.-]+$/;
/** `<stem>-<UTC time>[-<label>].db` (containers/runtime/backups/lm_backup.py STAMP_RE), optionally `.age`. */
export const BACKUP_NAME_RE = /^[A-Za-z0-9_.-]+-\d{8}T\d{12}Z(?:-[^/\s]*)?\.db$/;
const SFTP_RE = /^sftp:\/\/([^@/]+)@([^:/[]+|\[[^\]]+\])(?::(\d+))?(\/.*)$/;
const WITH_VALUE = ["--from", "--identity", "--sftp-key", "--known-hosts"] as const;
const FLAGS = ["--list", "--overwrite", "--help", "-h"] as const;

export function parseTarget(text: string): CopyTarget {
    const m = SFTP_RE.exec(text);
    if (m) {
        const port = m[3] ? Number(m[3]) : 22;
        if (port < 1 || port > 65535)
            throw new RestoreUsageError(
                `--from ${text}: port ${m[3]} is not 1 to 65535. Fix: sftp://user@host:22/path`,
            );
        return { kind: "sftp", user: m[1], host: m[2].replace(/^\[|\]$/g, ""), port, path: m[4], text };
    }
    if (text.startsWith("sftp://"))
        throw new RestoreUsageError(
            `--from ${text} is not sftp://user@host[:port]/path. Fix: write it as in backupCopyTo, e.g. sftp://lmbackup@nas.schule.example/home/lmbackup/lernmanager`,
        );
    if (!text.startsWith("/") || text.includes("\0") || /(^|\/)\.\.(\/|$)/.test(text))
        throw new RestoreUsageError(
            `--from ${text}: a copy folder is an absolute path on the Docker host (as in backupCopyTo), or sftp://user@host[:port]/path. Fix: e.g. --from /mnt/nas/lernmanager`,
        );
    return { kind: "folder", path: text.replace(/(.)\/+$/, "$1"), text };
}

/** A backup name as `--list` prints it, with or without `.age`; its name without (or "latest"). */
export function backupName(text: string): string {
    if (text === "latest") return text;
    const name = text.endsWith(".age") ? text.slice(0, -".age".length) : text;
    if (!BACKUP_NAME_RE.test(name))
        throw new RestoreUsageError(
            `"${text}" is not a backup name. Fix: use a name as \`--list\` prints it, e.g. lernmanager-20261130T193615625944Z-scheduled.db (with or without .age), or latest`,
        );
    return name;
}

export function parseRestoreArgs(argv: readonly string[]): RestoreArgs {
    const positional: string[] = [];
    const values: Partial<Record<(typeof WITH_VALUE)[number], string>> = {};
    const flags = new Set<string>();
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const [flag, inline] =
            a.startsWith("--") && a.includes("=")
                ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
                : [a, undefined];
        if ((WITH_VALUE as readonly string[]).includes(flag)) {
            const value = inline ?? argv[++i];
            if (value === undefined || value === "" || (inline === undefined && value.startsWith("--")))
                throw new RestoreUsageError(
                    `${flag} needs a value. Fix: ${flag} <${flag === "--from" ? "target" : "file"}> (see --help)`,
                );
            values[flag as (typeof WITH_VALUE)[number]] = value;
        } else if ((FLAGS as readonly string[]).includes(a)) flags.add(a);
        else if (a.startsWith("-"))
            throw new RestoreUsageError(
                `${a} is not an option of npm run restore. Fix: one of ${[...WITH_VALUE, "--list", "--overwrite"].join(", ")} (see --help)`,
            );
        else positional.push(a);
    }
    if (flags.has("--help") || flags.has("-h"))
        return { kind: "help", stack: positional.find((p) => STACK_RE.test(p)) };
    if (values["--from"] === undefined) {
        const copyOnly = [
            ...WITH_VALUE.filter((f) => values[f] !== undefined),
            ...(flags.has("--overwrite") ? ["--overwrite"] : []),
        ];
        if (copyOnly.length)
            throw new RestoreUsageError(
                `${copyOnly.join(", ")} only go with --from <target> (a restore from an off-host copy). Fix: add --from, or leave ${copyOnly[0]} out`,
            );
        return { kind: "local" };
    }
    const [stack, backup, ...rest] = positional;
    if (!stack)
        throw new RestoreUsageError("name the stack first. Fix: npm run restore -- <stack> <backup> --from <target>");
    if (!STACK_RE.test(stack))
        throw new RestoreUsageError(
            `"${stack}" is not a stack name (letters, digits, _ . -). Fix: npm run restore -- <stack> ...`,
        );
    if (rest.length)
        throw new RestoreUsageError(
            `one backup at a time: ${rest.join(" ")} is one too many. Fix: npm run restore -- ${stack} <backup> --from <target>`,
        );
    const list = flags.has("--list");
    if (list && backup)
        throw new RestoreUsageError(
            `--list or a backup to restore, not both. Fix: npm run restore -- ${stack} --from <target> --list`,
        );
    if (!list && !backup)
        throw new RestoreUsageError(
            `which backup? Fix: npm run restore -- ${stack} --from ${values["--from"]} --list shows the copies; then name one (or latest)`,
        );
    return {
        kind: "copies",
        stack,
        from: parseTarget(values["--from"]),
        backup: backup === undefined ? undefined : backupName(backup),
        list,
        identity: values["--identity"],
        sftpKey: values["--sftp-key"],
        knownHosts: values["--known-hosts"],
        overwrite: flags.has("--overwrite"),
    };
}
