// loadConfig: every key of the project namespace read by its kind, then each area's reader, in the
// order their cross-key checks need (the app's folders before the deploy steps, the web port and
// the test-school mark before HTTPS).
import { readApp } from "./app";
import { readBackups } from "./backups";
import { readDeploy } from "./deploy";
import { ConfigError } from "./error";
import { readGrading } from "./grading";
import { closestKey, RETIRED_KEYS } from "./hints";
import { readJobs } from "./jobs";
import { CONFIG_KEYS, type ConfigKey } from "./keys";
import { readKeys } from "./reader";
import { readSettings } from "./settings";
import { readStack } from "./stack";
import { readStorage } from "./storage";
import { readTls } from "./tls";
import type { StackConfig } from "./types";
import { checkPlainHttp, readWeb } from "./web";

export { ConfigError } from "./error";
export { CONFIG_KEYS, type ConfigKey } from "./keys";
export { RESERVED_ENV } from "./lists";
export type { AdminPasswordConfig, MigrationsConfig, PythonTarget, StackConfig } from "./types";

export interface LoadContext {
    /** Folder relative paths are resolved against (the Pulumi project folder). */
    readonly projectDir: string;
    /** Pulumi project name, the config namespace. */
    readonly project: string;
    /** The time certificates are checked against (tests). @default now */
    readonly now?: Date;
    /**
     * Keys the stack's file sets to encrypted values the caller cannot read (a command that reads
     * the file without the passphrase, e.g. the import): problems about them are left to
     * `pulumi up`, which reads them. @default none
     */
    readonly encryptedKeys?: ReadonlySet<string>;
}

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
        if (!(key in CONFIG_KEYS) && key in RETIRED_KEYS) {
            problems.push(
                `${fullKey} is no longer a key (value ${JSON.stringify(value)}): ${RETIRED_KEYS[key]}. ` +
                    `Fix: \`pulumi config rm ${key}\``,
            );
            continue;
        }
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
    const r = readKeys<ConfigKey>(given, CONFIG_KEYS, ns, problems);

    const app = readApp(r, ctx.projectDir);
    const web = readWeb(r);
    const stack = readStack(r, raw["docker:host"]);
    // Read in this order: the problems are listed as their areas come.
    const settings = readSettings(r);
    const grading = readGrading(r, settings.appSecrets.GRADING_SERVICE_TOKEN, settings.appEnv);
    const storage = readStorage(r);
    const deploy = readDeploy(r, app);
    const jobs = readJobs(r);
    const https = readTls(r, { testSchool: !!stack.createdAt, httpPort: web.port, now: ctx.now });
    checkPlainHttp(r, web, { tlsOn: https.tls.mode !== "off", behindProxy: https.trustedProxies.length > 0 });
    const config: StackConfig = {
        ...app,
        ...settings,
        ...web,
        ...grading,
        ...storage,
        ...deploy,
        ...jobs,
        ...https,
        ...readBackups(r),
        ...stack,
    };
    const unreadable = [...(ctx.encryptedKeys ?? [])].map((k) => new RegExp(`${ns}${k}\\b`));
    const left = problems.filter((p) => !unreadable.some((re) => re.test(p)));
    if (left.length > 0) throw new ConfigError(left);
    return config;
}
