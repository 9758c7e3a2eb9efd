// The backups' keys: how often, how many are kept, the off-host copies and their keys.
// Full text: docs/backups.md.
import { parseList } from "./lists";
import type { KeyReader } from "./reader";
import { integer, type KeySpec } from "./spec";
import { isHostFolder, isSystemFolder } from "./storage";

export const BACKUP_KEYS = {
    backupKeep: integer(
        [1, 1000],
        10,
        "The newest backups always kept in the backups volume (one is taken before every new app image, and every backupEvery); backupRetention keeps older ones.",
    ),
    backupEvery: {
        kind: "string",
        default: "6h",
        description:
            'Interval of the scheduled backups (database through SQLite\'s backup API, uploads: new or changed files only), each followed by the off-host copy and a restore drill: a number and s, m, h or d (e.g. 30m, 6h, 1d); "off": only before every new app image.',
    },
    backupRetention: {
        kind: "string",
        default: "hourly=24,daily=7,weekly=8",
        description:
            "Older backups kept besides the newest backupKeep: the newest backup of each of the last N hours, days (UTC) and ISO weeks that have one, e.g. hourly=24,daily=7,weekly=8 (0 keeps none of that kind).",
    },
    backupCopyTo: {
        kind: "array",
        default: [],
        description:
            "Off-host copies written after each backup: absolute folders on the Docker host (a NAS mount, a USB disk; owned by uid 10001; never created) and sftp://user@host[:port]/path targets (key: backupSftpKey). See docs/backups.md for the pull mode.",
    },
    backupSftpKey: {
        kind: "string",
        default: "",
        secret: true,
        description:
            'Private SSH key (OpenSSH format) for the sftp:// targets of backupCopyTo; set with `pulumi config set --secret backupSftpKey -- "$(cat key)"`.',
    },
    backupSftpHostKey: {
        kind: "string",
        default: "",
        description:
            'Public host key(s) of the SFTP server(s) of backupCopyTo, "type base64" one per line (the server\'s /etc/ssh/ssh_host_ed25519_key.pub, or `ssh-keyscan -t ed25519 <host>` checked against it): pinned from the start, a server presenting another key is refused. "" = trust on first use (the key seen at the first copy is pinned in the backups volume).',
    },
    backupEncryptTo: {
        kind: "string",
        default: "",
        description:
            'age recipients the off-host copies are encrypted to before they leave the backup container (public keys: "age1..." from `age-keygen`, or "ssh-ed25519 AAAA..."), one per line or comma-separated; the private key stays off the server (docs/backups.md). Required when backupCopyTo has a target; "none" copies unencrypted on purpose. The backups volume stays plain (the restore drill).',
    },
} as const satisfies Record<string, KeySpec>;

export type BackupKey = keyof typeof BACKUP_KEYS;

