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
 * The files of a folder that go into an image (relative paths, sorted): everything but
 * ALWAYS_SKIPPED, *.pyc, symlinks and the `skip` paths.
 * @param skip relative paths (files or folders) to leave out, e.g. the data and uploads folders.
 */
export function listFolder(root: string, skip: readonly string[] = []): string[] {
    const skipped = new Set(skip.map((s) => s.replace(/\/+$/, "")));
    const out: string[] = [];
    const walk = (rel: string) => {
        const abs = path.join(root, rel);
        const entries = fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
        for (const entry of entries) {
            const childRel = rel ? `${rel}/${entry.name}` : entry.name;
            if (ALWAYS_SKIPPED.has(entry.name) || skipped.has(childRel) || entry.name.endsWith(".pyc")) continue;
            if (entry.isDirectory()) walk(childRel);
            else if (entry.isFile()) out.push(childRel);
        }
    };
    walk("");
    return out;
}

/** Whether a file is executable (by anyone): the only part of its mode an image tag depends on. */
export function isExecutable(file: string): boolean {
    return (fs.statSync(file).mode & 0o111) !== 0;
}

/**
 * A short, stable hash of a folder's files (relative paths, executable or not, contents; sorted as
 * listFolder lists them), used as an image tag so `pulumi preview` shows a new tag exactly when
 * the image's inputs changed.
 * @param skip relative paths (files or folders) to leave out, e.g. the data and uploads folders.
 */
export function hashFolder(root: string, skip: readonly string[] = []): string {
    const hash = createHash("sha256");
    for (const rel of listFolder(root, skip)) {
        const file = path.join(root, rel);
        hash.update(`${rel}\0${isExecutable(file) ? "x" : "-"}\0`);
        hash.update(fs.readFileSync(file));
        hash.update("\0");
    }
    return hash.digest("hex").slice(0, 12);
}

/** A short hash of strings (build arguments, other hashes). */
export function hashStrings(...parts: string[]): string {
    const hash = createHash("sha256");
    for (const part of parts) hash.update(`${part.length}:${part}`);
    return hash.digest("hex").slice(0, 12);
}
