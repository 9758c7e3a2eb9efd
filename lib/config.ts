import * as path from "path";

import {
    appSettings,
    checkMountedFolders,
    checkPersistentVolumeNames,
    checkAppSource,
    parsePathList,
} from "./appContract";
import { parseEnv } from "./configList";
import { closestKey } from "./configHints";
import { CONFIG_KEYS, type ConfigKey, type PythonTarget, type StackConfig } from "./configKeys";
import { migrationSettings } from "./migrationConfig";
import { backupSettings } from "./backupConfig";
import { parseJobs } from "./jobs";
import { tlsSettings, trustedProxies } from "./tlsConfig";

export { CONFIG_KEYS, type ConfigKey, type PythonTarget, type StackConfig } from "./configKeys";

/** Raised when config is invalid; lists every problem, each naming the key, the value and the fix. */
export class ConfigError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(`Invalid lernmanager configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

export interface LoadContext {
    /** Folder relative paths are resolved against (the Pulumi project folder). */
    readonly projectDir: string;
    /** Pulumi project name, the config namespace. */
    readonly project: string;
    /** The time certificates are checked against (tests). @default now */
    readonly now?: Date;
}

const IDENT = "[A-Za-z_][A-Za-z0-9_]*";
const TARGET_RE = new RegExp(`^(${IDENT}(?:\\.${IDENT})*):(${IDENT})$`);
const REL_PATH_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;
const URL_PREFIX_RE = /^\/([A-Za-z0-9_-]+\/)+$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// Docker reference: [registry[:port]/]name[/name...][:tag][@sha256:...]
const IMAGE_RE =
    /^(?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@sha256:[a-f0-9]{64})?$/;
export { RESERVED_ENV } from "./configList";

/**
 * Reads and validates all config of the project namespace.
 * @param raw config values as Pulumi hands them to a program (`pulumi.runtime.allConfig()`):
 *   keys `<project>:<key>`, values strings (objects JSON-encoded). Keys of other namespaces
 *   (`docker:host`, ...) are left to their providers.
 */
export function loadConfig(raw: Readonly<Record<string, string>>, ctx: LoadContext): StackConfig {
    const problems: string[] = [];
    const ns = `${ctx.project}:`;
    const given = new Map<string, string>();
    for (const [fullKey, value] of Object.entries(raw)) {
        if (!fullKey.startsWith(ns)) continue;
        const key = fullKey.slice(ns.length);
        if (!(key in CONFIG_KEYS)) {
            const hint = closestKey(key);
            problems.push(
                `${fullKey} is not a known key (value ${JSON.stringify(value)}). ` +
                    `Fix: ${hint ? `did you mean ${ns}${hint}? ` : ""}` +
                    `remove it with \`pulumi config rm ${key}\`; the keys are listed in Pulumi.yaml.`,
            );
            continue;
        }
        given.set(key, value);
    }

    const fix = (key: ConfigKey, example: string | number | boolean) => `Fix: \`pulumi config set ${key} ${example}\``;
    const show = (key: ConfigKey) => `${ns}${key} = ${JSON.stringify(given.get(key))}`;
    const str = (key: ConfigKey): string => {
        const v = given.get(key);
        return v === undefined ? String(CONFIG_KEYS[key].default) : v;
    };
    const int = (key: ConfigKey): number => {
        const spec = CONFIG_KEYS[key] as { default: unknown; range?: readonly [number, number] };
        const def = spec.default as number;
        const [min, max] = spec.range ?? [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
        const v = given.get(key);
        if (v === undefined) return def;
        const n = /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
        if (!Number.isInteger(n) || n < min || n > max) {
            problems.push(`${show(key)}: must be a whole number from ${min} to ${max}. ${fix(key, def)}`);
            return def;
        }
        return n;
    };
    const bool = (key: ConfigKey): boolean => {
        const v = given.get(key);
        const def = CONFIG_KEYS[key].default as boolean;
        if (v === undefined) return def;
        if (v === "true" || v === "false") return v === "true";
        problems.push(`${show(key)}: must be true or false. ${fix(key, def)}`);
        return def;
    };
    const target = (key: ConfigKey, allowEmpty: boolean): PythonTarget | undefined => {
        const v = str(key).trim();
        if (allowEmpty && v === "") return undefined;
        const m = TARGET_RE.exec(v);
        if (!m) {
            problems.push(
                `${show(key)}: must look like module:attribute (for example app:app or mypkg.wsgi:application). ` +
                    fix(key, String(CONFIG_KEYS[key].default)),
            );
            return undefined;
        }
        return { module: m[1], attribute: m[2], spec: v };
    };
    const relPath = (key: ConfigKey): string => {
        const v = str(key).replace(/\/+$/, "");
        if (!REL_PATH_RE.test(v) || v.split("/").some((part) => part === ".." || part === ".")) {
            problems.push(
                `${show(key)}: must be a relative folder inside the app (letters, digits, . _ - and /; no "..", ` +
                    `no leading /). ${fix(key, String(CONFIG_KEYS[key].default))}`,
            );
            return String(CONFIG_KEYS[key].default);
        }
        return v;
    };
    const urlPrefix = (key: ConfigKey): string => {
        const v = str(key);
        if (!URL_PREFIX_RE.test(v)) {
            problems.push(
                `${show(key)}: must be a URL path that starts and ends with / (for example ` +
                    `${CONFIG_KEYS[key].default}). ${fix(key, String(CONFIG_KEYS[key].default))}`,
            );
            return String(CONFIG_KEYS[key].default);
        }
        return v;
    };
    const image = (key: ConfigKey): string => {
        const v = str(key);
        const m = IMAGE_RE.exec(v);
        if (!m || (!m[1] && !v.includes("@sha256:"))) {
            problems.push(
                `${show(key)}: must be an image reference with a pinned tag or digest (name:tag). ` +
                    fix(key, String(CONFIG_KEYS[key].default)),
            );
        } else if (m[1] === "latest") {
            problems.push(
                `${show(key)}: "latest" floats; pin a version tag. ${fix(key, String(CONFIG_KEYS[key].default))}`,
            );
        }
        return v;
    };

    const appSourceRaw = str("appSource");
    const appSource = path.resolve(ctx.projectDir, appSourceRaw);
    const wsgiApp = target("wsgiApp", false);
    const initHook = target("initHook", true);
    const staticPath = relPath("staticPath");
    const dataPath = relPath("dataPath");
    const uploadsPath = relPath("uploadsPath");

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

    const scratchPaths = parsePathList("scratchPaths", given.get("scratchPaths"), ns, problems);
    const persistentPaths = parsePathList("persistentPaths", given.get("persistentPaths"), ns, problems);
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

    const databaseFile = str("databaseFile");
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(databaseFile)) {
        problems.push(
            `${show("databaseFile")}: must be a file name inside ${dataPath}/ (no folders). ${fix("databaseFile", "mbi_tracker.db")}`,
        );
    }

    const staticUrl = urlPrefix("staticUrl");
    const downloadsPrefix = urlPrefix("downloadsPrefix");
    if (staticUrl === downloadsPrefix) {
        problems.push(
            `${show("downloadsPrefix")} equals staticUrl: downloads and static files need different prefixes. ` +
                fix("downloadsPrefix", "/protected-files/"),
        );
    }
    const loginPath = str("loginPath");
    if (!/^\/[A-Za-z0-9_./-]*$/.test(loginPath) || loginPath.includes("..")) {
        problems.push(`${show("loginPath")}: must be a URL path starting with /. ${fix("loginPath", "/login")}`);
    }

    const bindAddress = str("bindAddress");
    if (!IPV4_RE.test(bindAddress)) {
        problems.push(
            `${show("bindAddress")}: must be an IPv4 address of this host, 127.0.0.1 for local only or 0.0.0.0 for all ` +
                `interfaces. ${fix("bindAddress", "127.0.0.1")}`,
        );
    }

    const dockerHost = raw["docker:host"] || undefined;
    if (dockerHost && !/^(unix|tcp|ssh|npipe):\/\/\S+$/.test(dockerHost)) {
        problems.push(
            `docker:host = ${JSON.stringify(dockerHost)}: must be a Docker endpoint like ssh://admin@school-server or ` +
                `unix:///var/run/docker.sock. Fix: \`pulumi config set docker:host ssh://user@host\``,
        );
    }
    const createdAt = str("createdAt");
    if (createdAt && Number.isNaN(Date.parse(createdAt))) {
        problems.push(
            `${show("createdAt")}: must be an ISO 8601 time (set by \`npm run school\`). Fix: \`pulumi config rm createdAt\``,
        );
    }

    const platform = str("platform");
    if (!/^linux\/(amd64|arm64|arm\/v[67]|386|ppc64le|s390x|riscv64)$/.test(platform)) {
        problems.push(
            `${show("platform")}: must be the school server's Docker platform, e.g. linux/amd64 or linux/arm64. ${fix("platform", "linux/amd64")}`,
        );
    }

    const appEnv = parseEnv(given.get("appEnv"), `${ns}appEnv`, problems);
    const settings = appSettings(given);
    for (const name of Object.keys(appEnv)) {
        const key = (Object.keys(CONFIG_KEYS) as ConfigKey[]).find(
            (k) => (CONFIG_KEYS[k] as { env?: string }).env === name,
        );
        if (key)
            problems.push(
                `${ns}appEnv sets ${name}, which has its own key ${ns}${key}. Fix: \`pulumi config set ${key}${
                    (CONFIG_KEYS[key] as { secret?: boolean }).secret ? " --secret" : ""
                } <value>\` and remove it from appEnv.`,
            );
    }
    const jobs = parseJobs(given.get("jobs"), `${ns}jobs`, problems);
    const isSet = (k: ConfigKey) => given.has(k);
    const steps = migrationSettings({ get: str, isSet, ns, appSource, dataPath, problems });
    const port = int("port");
    const tlsCtx = { get: str, isSet, int, bool, ns, problems, testSchool: !!createdAt, httpPort: port, now: ctx.now };

    const config: StackConfig = {
        appSource,
        wsgiApp: wsgiApp ?? { module: "app", attribute: "app", spec: "app:app" },
        initHook,
        staticPath,
        dataPath,
        uploadsPath,
        databaseFile,
        scratchPaths,
        persistentPaths,
        initInWorkers: bool("initInWorkers"),
        appSettings: settings.settings,
        appSecrets: settings.secrets,
        staticUrl,
        downloadsPrefix,
        workers: int("workers"),
        threads: int("threads"),
        appAccessLog: bool("appAccessLog"),
        uploadLimitMb: int("uploadLimitMb"),
        bindAddress,
        port,
        pythonImage: image("pythonImage"),
        nginxImage: image("nginxImage"),
        platform,
        appEnv,
        protectData: bool("protectData"),
        loginPath,
        loginRatePerMinute: int("loginRatePerMinute"),
        appMemoryMb: int("appMemoryMb"),
        nginxMemoryMb: int("nginxMemoryMb"),
        pidsLimit: int("pidsLimit"),
        backupKeep: int("backupKeep"),
        backups: backupSettings({ get: str, ns, problems }),
        migrateCommand: str("migrateCommand").trim() || undefined,
        ...steps,
        dockerHost,
        createdAt: createdAt || undefined,
        jobs,
        tls: tlsSettings(tlsCtx),
        trustedProxies: trustedProxies(tlsCtx),
    };
    if (problems.length > 0) throw new ConfigError(problems);
    return config;
}
