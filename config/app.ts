// The app's keys: its source, its contract with the stack (WSGI target, init hook, the folders that
// become volumes or tmpfs, the database file) and how it runs (workers, image, limits).
import * as fs from "fs";
import * as path from "path";
import { persistentVolumeName } from "../core/names";
import { parseList } from "./lists";
import type { KeyReader, PythonTarget } from "./reader";
import { integer, type KeySpec } from "./spec";

export const APP_KEYS = {
    appSource: {
        kind: "string",
        default: "demo-app",
        description: "Folder of the Flask app's source (relative to the project folder or absolute).",
    },
    wsgiApp: { kind: "string", format: "target", default: "app:app", description: "WSGI target `module:attribute`." },
    initHook: {
        kind: "string",
        format: "optionalTarget",
        default: "app:init_app",
        description: 'Function run once before gunicorn forks (`module:function`); "" disables it.',
    },
    staticPath: {
        kind: "string",
        format: "relPath",
        default: "static",
        description: "Static files folder inside the app.",
    },
    dataPath: {
        kind: "string",
        format: "relPath",
        default: "data",
        description: "SQLite data folder inside the app (a volume).",
    },
    uploadsPath: {
        kind: "string",
        format: "relPath",
        default: "instance/uploads",
        description: "Uploads folder inside the app (a volume).",
    },
    databaseFile: {
        kind: "string",
        format: "fileName",
        default: "mbi_tracker.db",
        description:
            "SQLite file inside the data folder that /healthz proves readable (the real Lernmanager: mbi_tracker.db). A deploy whose app does not create it fails at once, naming the .db files it found.",
    },
    scratchPaths: {
        kind: "array",
        default: [],
        description:
            "Folders inside the app on a tmpfs (writable scratch space on the read-only root, emptied at every start), e.g. instance/tmp; the first is also the app's TMPDIR.",
    },
    persistentPaths: {
        kind: "array",
        default: [],
        description:
            "Further folders inside the app kept on volumes across deploys besides dataPath and uploadsPath, e.g. instance/reports; retained on the host like the data when protectData is on (never `protect`: dropping an entry must not wedge the stack). One may lie inside a scratch folder (a volume on the tmpfs), e.g. instance/tmp/lernmanager_import, where the real app's question import keeps its ZIP between preview and confirm.",
    },
    initInWorkers: {
        kind: "boolean",
        default: true,
        description:
            "Also run the init hook in every gunicorn worker right after the fork, for apps that start threads or load settings per process in it (it always runs once before the fork, alone).",
    },
    workers: integer([1, 64], 4, "gunicorn worker processes."),
    threads: integer([1, 64], 2, "Threads per gunicorn worker."),
    appQueue: {
        kind: "string",
        default: "shared",
        description:
            'Where a request waits for a free gunicorn thread. "shared": in one queue for all workers (nginx opens a connection per request; a worker accepts one only while a thread of it is free), so it goes to the first free thread; on 2 cores it halved the p99 at 32 connections for 2-8 % fewer requests per second (bench/results/tuning.md). "per-worker": nginx keeps a keep-alive pool to the app (nginx >= 1.27.3; an older one opens a connection per request) and each pooled connection stays with the worker that accepted it, so a request may wait behind a busy worker while another idles.',
    },
    appAccessLog: {
        kind: "boolean",
        default: false,
        description:
            "Also log every request in gunicorn (with the app's own time, rt_us). nginx logs every request anyway, with the time it waited for the app (urt); each log line costs the Docker host CPU, so this is off unless you are looking into the app.",
    },
    pythonImage: {
        kind: "string",
        format: "image",
        default: "python:3.12-slim-bookworm",
        description: "Base image of the app (Debian-based, with python3 and /bin/sh); pin a tag.",
    },
    platform: {
        kind: "string",
        format: "platform",
        default: "linux/amd64",
        description:
            "Platform the images are built for (the school server's, e.g. linux/arm64 for an ARM server); without it the provider would use the architecture of the machine running pulumi.",
    },
    appMemoryMb: integer([128, 65536], 1024, "Memory limit of the app container in MiB."),
    pidsLimit: integer(
        [64, 100000],
        512,
        "Process/thread limit of each container (Docker's pids limit; the TLS agent has its own, 64).",
    ),
    hostSwapLimit: {
        kind: "boolean",
        default: true,
        description:
            'The Docker host can limit swap (`docker info` shows no "No swap limit support" warning). Set false on hosts without it (many Debian/Ubuntu kernels without swapaccount): Docker then stores the swap limit as -1, and declaring -1 there keeps every `up` from updating every container.',
    },
} as const satisfies Record<string, KeySpec>;

export type AppKey = keyof typeof APP_KEYS;

export interface AppConfig {
    /** Absolute path of the app source folder. */
    readonly appSource: string;
    /** WSGI target `module:attribute`. */
    readonly wsgiApp: PythonTarget;
    /** Hook run once before gunicorn forks, or undefined when disabled (`initHook: ""`). */
    readonly initHook?: PythonTarget;
    readonly staticPath: string;
    readonly dataPath: string;
    readonly uploadsPath: string;
    readonly databaseFile: string;
    /** Folders inside the app on a tmpfs (the first is TMPDIR). */
    readonly scratchPaths: readonly string[];
    /** Further folders inside the app kept on volumes (besides dataPath and uploadsPath). */
    readonly persistentPaths: readonly string[];
    /** Run the init hook in every gunicorn worker after the fork too. */
    readonly initInWorkers: boolean;
    readonly workers: number;
    readonly threads: number;
    /** Where requests wait for a free thread (APP_QUEUES). */
    readonly appQueue: AppQueue;
    readonly appAccessLog: boolean;
    readonly pythonImage: string;
    /** Platform the images are built for (`os/arch`), e.g. linux/amd64. */
    readonly platform: string;
    readonly appMemoryMb: number;
    readonly pidsLimit: number;
    /** The Docker host supports swap limits (`memorySwap` = memory); false: `memorySwap` -1, as such a host reads it back. */
    readonly hostSwapLimit: boolean;
}

