import { CONFIG_KEYS, type ConfigKey } from "../config/load";
import { SchoolError } from "./errors";

/**
 * The rules of test schools that need no backend: names, stack names, the config template, and
 * what may be destroyed. school/schools.ts does the Pulumi work with them.
 */

/** Pulumi project name = config namespace (Pulumi.yaml `name`). */
export const PROJECT = "lernmanager";
/** Every test school's stack is named `school-<name>`. */
export const STACK_PREFIX = "school-";
/** Ports are picked from here upwards. */
export const FIRST_PORT = 8100;
export const LAST_PORT = 65535;
export const MAX_NAME_LENGTH = 30;
/** Names a school may not have: they read like the real stacks. */
export const RESERVED_NAMES: readonly string[] = ["prod", "dev"];
/** Stack tag mirroring `createdAt`: tags live in the state backend, Pulumi.<stack>.yaml only on the machine that made it. */
export const CREATED_AT_TAG = `${PROJECT}:createdAt`;

const NAME_RE = /^(?:[a-z]|[a-z][a-z0-9-]*[a-z0-9])$/;
const NAME_RULE =
    `a school name is lowercase and DNS-safe: a letter, then letters, digits or hyphens, ending in a letter or digit, ` +
    `at most ${MAX_NAME_LENGTH} characters (for example berlin or pr-42)`;

/** The full config key of one of the program's keys: `lernmanager:<key>`. */
export const configKey = (key: ConfigKey): string => `${PROJECT}:${key}`;

function checkNameShape(name: string): void {
    if (!NAME_RE.test(name) || name.length > MAX_NAME_LENGTH) {
        const why =
            name.length > MAX_NAME_LENGTH
                ? `is ${name.length} characters long`
                : name === ""
                  ? "is empty"
                  : "is not allowed";
        throw new SchoolError(`school name ${JSON.stringify(name)} ${why}: ${NAME_RULE}`);
    }
}

/** Checks a school name; throws a SchoolError naming the rule and an example otherwise. */
export function validateSchoolName(name: string): string {
    checkNameShape(name);
    if (RESERVED_NAMES.includes(name)) {
        throw new SchoolError(
            `school name ${JSON.stringify(name)} is reserved (it reads like the real stack ${name}); pick another, for example berlin`,
        );
    }
    if (name.startsWith(STACK_PREFIX)) {
        throw new SchoolError(
            `school name ${JSON.stringify(name)} starts with "${STACK_PREFIX}"; give the name without it, for example ` +
                `${name.slice(STACK_PREFIX.length) || "berlin"} (the stack is then ${name})`,
        );
    }
    return name;
}

/**
 * The checks on a `destroy` argument that need no backend: never prod, and the shape of a school
 * name (with or without `school-`). Whether it is an existing school, or an existing stack that is
 * not one (dev), is decided against the stack list.
 */
export function checkDestroyArgument(arg: string): void {
    if (arg === "prod") assertDestroyable("prod", {});
    if (RESERVED_NAMES.includes(arg)) return;
    checkNameShape(arg.startsWith(STACK_PREFIX) ? arg.slice(STACK_PREFIX.length) : arg);
}

/** `berlin` -> `school-berlin`. */
export function schoolStackName(name: string): string {
    return `${STACK_PREFIX}${validateSchoolName(name)}`;
}

/** The last segment of a stack name as listed (`org/school-berlin` -> `school-berlin`). */
export const shortStackName = (stack: string): string => stack.slice(stack.lastIndexOf("/") + 1);

/** `school-berlin` (or `org/school-berlin`) -> `berlin`; undefined for stacks that are not test schools. */
export function schoolNameOf(stack: string): string | undefined {
    const short = shortStackName(stack);
    return short.startsWith(STACK_PREFIX) && short.length > STACK_PREFIX.length
        ? short.slice(STACK_PREFIX.length)
        : undefined;
}

/** The fixed part of every test school's config (the rest is per school: port, createdAt, appEnv). */
export const SCHOOL_TEMPLATE = {
    appSource: "demo-app",
    bindAddress: "127.0.0.1",
    protectData: "false",
    // The demo app's contract (as in Pulumi.dev.yaml).
    databaseFile: "lernmanager.db",
    // The demo app keeps its admin in `users` (the real app, and the default: `admin`).
    adminTable: "users",
} as const satisfies Partial<Record<ConfigKey, string>>;