/** The scheduled backups, their retention and the off-host copies. */
export interface BackupConfig {
    /** Seconds between scheduled backups, or undefined when `backupEvery` is "off". */
    readonly everySeconds?: number;
    /** Besides the newest `backupKeep`: the newest backup of each of the last N hours / days / weeks. */
    readonly retention: { readonly hourly: number; readonly daily: number; readonly weekly: number };
    /** Absolute folders on the Docker host the backups are copied to. */
    readonly copyDirs: readonly string[];
    /** sftp://user@host[:port]/path targets. */
    readonly sftpTargets: readonly string[];
    /** The SSH key of the sftp targets (secret), or undefined. */
    readonly sftpKey?: string;
    /** The sftp targets' host keys pinned up front ("type base64" each); [] = pinned on first use. */
    readonly sftpHostKeys: readonly string[];
    /** age recipients the copies are encrypted to; [] = plain copies ("none", or no targets). */
    readonly encryptTo: readonly string[];
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const HOST_KEY_TYPE =
    /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;
const SFTP_RE =
    /^sftp:\/\/([a-z_][a-z0-9_.-]*)@([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?(\/[A-Za-z0-9_.@+\/-]*)$/;

const AGE_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
const SSH_RECIPIENT = /^(ssh-ed25519|ssh-rsa) AAAA[A-Za-z0-9+/]+={0,3}$/;

/**
 * backupEncryptTo's recipients (age1... or "ssh-ed25519 AAAA..." with any comment dropped), "none"
 * as [], or the first entry that is not a recipient.
 */
export function parseRecipients(text: string): string[] | { bad: string } {
    if (text.trim() === "none") return [];
    const out: string[] = [];
    for (const raw of text.split(/[\n,]/).map((l) => l.trim())) {
        if (raw === "" || raw.startsWith("#")) continue;
        const parts = raw.split(/\s+/);
        const entry = parts[0].startsWith("ssh-") ? `${parts[0]} ${parts[1] ?? ""}` : parts[0];
        if (!AGE_RECIPIENT.test(entry) && !SSH_RECIPIENT.test(entry)) return { bad: raw.slice(0, 40) };
        out.push(entry);
    }
    return out;
}

/** "6h" → 21600; undefined for "off"; NaN when malformed. */
export function parseInterval(value: string): number | undefined {
    const v = value.trim();
    if (v === "off") return undefined;
    const m = /^(\d+)([smhd])$/.exec(v);
    return m ? Number(m[1]) * UNIT_SECONDS[m[2]] : NaN;
}

/**
 * backupSftpHostKey's lines as "type base64" (a key file's comment, or ssh-keyscan's leading host,
 * dropped), or the number of the first line that is not a public key.
 */
export function parseHostKeys(text: string): string[] | { badLine: number } {
    const keys: string[] = [];
    const lines = text.split("\n").map((l) => l.trim());
    for (const [i, line] of lines.entries()) {
        if (line === "" || line.startsWith("#")) continue;
        const parts = line.split(/\s+/);
        const at = HOST_KEY_TYPE.test(parts[0]) ? 0 : HOST_KEY_TYPE.test(parts[1] ?? "") ? 1 : -1;
        const blob = parts[at + 1] ?? "";
        if (at < 0 || !/^AAAA[A-Za-z0-9+/]+={0,3}$/.test(blob)) return { badLine: i + 1 };
        keys.push(`${parts[at]} ${blob}`);
    }
    return keys;
}

/** Validates backupEvery, backupRetention, backupCopyTo and backupSftpKey; one problem per mistake. */
export function readBackups(r: KeyReader<BackupKey>): { backupKeep: number; backups: BackupConfig } {
    const { get, ns, problems } = r;
    const show = (key: BackupKey) => `${ns}${key} = ${JSON.stringify(get(key))}`;
    const fix = (key: BackupKey) => `Fix: \`pulumi config set ${key} ${r.defaultOf(key)}\``;

    let everySeconds = parseInterval(get("backupEvery"));
    if (
        everySeconds !== undefined &&
        (!Number.isFinite(everySeconds) || everySeconds < 30 || everySeconds > 7 * 86400)
    ) {
        problems.push(
            `${show("backupEvery")}: must be an interval from 30s to 7d (a number and s, m, h or d, e.g. 30m, 6h, 1d) or "off". ${fix("backupEvery")}`,
        );
        everySeconds = 6 * 3600;
    }

    const retention = { hourly: 24, daily: 7, weekly: 8 };
    const seen = new Set<string>();
    for (const part of get("backupRetention")
        .split(",")
        .map((p) => p.trim())
        .filter(Boolean)) {
        const m = /^(hourly|daily|weekly)=(\d{1,4})$/.exec(part);
        if (!m || seen.has(m[1])) {
            problems.push(
                `${show("backupRetention")}: "${part}" is not one of hourly=N, daily=N, weekly=N (each once, N from 0 to 9999). ${fix("backupRetention")}`,
            );
            continue;
        }
        seen.add(m[1]);
        retention[m[1] as keyof typeof retention] = Number(m[2]);
    }

    const copyDirs: string[] = [];
    const sftpTargets: string[] = [];
    const key = `${ns}backupCopyTo`;
    const targets =
        parseList(
            get("backupCopyTo") || "[]",
            key,
            "a list of absolute host folders and sftp:// URLs",
            "Fix: `pulumi config set --path 'backupCopyTo[0]' /mnt/nas/lernmanager`.",
            problems,
        ) ?? [];
    targets.forEach((t, i) => {
        const where = `${key}[${i}] = ${JSON.stringify(t)}`;
        if (typeof t === "string" && t.startsWith("sftp:")) {
            if (SFTP_RE.test(t)) sftpTargets.push(t);
            else
                problems.push(
                    `${where}: must look like sftp://user@host[:port]/path. Fix: e.g. sftp://backup@nas.schule.example/lernmanager`,
                );
        } else if (typeof t === "string" && isHostFolder(t)) {
            if (isSystemFolder(t))
                problems.push(
                    `${where}: a system folder cannot hold backups. Fix: a folder on a NAS mount or a USB disk, e.g. /mnt/backup/lernmanager`,
                );
            else copyDirs.push(t.replace(/\/$/, ""));
        } else {
            problems.push(
                `${where}: must be an absolute folder on the Docker host (no "..", e.g. /mnt/nas/lernmanager; a relative path is refused) or sftp://user@host/path. Fix: \`pulumi config set --path '${key.split(":")[1]}[${i}]' /mnt/nas/lernmanager\``,
            );
        }
    });
    if (new Set(copyDirs).size !== copyDirs.length)
        problems.push(`${key}: a folder is listed twice. Fix: list each once.`);
    const sftpKey = get("backupSftpKey").trim() || undefined;
    if (sftpTargets.length > 0 && !sftpKey)
        problems.push(
            `${key} has an sftp:// target but ${ns}backupSftpKey is not set. Fix: \`pulumi config set --secret backupSftpKey -- "$(cat ~/.ssh/lernmanager_backup)"\``,
        );
    if (sftpKey && !/^-----BEGIN (OPENSSH|RSA|EC) PRIVATE KEY-----[\s\S]+-----END \1 PRIVATE KEY-----$/.test(sftpKey))
        problems.push(
            `${ns}backupSftpKey: is not a private key in OpenSSH/PEM format (-----BEGIN ... PRIVATE KEY-----). Fix: set the whole key file.`,
        );
    const hostKeys = parseHostKeys(get("backupSftpHostKey"));
    if (!Array.isArray(hostKeys))
        problems.push(
            `${ns}backupSftpHostKey: line ${hostKeys.badLine} is not a public host key ("ssh-ed25519 AAAA..."). Fix: \`pulumi config set backupSftpHostKey -- "$(cat ssh_host_ed25519_key.pub)"\` with the server's key file`,
        );
    const sftpHostKeys = Array.isArray(hostKeys) ? hostKeys : [];
    const encryptText = get("backupEncryptTo");
    const recipients = parseRecipients(encryptText);
    const keygen =
        "`age-keygen -o lernmanager-backup.key` on the admin's computer (the key file never goes onto the server), then `pulumi config set backupEncryptTo age1...` with the public key it prints";
    if (!Array.isArray(recipients))
        problems.push(
            `${ns}backupEncryptTo: "${recipients.bad}" is not an age recipient (age1... or ssh-ed25519 AAAA...). Fix: ${keygen}`,
        );
    else if (copyDirs.length + sftpTargets.length > 0 && encryptText.trim() === "")
        problems.push(
            `${key} has a copy target but ${ns}backupEncryptTo is not set: the copies would leave the server unencrypted. Fix: ${keygen}; or \`pulumi config set backupEncryptTo none\` to copy unencrypted on purpose`,
        );
    const encryptTo = Array.isArray(recipients) && copyDirs.length + sftpTargets.length > 0 ? recipients : [];
    return {
        backupKeep: r.num("backupKeep"),
        backups: { everySeconds, retention, copyDirs, sftpTargets, sftpKey, sftpHostKeys, encryptTo },
    };
}