/** The app's keys, checked together: the folder and its modules exist, the mounted folders are apart. */
export function readApp(r: KeyReader<AppKey>, projectDir: string): AppConfig {
    const { ns, problems } = r;
    const appSourceRaw = r.get("appSource");
    const appSource = path.resolve(projectDir, appSourceRaw);
    const wsgiApp = r.target("wsgiApp");
    const initHook = r.target("initHook");
    checkAppSource(
        appSource,
        appSourceRaw,
        [
            ["wsgiApp", wsgiApp],
            ["initHook", initHook],
        ],
        ns,
        problems,
    );
    const staticPath = r.text("staticPath");
    const dataPath = r.text("dataPath");
    const uploadsPath = r.text("uploadsPath");
    const scratchPaths = parsePathList(r, "scratchPaths");
    const persistentPaths = parsePathList(r, "persistentPaths");
    checkPersistentVolumeNames(persistentPaths, ns, problems);
    checkMountedFolders(
        [
            ["staticPath", staticPath],
            ["dataPath", dataPath],
            ["uploadsPath", uploadsPath],
            ...scratchPaths.map((p, i): [string, string] => [`scratchPaths[${i}]`, p]),
            ...persistentPaths.map((p, i): [string, string] => [`persistentPaths[${i}]`, p]),
        ],
        ns,
        problems,
    );
    return {
        appSource,
        wsgiApp: wsgiApp ?? { module: "app", attribute: "app", spec: "app:app" },
        initHook,
        staticPath,
        dataPath,
        uploadsPath,
        databaseFile: r.text("databaseFile"),
        scratchPaths,
        persistentPaths,
        initInWorkers: r.flag("initInWorkers"),
        workers: r.num("workers"),
        threads: r.num("threads"),
        appQueue: appQueue(r),
        appAccessLog: r.flag("appAccessLog"),
        pythonImage: r.text("pythonImage"),
        platform: r.text("platform"),
        appMemoryMb: r.num("appMemoryMb"),
        pidsLimit: r.num("pidsLimit"),
        hostSwapLimit: r.flag("hostSwapLimit"),
    };
}

const REL_PATH_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;

/** Same or nested folders: `a` and `a/b` cannot both be their own mount. */
export function overlaps(a: string, b: string): boolean {
    return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/**
 * A list of relative folders inside the app (JSON list, as Pulumi hands a YAML list to a program).
 * Each problem names the key, the entry and the fix.
 */
export function parsePathList(
    r: KeyReader<"scratchPaths" | "persistentPaths">,
    key: "scratchPaths" | "persistentPaths",
): string[] {
    const { ns, problems } = r;
    const value = r.given(key);
    if (value === undefined || value === "") return [...(r.defaultOf(key) as readonly string[])];
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

/**
 * A persistent folder inside a scratch folder: a volume on a tmpfs. Docker mounts the outer one first
 * (it sorts a container's mounts by depth), so the app's TMPDIR stays scratch while one folder in it
 * outlives the container (the question import's ZIPs, `instance/tmp/lernmanager_import`).
 */
function keptInScratch(ka: string, a: string, kb: string, b: string): boolean {
    const scratch = (k: string) => k.startsWith("scratchPaths[");
    const kept = (k: string) => k.startsWith("persistentPaths[");
    return (scratch(ka) && kept(kb) && b.startsWith(`${a}/`)) || (scratch(kb) && kept(ka) && a.startsWith(`${b}/`));
}

/** Folders the stack mounts in the app (each its own volume or tmpfs), by the key that names them. */
export function checkMountedFolders(folders: [string, string][], ns: string, problems: string[]): void {
    for (let i = 0; i < folders.length; i++) {
        for (let j = i + 1; j < folders.length; j++) {
            const [ka, a] = folders[i];
            const [kb, b] = folders[j];
            if (overlaps(a, b) && !keptInScratch(ka, a, kb, b)) {
                problems.push(
                    `${ns}${ka} = ${JSON.stringify(a)} and ${ns}${kb} = ${JSON.stringify(b)} overlap: each becomes its own ` +
                        `volume or tmpfs, so they must be separate folders. Fix: change or remove one of them ` +
                        `(\`pulumi config rm ${kb.replace(/\[\d+\]$/, "")}\`).`,
                );
            }
        }
    }
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

/** Values of `appQueue`: one queue all workers take from, or a keep-alive pool per worker. */
export const APP_QUEUES = ["shared", "per-worker"] as const;
export type AppQueue = (typeof APP_QUEUES)[number];

function appQueue(r: KeyReader<AppKey>): AppQueue {
    const value = r.text("appQueue");
    const known = APP_QUEUES.find((q) => q === value);
    if (known) return known;
    r.problems.push(`${r.show("appQueue")}: must be one of ${APP_QUEUES.join(", ")}. ${r.fix("appQueue", "shared")}`);
    return "shared";
}