/** One `pulumi config set` call. */
export interface ConfigEntry {
    readonly key: string;
    readonly value: string;
    /** `--path` (for list entries such as `lernmanager:appEnv[0]`). */
    readonly path?: boolean;
}

export interface SchoolConfigInput {
    readonly port: number;
    readonly demoData: boolean;
    readonly createdAt: Date | string;
    /** Absolute folder of another app (e.g. a checkout of the real Lernmanager); the demo app when undefined. */
    readonly appSource?: string;
    /** Address to publish on (e.g. the machine's LAN address, or 0.0.0.0); 127.0.0.1 when undefined. */
    readonly bindAddress?: string;
}

/** Keys an earlier `create` may have set that this one decides anew: removed first (`appEnv[0]` would keep older entries). */
export const RESET_KEYS: readonly ConfigKey[] = [
    "appEnv",
    "baseStack",
    "databaseFile",
    "adminTable",
    "scratchPaths",
    "persistentPaths",
    "allowPlainHttp",
];

/**
 * The config of one test school: the template, its own port, its creation time, and
 * `appEnv: [DEMO_DATA=1|0]`. appEnv is written as a real list (`--path appEnv[0]`), which is what
 * Pulumi.yaml declares (`type: array`).
 */
export function schoolConfig(input: SchoolConfigInput): ConfigEntry[] {
    const createdAt = typeof input.createdAt === "string" ? input.createdAt : input.createdAt.toISOString();
    const demo = input.appSource === undefined;
    // Another app (the real Lernmanager) takes its contract from Pulumi.prod.yaml (baseStack); the
    // keys set here (port, address, no data protection) win over prod's.
    const template: Partial<Record<ConfigKey, string>> = demo
        ? { ...SCHOOL_TEMPLATE }
        : { appSource: input.appSource, baseStack: "prod", protectData: "false" };
    template.bindAddress = input.bindAddress ?? SCHOOL_TEMPLATE.bindAddress;
    // A test school on the LAN is a trial on plain HTTP; said explicitly (the config check refuses
    // plain HTTP beyond loopback otherwise).
    if (!template.bindAddress!.startsWith("127.")) template.allowPlainHttp = "true";
    const entries: ConfigEntry[] = [
        ...Object.entries(template).map(([key, value]) => ({ key: configKey(key as ConfigKey), value: value! })),
        { key: configKey("port"), value: String(input.port) },
        { key: configKey("createdAt"), value: createdAt },
        { key: `${configKey("appEnv")}[0]`, value: `DEMO_DATA=${input.demoData ? 1 : 0}`, path: true },
        ...(demo
            ? [
                  { key: `${configKey("scratchPaths")}[0]`, value: "instance/tmp", path: true },
                  { key: `${configKey("persistentPaths")}[0]`, value: "instance/reports", path: true },
              ]
            : []),
    ];
    for (const e of entries) {
        const bare = e.key.slice(PROJECT.length + 1).replace(/\[\d+\]$/, "");
        if (!(bare in CONFIG_KEYS)) throw new Error(`school template uses unknown config key ${e.key}`);
    }
    return entries;
}

/** True when a stack's config says `protectData: true`. */
export const isProtected = (config: Readonly<Record<string, string>>): boolean =>
    config[configKey("protectData")]?.trim().toLowerCase() === "true";

/**
 * Throws unless `stack` may be destroyed by this command: it must be named `school-*` (so never
 * prod or dev) and its config must not say `protectData: true`.
 */
export function assertDestroyable(stack: string, config: Readonly<Record<string, string>>): void {
    const short = shortStackName(stack);
    if (short === "prod") {
        throw new SchoolError(`refusing to destroy prod: it is the production stack, not a test school`);
    }
    if (schoolNameOf(stack) === undefined) {
        throw new SchoolError(
            `refusing to destroy ${stack}: only test schools (stacks named ${STACK_PREFIX}*) can be destroyed with this command`,
        );
    }
    if (isProtected(config)) {
        throw new SchoolError(
            `refusing to destroy ${stack}: its config has ${configKey("protectData")} = true (its data is protected); ` +
                `use \`pulumi destroy --stack ${stack}\` yourself if you really mean it`,
        );
    }
}
