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
import { type Format, FORMATS, TARGET_RE } from "./keyFormats";
import type { KeySpec } from "./keySpec";
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
    // Every key by its kind, a string key also by its format (lib/keyFormats.ts): one loop.
    const formatted = (key: ConfigKey, format: Format): unknown => {
        const def = String(CONFIG_KEYS[key].default);
        const value =
            format === "relPath"
                ? str(key).replace(/\/+$/, "")
                : format === "optionalTarget" || format === "target"
                  ? str(key).trim()
                  : str(key);
        const rule = FORMATS[format];
        const wrong = rule.check(value);
        if (wrong) {
            const example = rule.example === "rm" ? undefined : (rule.example ?? def);
            problems.push(
                `${show(key)}: ${wrong.replace("{default}", def)} ` +
                    (example === undefined ? `Fix: \`pulumi config rm ${key}\`` : fix(key, example)),
            );
            // A wrong folder or prefix is replaced by the default, so later checks see a sane value.
            if (format === "relPath" || format === "urlPrefix") return def;
            if (format === "target" || format === "optionalTarget") return undefined;
        }
        if ((format === "target" || format === "optionalTarget") && value !== "") {
            const m = TARGET_RE.exec(value);
            return m ? ({ module: m[1], attribute: m[2], spec: value } satisfies PythonTarget) : undefined;
        }
        return format === "optionalTarget" && value === "" ? undefined : value;
    };
    const v = {} as Record<ConfigKey, unknown>;
    for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
        const spec: KeySpec = CONFIG_KEYS[key];
        if (spec.kind === "integer") v[key] = int(key);
        else if (spec.kind === "boolean") v[key] = bool(key);
        else if (spec.kind === "string") v[key] = spec.format ? formatted(key, spec.format) : str(key);
        else v[key] = given.get(key); // lists and objects: parsed by their own readers below
    }
    const num = (key: ConfigKey) => v[key] as number;
    const flag = (key: ConfigKey) => v[key] as boolean;
    const text = (key: ConfigKey) => v[key] as string;

    // Cross-key checks and the lists.
    const appSourceRaw = str("appSource");
    const appSource = path.resolve(ctx.projectDir, appSourceRaw);
    const wsgiApp = v.wsgiApp as PythonTarget | undefined;
    const initHook = v.initHook as PythonTarget | undefined;
    const staticPath = text("staticPath");
    const dataPath = text("dataPath");
    const uploadsPath = text("uploadsPath");

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

    const databaseFile = text("databaseFile");
    const staticUrl = text("staticUrl");
    const downloadsPrefix = text("downloadsPrefix");
    if (staticUrl === downloadsPrefix) {
        problems.push(
            `${show("downloadsPrefix")} equals staticUrl: downloads and static files need different prefixes. ` +
                fix("downloadsPrefix", "/protected-files/"),
        );
    }

    const dockerHost = raw["docker:host"] || undefined;
    if (dockerHost && !/^(unix|tcp|ssh|npipe):\/\/\S+$/.test(dockerHost)) {
        problems.push(
            `docker:host = ${JSON.stringify(dockerHost)}: must be a Docker endpoint like ssh://admin@school-server or ` +
                `unix:///var/run/docker.sock. Fix: \`pulumi config set docker:host ssh://user@host\``,
        );
    }
    const createdAt = text("createdAt");

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
    const port = num("port");
    const tlsCtx = {
        get: str,
        isSet,
        int: num,
        bool: flag,
        ns,
        problems,
        testSchool: !!createdAt,
        httpPort: port,
        now: ctx.now,
    };

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
        initInWorkers: flag("initInWorkers"),
        appSettings: settings.settings,
        appSecrets: settings.secrets,
        staticUrl,
        downloadsPrefix,
        workers: num("workers"),
        threads: num("threads"),
        appAccessLog: flag("appAccessLog"),
        uploadLimitMb: num("uploadLimitMb"),
        bindAddress: text("bindAddress"),
        port,
        pythonImage: text("pythonImage"),
        nginxImage: text("nginxImage"),
        platform: text("platform"),
        appEnv,
        protectData: flag("protectData"),
        hostSwapLimit: flag("hostSwapLimit"),
        loginPath: text("loginPath"),
        loginRatePerMinute: num("loginRatePerMinute"),
        appMemoryMb: num("appMemoryMb"),
        nginxMemoryMb: num("nginxMemoryMb"),
        pidsLimit: num("pidsLimit"),
        backupKeep: num("backupKeep"),
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
