/**
 * The Docker provider's own digest of an image's build context (engineRules.ts DEFAULT_DOCKERFILE:
 * pulumi-docker provider/provider.go `hashContext`), which its Check puts into `build.contextDigest`
 * and its Diff compares: the stand-in engine diffs images by this, not by the program's image tags.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { DEFAULT_DOCKERFILE } from "./engineRules";

/** buildkit `dockerignore.ReadAll`: comments and blanks dropped, `!` exceptions, cleaned relative paths. */
export function readDockerignore(text: string): { pattern: string; exclusion: boolean }[] {
    const out: { pattern: string; exclusion: boolean }[] = [];
    for (const raw of text.split(/\r?\n/)) {
        let line = raw.trim();
        if (!line || line.startsWith("#")) continue;
        const exclusion = line.startsWith("!");
        if (exclusion) line = line.slice(1).trim();
        if (!line) continue;
        let pattern = path.posix.normalize(line);
        if (pattern.length > 1 && pattern.startsWith("/")) pattern = pattern.slice(1);
        pattern = pattern.replace(/\/+$/, "") || ".";
        out.push({ pattern, exclusion });
    }
    return out;
}

/** moby patternmatcher's pattern → regexp: `**` any path, `*` and `?` within one segment. */
function toRegExp(pattern: string): RegExp {
    let re = "";
    for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i];
        if (c === "*" && pattern[i + 1] === "*") {
            i++;
            if (pattern[i + 1] === "/") {
                i++;
                re += "(.*/)?";
            } else re += ".*";
        } else if (c === "*") re += "[^/]*";
        else if (c === "?") re += "[^/]";
        else if (c === "[") {
            const end = pattern.indexOf("]", i);
            re += end > i ? pattern.slice(i, end + 1).replace(/^\[!/, "[^") : "\\[";
            if (end > i) i = end;
        } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
    }
    return new RegExp(`^${re}$`);
}

/** Whether a context-relative path is excluded: it or a parent folder matches, the last match wins. */
export function ignoredBy(patterns: { pattern: string; exclusion: boolean }[]): (rel: string) => boolean {
    const compiled = patterns.map((p) => ({ re: toRegExp(p.pattern), exclusion: p.exclusion }));
    return (rel) => {
        const parts = rel.split("/");
        let matched = false;
        for (const p of compiled) {
            let hit = false;
            for (let n = parts.length; n > 0 && !hit; n--) hit = p.re.test(parts.slice(0, n).join("/"));
            if (hit) matched = !p.exclusion;
        }
        return matched;
    };
}

/** Go's `fs.FileMode.String()` for the types a context holds (regular file, symlink) and mode 0. */
export function goFileMode(mode: number, symlink = false): string {
    const rwx = "rwxrwxrwx";
    let perm = "";
    for (let i = 0; i < 9; i++) perm += mode & (1 << (8 - i)) ? rwx[i] : "-";
    return `${symlink ? "L" : "-"}${perm}`;
}

/** `hashContext(context, dockerfile)`: the hex sha256 the provider puts into build.contextDigest. */
export function contextDigest(context: string, dockerfile: string): string {
    const base = path.basename(dockerfile);
    const ignoreFile = path.join(context, base === DEFAULT_DOCKERFILE ? ".dockerignore" : `${base}.dockerignore`);
    const ignored = ignoredBy(fs.existsSync(ignoreFile) ? readDockerignore(fs.readFileSync(ignoreFile, "utf8")) : []);
    const acc = createHash("sha256");
    const add = (rel: string, mode: string, content: Buffer | string) => {
        acc.update(rel);
        acc.update(mode);
        acc.update(createHash("sha256").update(content).digest());
        acc.update(Buffer.from([0]));
    };
    // The dockerfile first, under the name "Dockerfile" with mode 0, wherever it is.
    add(DEFAULT_DOCKERFILE, goFileMode(0), fs.readFileSync(dockerfile));
    const walk = (rel: string) => {
        for (const name of fs.readdirSync(path.join(context, rel)).sort()) {
            const childRel = rel ? `${rel}/${name}` : name;
            if (ignored(childRel)) continue;
            const abs = path.join(context, childRel);
            const st = fs.lstatSync(abs);
            if (st.isDirectory()) walk(childRel);
            else if (st.isSymbolicLink()) add(childRel, goFileMode(st.mode, true), fs.realpathSync(abs));
            else if (st.isFile()) add(childRel, goFileMode(st.mode), fs.readFileSync(abs));
        }
    };
    walk("");
    return acc.digest("hex");
}
