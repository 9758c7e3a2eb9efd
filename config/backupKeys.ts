// The config keys of the backups (spread into CONFIG_KEYS in config/keys.ts; validated in
// config/backups.ts). Full text: docs/backups.md.

import { integer } from "./spec";

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
    dataHostPath: {
        kind: "string",
        default: "",
        description:
            'Absolute host folder (e.g. a LUKS mount) holding the data, uploads, backups and persistent folders instead of Docker\'s volume folder; set it up once with cli/data-host-path-init.sh (writes the marker); the deploy and every app start refuse to run while it is not mounted. "" = Docker volumes.',
    },
} as const;
