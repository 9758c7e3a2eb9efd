// What `npm run import` prints: what it copied, and the old .env's values as `pulumi config set` commands.
import { CONFIG_KEYS } from "../config/keys";
import type { ImportReport } from "../render/import";
import { RESERVED_ENV } from "../config/lists";

/** Environment names the stack sets itself or decides on its own, and what happens to the old value. */
const HANDLED: Record<string, string> = {
    SECRET_KEY:
        "not carried over: the stack generates its own (pulumi state, encrypted); everyone logs in once more after the move",
    FLASK_ENV: "not needed: the stack always sets FLASK_ENV=production",
    MAX_UPLOAD_MB:
        "not carried over: the app reads no such variable (its upload limit, 64 MiB, is fixed in its code); nginx's limit on the upload paths is uploadLimitMb",
    FORCE_HTTPS:
        "not carried over: it belongs to whoever serves HTTPS (the old host nginx); over plain HTTP its secure cookies would break logins",
};

const quote = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** A value the old install's setup left as its template had it (`[Schulname]`, `CHANGE_ME`, ...). */
export function looksLikePlaceholder(value: string): boolean {
    return /^\s*\[[^\]]*\]\s*$|^<[^>]*>$|change[_ -]?me|^x{3,}$|^todo$|^example/i.test(value);
}

/**
 * One `pulumi config set` line (or a note) per value of the old .env; secret values hidden unless
 * asked. `appEnv` is taken whole from one file (a school's list replaces its base stack's), so new
 * entries go after the entries the stack already has (e.g. prod's TZ=Europe/Berlin), which are
 * written again first.
 */
export function envCommands(
    env: Record<string, string>,
    stack: string,
    showSecrets = false,
    appEnv: Readonly<Record<string, string>> = {},
): string[] {
    const byEnv = new Map(
        Object.entries(CONFIG_KEYS)
            .filter(([, spec]) => "env" in spec && spec.env)
            .map(([key, spec]) => [(spec as { env: string }).env, { key, secret: "secret" in spec && !!spec.secret }]),
    );
    const lines: string[] = [];
    const extras = Object.entries(env).filter(
        ([name]) => !HANDLED[name] && !byEnv.has(name) && !RESERVED_ENV.includes(name) && !name.startsWith("LM_"),
    );
    const kept = Object.entries(appEnv).filter(([name]) => !extras.some(([n]) => n === name));
    let extra = 0;
    if (extras.length)
        for (const [name, value] of kept)
            lines.push(
                `pulumi config set -s ${stack} --path 'appEnv[${extra++}]' ${quote(`${name}=${value}`)}   # kept: the stack has it already`,
            );
    for (const [name, value] of Object.entries(env)) {
        const known = byEnv.get(name);
        if (!HANDLED[name] && looksLikePlaceholder(value)) {
            lines.push(
                `# WARNING: ${name} = ${quote(value)} looks like a placeholder the old install never filled in: set the real value` +
                    (known
                        ? ` with \`pulumi config set -s ${stack}${known.secret ? " --secret" : ""} ${known.key} <value>\``
                        : ""),
            );
        } else if (HANDLED[name]) {
            lines.push(`# ${name}: ${HANDLED[name]}`);
        } else if (known && known.secret) {
            const shown = showSecrets ? quote(value) : `'<${name} from the old .env>'`;
            lines.push(`pulumi config set -s ${stack} --secret ${known.key} ${shown}   # secret`);
        } else if (known) {
            lines.push(`pulumi config set -s ${stack} ${known.key} ${quote(value)}`);
        } else if (RESERVED_ENV.includes(name) || name.startsWith("LM_")) {
            lines.push(`# ${name}: set by the stack itself; not carried over`);
        } else {
            lines.push(
                `pulumi config set -s ${stack} --path 'appEnv[${extra++}]' ${quote(`${name}=${value}`)}` +
                    `   # no key of its own: an extra app variable (check it still applies; appEnv is not secret)`,
            );
        }
    }
    return lines;
}

const size = (bytes: number) =>
    bytes < 1024
        ? `${bytes} B`
        : bytes < 1048576
          ? `${(bytes / 1024).toFixed(1)} KiB`
          : `${(bytes / 1048576).toFixed(1)} MiB`;

export function formatImport(
    r: ImportReport,
    stack: string,
    showSecrets = false,
    appEnv: Readonly<Record<string, string>> = {},
): string[] {
    const out = [`Imported ${r.source.root} into stack ${stack} in ${r.seconds.toFixed(1)} s:`];
    for (const t of r.targets) {
        const f = r.target.folders[t.folder] ?? { files: 0, bytes: 0 };
        const fresh = r.createdVolumes.includes(t.volume)
            ? "new"
            : r.emptied.includes(t.folder)
              ? "what it held replaced"
              : "existing, empty";
        out.push(`  ${t.folder}/ -> volume ${t.volume} (${fresh}): ${f.files} files, ${size(f.bytes)}`);
    }
    for (const [file, db] of Object.entries(r.target.databases)) {
        const rows = Object.entries(db.rows)
            .sort((a, b) => b[1] - a[1])
            .map(([t, n]) => `${t} ${n}`)
            .join(", ");
        out.push(`  ${file}: SQLite online backup, integrity_check ${db.integrity}; rows: ${rows}`);
    }
    if (!r.target.databaseFound)
        out.push(`  WARNING: the stack's databaseFile is not among them; check \`pulumi config get databaseFile\``);
    const done = r.target.migrationsDone;
    out.push(
        done
            ? `  migrations done: ${done.length} (${done[done.length - 1] ?? "none"} the last); the first deploy runs only newer ones`
            : "  no migrations_done.txt: the first deploy runs every migration (as the old install's update script would)",
    );
    if (r.safetyBackup && r.backupsCopied)
        out.push(
            `  first: safety backup ${r.safetyBackup} of the plain volumes' database and uploads (in both backups volumes); \`npm run restore -- ${stack} ${r.safetyBackup}\` brings it back`,
        );
    else if (r.safetyBackup)
        out.push(
            `  before replacing the database: safety backup ${r.safetyBackup} in the backups volume; undo with \`npm run restore -- ${stack} ${r.safetyBackup}\` (after \`pulumi up\`)`,
        );
    if (r.backupsCopied)
        out.push(
            `  backups: ${r.backupsCopied.files} files copied from ${r.backupsCopied.from} into ${r.backupsCopied.to}`,
        );
    for (const s of r.source.skipped) out.push(`  left out: ${s}`);
    for (const m of r.source.missing) out.push(`  not in the old install: ${m}/ (the volume stays empty)`);
    if (r.target.refused.length) out.push(`  refused (outside the stack's folders): ${r.target.refused.join(", ")}`);
    out.push(
        r.backupsCopied
            ? `All files now belong to the app's user (10001). The plain volumes are left as they were (with the safety backup): ` +
                  `remove them with \`docker volume rm\` once the stack serves from dataHostPath and a backup of it exists.`
            : "All files now belong to the app's user (10001). Nothing was changed on the old install.",
    );
    if (r.backupsCopied) return out; // the plain volumes hold no .env
    if (r.source.env_error) {
        out.push("", `Settings: ${r.source.env_error}.`);
    } else if (r.source.env) {
        out.push("", `Settings in ${r.source.root}/.env (not copied; run these before \`pulumi up\`):`);
        out.push(...envCommands(r.source.env, stack, showSecrets, appEnv).map((l) => `  ${l}`));
    } else {
        out.push(
            "",
            `No .env in ${r.source.root}: set the school's settings with \`pulumi config set\` (docs/config.md).`,
        );
    }
    return out;
}
