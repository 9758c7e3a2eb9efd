import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { hashFolder, isExecutable, listFolder } from "./contentHash";
import { PROJECT_DIR } from "./paths";

/** Where the staged build contexts live (gitignored). */
export const STAGED_CONTEXTS_DIR = path.join(PROJECT_DIR, ".build", "contexts");

/** Staged contexts not used for this long are removed by the next program run. */
const STALE_MS = 7 * 24 * 3600 * 1000;

/**
 * An image's build context as the Docker provider should see it: a copy of exactly the files the
 * image's tag hashes (core/contentHash.ts `listFolder`), with modes 0644, or 0755 when executable.
 *
 * The provider computes its own digest of the context (pulumi-docker `hashContext`, stored as
 * `build.contextDigest` and diffed on every preview) over every file its ignore file does not
 * exclude, with the full permission bits. Built from the folder itself, a `__pycache__` written by
 * the Python tests, a `data/` folder of a running dev app or another umask on checkout would show
 * the image as changed while its tag says it is not, and the next `up` would build and replace it.
 * Staged, the digest is a function of the tag: the copy is named by it and never changes.
 *
 * Content-addressed, so concurrent program runs (parallel tests, two stacks) may stage the same
 * folder at once: each writes a private copy and renames it into place; the loser drops its copy.
 */
export function stagedContext(source: string, skip: readonly string[] = []): { dir: string; hash: string } {
    const hash = hashFolder(source, skip);
    const dir = path.join(STAGED_CONTEXTS_DIR, `${path.basename(source)}-${hash}`);
    if (fs.existsSync(dir)) {
        const now = new Date();
        fs.utimesSync(dir, now, now);
        return { dir, hash };
    }
    fs.mkdirSync(STAGED_CONTEXTS_DIR, { recursive: true });
    removeStale();
    const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    for (const rel of listFolder(source, skip)) {
        const from = path.join(source, rel);
        const to = path.join(tmp, rel);
        fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o755 });
        fs.copyFileSync(from, to);
        fs.chmodSync(to, isExecutable(from) ? 0o755 : 0o644);
    }
    fs.mkdirSync(tmp, { recursive: true }); // an empty folder stages too
    chmodFolders(tmp); // mkdir's mode goes through the umask as well
    try {
        fs.renameSync(tmp, dir);
    } catch (e) {
        fs.rmSync(tmp, { recursive: true, force: true });
        if (!fs.existsSync(dir)) throw e;
    }
    return { dir, hash };
}

function chmodFolders(root: string) {
    fs.chmodSync(root, 0o755);
    for (const entry of fs.readdirSync(root, { withFileTypes: true }))
        if (entry.isDirectory()) chmodFolders(path.join(root, entry.name));
}

function removeStale() {
    const now = Date.now();
    for (const name of fs.readdirSync(STAGED_CONTEXTS_DIR)) {
        const dir = path.join(STAGED_CONTEXTS_DIR, name);
        try {
            if (now - fs.statSync(dir).mtimeMs > STALE_MS) fs.rmSync(dir, { recursive: true, force: true });
        } catch {
            // Another run removed or renamed it meanwhile.
        }
    }
}
