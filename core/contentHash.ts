import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** Folders and files that never enter an image and never change its tag. */
const ALWAYS_SKIPPED = new Set([
    ".git",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    ".pytest_cache",
    ".mypy_cache",
]);

/**
 * A short, stable hash of a folder's files (relative paths, modes and contents, sorted), used as
 * an image tag so `pulumi preview` shows a new tag exactly when the image's inputs changed.
 * @param skip relative paths (files or folders) to leave out, e.g. the data and uploads folders.
 */
export function hashFolder(root: string, skip: readonly string[] = []): string {
    const hash = createHash("sha256");
    const skipped = new Set(skip.map((s) => s.replace(/\/+$/, "")));
    const walk = (rel: string) => {
        const abs = path.join(root, rel);
        const entries = fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
        for (const entry of entries) {
            const childRel = rel ? `${rel}/${entry.name}` : entry.name;
            if (ALWAYS_SKIPPED.has(entry.name) || skipped.has(childRel) || entry.name.endsWith(".pyc")) continue;
            if (entry.isDirectory()) {
                walk(childRel);
            } else if (entry.isFile()) {
                const stat = fs.statSync(path.join(root, childRel));
                hash.update(`${childRel}\0${stat.mode & 0o111 ? "x" : "-"}\0`);
                hash.update(fs.readFileSync(path.join(root, childRel)));
                hash.update("\0");
            }
        }
    };
    walk("");
    return hash.digest("hex").slice(0, 12);
}

/** A short hash of strings (build arguments, other hashes). */
export function hashStrings(...parts: string[]): string {
    const hash = createHash("sha256");
    for (const part of parts) hash.update(`${part.length}:${part}`);
    return hash.digest("hex").slice(0, 12);
}
