// Where the school's data lives: Docker volumes or a host folder (an encrypted disk), and whether
// it is protected from removal.
import type { KeyReader } from "./reader";
import type { KeySpec } from "./spec";

export const STORAGE_KEYS = {
    protectData: {
        kind: "boolean",
        default: false,
        description:
            "Protect the data, uploads and backups volumes (protect + retainOnDelete); the tls and persistentPaths volumes are retained only (they come and go with config keys).",
    },
    dataHostPath: {
        kind: "string",
        default: "",
        description:
            'Absolute host folder (e.g. a LUKS mount) holding the data, uploads, backups and persistent folders instead of Docker\'s volume folder; set it up once with cli/data-host-path-init.sh (writes the marker); the deploy and every app start refuse to run while it is not mounted. Its volumes are named apart from Docker\'s own (-bound-<hash of the folder>): switching a running stack copies its data over with `npm run import -- <stack> --from-plain-volumes` (docs/backups.md). "" = Docker volumes.',
    },
} as const satisfies Record<string, KeySpec>;

export type StorageKey = keyof typeof STORAGE_KEYS;

export interface StorageConfig {
    readonly protectData: boolean;
    /** Host folder the data, uploads, backups and persistent folders live in (bind volumes), or undefined. */
    readonly dataHostPath?: string;
}

const HOST_DIR_RE = /^(\/[A-Za-z0-9_.@+-]+)+\/?$/;
const SYSTEM_RE = /^\/$|^\/(proc|sys|dev|etc|var\/lib\/docker)(\/|$)/;

/** An absolute folder on the Docker host, without "." or ".." parts. */
export function isHostFolder(p: string): boolean {
    return HOST_DIR_RE.test(p) && !p.split("/").some((part) => part === "." || part === "..");
}

/** A folder of the system's own (or Docker's) that must never hold the school's data. */
export function isSystemFolder(p: string): boolean {
    return SYSTEM_RE.test(p);
}

export function readStorage(r: KeyReader<StorageKey>): StorageConfig {
    const root = r.get("dataHostPath").trim().replace(/\/+$/, "");
    const dataHostPath = root === "" ? undefined : root;
    if (dataHostPath && (!isHostFolder(dataHostPath) || isSystemFolder(dataHostPath)))
        r.problems.push(
            `${r.show("dataHostPath")}: must be an absolute folder on the Docker host, not a system folder (a relative path is refused), e.g. /srv/lernmanager on the unlocked disk. Fix: \`pulumi config set dataHostPath /srv/lernmanager\` (or "" for Docker volumes)`,
        );
    return { protectData: r.flag("protectData"), dataHostPath };
}
