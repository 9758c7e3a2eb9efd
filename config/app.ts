import * as fs from "fs";
import * as path from "path";
// The parts of the config that describe the app's contract with the stack beyond its WSGI target:
// extra folders (scratch on tmpfs, persistent on volumes) and its settings from config.
import { CONFIG_KEYS, type ConfigKey } from "./keys";
import { parseList } from "./lists";
import { persistentVolumeName } from "../core/names";

const REL_PATH_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;

/** Same or nested folders: `a` and `a/b` cannot both be their own mount. */
export function overlaps(a: string, b: string): boolean {
    return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/**
 * A list of relative folders inside the app (JSON list, as Pulumi hands a YAML list to a program).
 * Each problem names the key, the entry and the fix.
 */
export function parsePathList(key: ConfigKey, value: string | undefined, ns: string, problems: string[]): string[] {
    if (value === undefined || value === "") return [...(CONFIG_KEYS[key].default as readonly string[])];
    const fix = `Fix: e.g. \`pulumi config set --path '${key}[0]' instance/tmp\``;
    const parsed = parseList(value, `${ns}${key}`, "a list of folders inside the app", fix, problems);
    if (!parsed) return [];
    const out: string[] = [];
    parsed.forEach((entry: unknown, i: number) => {
        const v = typeof entry === "string" ? entry.replace(/\/+$/, "") : "";
        if (!REL_PATH_RE.test(v) || v.split("/").some((part) => part === ".." || part === ".")) {
            problems.push(
                `${ns}${key}[${i}] = ${JSON.stringify(entry)}: must be a relative folder inside the app (letters, ` +
                    `digits, . _ - and /; no "..", no leading /). ${fix}`,
            );
        } else if (out.includes(v)) {
            problems.push(`${ns}${key}[${i}] = ${JSON.stringify(entry)}: listed twice. Fix: keep one entry.`);
        } else out.push(v);
    });
    return out;
}

/** Folders the stack mounts in the app (each its own volume or tmpfs), by the key that names them. */
export function checkMountedFolders(folders: [string, string][], ns: string, problems: string[]): void {
    for (let i = 0; i < folders.length; i++) {
        for (let j = i + 1; j < folders.length; j++) {
            const [ka, a] = folders[i];
            const [kb, b] = folders[j];
            if (overlaps(a, b)) {
                problems.push(
                    `${ns}${ka} = ${JSON.stringify(a)} and ${ns}${kb} = ${JSON.stringify(b)} overlap: each becomes its own ` +
                        `volume or tmpfs, so they must be separate folders. Fix: change or remove one of them ` +
                        `(\`pulumi config rm ${kb.replace(/\[\d+\]$/, "")}\`).`,
                );
            }
        }
    }
}

/** The app's settings from config (keys with `env`): environment name → value, split by secrecy. */
export function appSettings(given: ReadonlyMap<string, string>): {
    settings: Record<string, string>;
    secrets: Record<string, string>;
} {
    const settings: Record<string, string> = {};
    const secrets: Record<string, string> = {};
    for (const [key, spec] of Object.entries(CONFIG_KEYS) as [ConfigKey, (typeof CONFIG_KEYS)[ConfigKey]][]) {
        if (!("env" in spec)) continue;
        const value = given.get(key) ?? "";
        if (value === "") continue;
        ("secret" in spec && spec.secret ? secrets : settings)[spec.env] = value;
    }
    return { settings, secrets };
}

/** Two persistent folders whose volume names would be the same (e.g. `a/b` and `a-b`). */
export function checkPersistentVolumeNames(paths: readonly string[], ns: string, problems: string[]): void {
    const names = paths.map((p) => persistentVolumeName("", p));
    names.forEach((v, i) => {
        const first = names.indexOf(v);
        if (first !== i)
            problems.push(
                `${ns}persistentPaths[${i}] = ${JSON.stringify(paths[i])} would share a volume name with ` +
                    `${JSON.stringify(paths[first])}. Fix: rename one of the folders.`,
            );
    });
}

/** Whether `module` (dotted) is a .py file or a package in the app folder `root`. */
function moduleExists(root: string, module: string): boolean {
    const rel = module.replace(/\./g, "/");
    return fs.existsSync(path.join(root, `${rel}.py`)) || fs.existsSync(path.join(root, rel, "__init__.py"));
}

/** The app folder exists, has requirements.txt and the modules of the WSGI target and init hook. */
export function checkAppSource(
    appSource: string,
    appSourceRaw: string,
    targets: readonly (readonly [string, { module: string; spec: string } | undefined])[],
    ns: string,
    problems: string[],
): void {
    if (!fs.existsSync(appSource) || !fs.statSync(appSource).isDirectory()) {
        problems.push(
            `${ns}appSource = ${JSON.stringify(appSourceRaw)}: no such folder (${appSource}). ` +
                `Fix: check out the app there, or \`pulumi config set appSource <path to the app>\`.`,
        );
    } else {
        if (!fs.existsSync(path.join(appSource, "requirements.txt"))) {
            problems.push(
                `${ns}appSource = ${JSON.stringify(appSourceRaw)}: ${appSource} has no requirements.txt. ` +
                    `Fix: add requirements.txt (it may be empty) or point appSource at the app's root folder.`,
            );
        }
        for (const [key, t] of targets) {
            if (t && !moduleExists(appSource, t.module)) {
                const rel = t.module.replace(/\./g, "/");
                problems.push(
                    `${ns}${key} = ${JSON.stringify(t.spec)}: module ${t.module} is not in ${appSource} ` +
                        `(looked for ${rel}.py and ${rel}/__init__.py). Fix: \`pulumi config set ${key} <module:attribute>\` ` +
                        `or point appSource at the folder that contains it.`,
                );
            }
        }
    }
}
