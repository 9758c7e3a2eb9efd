import { CONFIG_KEYS, type ConfigKey } from "../lib/config";
import { formatAge, formatTime } from "./age";
import { SchoolError } from "./errors";
import type { OutputSink, SchoolWorkspace } from "./workspace";

export { SchoolError } from "./errors";

/**
 * Test schools: throwaway stacks `school-<name>` of this project, each the demo app on its own
 * port of 127.0.0.1. The functions here hold the rules (names, config template, port choice,
 * what may be destroyed); all Pulumi work goes through the injected `SchoolWorkspace`.
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
const shortStackName = (stack: string): string => stack.slice(stack.lastIndexOf("/") + 1);

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
}

/**
 * The config of one test school: the template, its own port, its creation time, and
 * `appEnv: [DEMO_DATA=1|0]`. appEnv is written as a real list (`--path appEnv[0]`), which is what
 * Pulumi.yaml declares (`type: array`).
 */
export function schoolConfig(input: SchoolConfigInput): ConfigEntry[] {
    const createdAt = typeof input.createdAt === "string" ? input.createdAt : input.createdAt.toISOString();
    const entries: ConfigEntry[] = [
        ...Object.entries(SCHOOL_TEMPLATE).map(([key, value]) => ({ key: configKey(key as ConfigKey), value })),
        { key: configKey("port"), value: String(input.port) },
        { key: configKey("createdAt"), value: createdAt },
        { key: `${configKey("appEnv")}[0]`, value: `DEMO_DATA=${input.demoData ? 1 : 0}`, path: true },
    ];
    for (const e of entries) {
        const bare = e.key.slice(PROJECT.length + 1).replace(/\[\d+\]$/, "");
        if (!(bare in CONFIG_KEYS)) throw new Error(`school template uses unknown config key ${e.key}`);
    }
    return entries;
}

/** What the school functions need from the outside world. */
export interface SchoolDeps {
    readonly workspace: SchoolWorkspace;
    /** True when nothing listens on 127.0.0.1:port (see ports.ts). */
    readonly isPortFree: (port: number) => Promise<boolean>;
    readonly now: () => Date;
    /** One line of the command's own messages. */
    readonly log: (line: string) => void;
    /** Pulumi's streamed output during up and destroy. */
    readonly output: OutputSink;
}

/** A test school as found in the backend. */
export interface SchoolInfo {
    readonly name: string;
    /** Stack name as listed. */
    readonly stack: string;
    readonly config: Readonly<Record<string, string>>;
    /** ISO creation time from config, else from the stack tag; undefined when neither has one. */
    readonly createdAt?: string;
}

/** The test schools among the project's stacks, sorted by name. */
async function schoolStacks(ws: SchoolWorkspace): Promise<{ name: string; stack: string }[]> {
    const out: { name: string; stack: string }[] = [];
    for (const stack of await ws.listStacks()) {
        const name = schoolNameOf(stack);
        if (name !== undefined) out.push({ name, stack });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
}

async function readSchool(ws: SchoolWorkspace, s: { name: string; stack: string }): Promise<SchoolInfo> {
    const config = await ws.getAllConfig(s.stack);
    let createdAt = config[configKey("createdAt")] || undefined;
    if (!createdAt) {
        // Pulumi.<stack>.yaml stays on the machine that created the school; the tag travels with the state.
        const tags = await ws.listTags(s.stack).catch(() => ({}) as Record<string, string>);
        createdAt = tags[CREATED_AT_TAG] || undefined;
    }
    return { ...s, config, createdAt };
}

const isProtected = (config: Readonly<Record<string, string>>): boolean =>
    config[configKey("protectData")]?.trim().toLowerCase() === "true";

/**
 * The first port from FIRST_PORT up that no other school's config uses and that is free on
 * 127.0.0.1 right now.
 */
export async function pickPort(
    used: ReadonlySet<number>,
    isPortFree: (port: number) => Promise<boolean>,
): Promise<number> {
    for (let port = FIRST_PORT; port <= LAST_PORT; port++) {
        if (used.has(port)) continue;
        if (await isPortFree(port)) return port;
    }
    throw new SchoolError(`no free port between ${FIRST_PORT} and ${LAST_PORT} on 127.0.0.1; pass one with --port N`);
}

/**
 * One line for a failure. A Pulumi CLI failure's message holds the whole stdout and stderr
 * (`code: 255\n stdout: ...\n stderr: error: ...`): its last `error:` line is the cause (joined with
 * the next line when it ends in a colon). Everything else: the first meaningful line.
 */
export function describeFailure(err: unknown): string {
    if (err instanceof SchoolError) return err.message;
    const text = err instanceof Error ? err.message : String(err);
    const lines = text
        .split("\n")
        .map((l) => l.trim().replace(/^(stdout|stderr|err\?):\s*/, ""))
        .filter((l) => l !== "" && !/^code: -?\d+$/.test(l));
    let i = -1;
    lines.forEach((l, n) => {
        if (/^error:/i.test(l)) i = n;
    });
    if (i < 0) return lines[0] ?? "unknown error";
    let line = lines[i].replace(/^error:\s*/i, "");
    if (line.endsWith(":") && i + 1 < lines.length) line = `${line} ${lines[i + 1]}`;
    return line;
}

export interface CreateOptions {
    readonly name: string;
    readonly demoData: boolean;
    /** Port to publish on; picked when undefined. */
    readonly port?: number;
}

export interface CreateResult {
    readonly name: string;
    readonly stack: string;
    readonly port: number;
    readonly url: string;
    /** False when the school existed and was updated. */
    readonly created: boolean;
}

/**
 * `create <name> [--demo-data] [--port N]`: creates (or updates) stack `school-<name>` from the
 * template, then `pulumi up` with its output streamed. An existing school keeps its port and its
 * creation time unless `--port` says otherwise.
 */
export async function createSchool(deps: SchoolDeps, opts: CreateOptions): Promise<CreateResult> {
    const { workspace: ws, log } = deps;
    const stack = schoolStackName(opts.name);
    if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535)) {
        throw new SchoolError(
            `--port ${opts.port} is not a port: use a whole number from 1 to 65535, for example --port ${FIRST_PORT}`,
        );
    }

    const schools = await Promise.all((await schoolStacks(ws)).map((s) => readSchool(ws, s)));
    const existing = schools.find((s) => shortStackName(s.stack) === stack);
    if (existing && isProtected(existing.config)) {
        throw new SchoolError(
            `stack ${existing.stack} has ${configKey("protectData")} = true; create will not switch its protection off ` +
                `(set it to false yourself with \`pulumi config set protectData false --stack ${existing.stack}\` if this really is a test school)`,
        );
    }
    const usedBy = new Map<number, string>();
    for (const s of schools) {
        if (s === existing) continue;
        const port = Number(s.config[configKey("port")]);
        if (Number.isInteger(port) && port > 0) usedBy.set(port, s.name);
    }
    const ownPort = existing ? Number(existing.config[configKey("port")]) : NaN;

    let port: number;
    if (opts.port !== undefined) {
        const other = usedBy.get(opts.port);
        if (other !== undefined) {
            throw new SchoolError(
                `port ${opts.port} is already used by school ${other}; pick another --port or leave --port out to get a free one`,
            );
        }
        if (opts.port !== ownPort && !(await deps.isPortFree(opts.port))) {
            throw new SchoolError(
                `port ${opts.port} is in use on 127.0.0.1 (something listens there); pick another --port or leave --port out to get a free one`,
            );
        }
        port = opts.port;
    } else if (Number.isInteger(ownPort) && !usedBy.has(ownPort)) {
        port = ownPort;
    } else {
        port = await pickPort(new Set(usedBy.keys()), deps.isPortFree);
    }

    const keptCreatedAt =
        existing?.createdAt && !Number.isNaN(Date.parse(existing.createdAt)) ? existing.createdAt : undefined;
    const createdAt = keptCreatedAt ?? deps.now().toISOString();
    if (existing) {
        log(`School ${opts.name} exists (stack ${existing.stack}); updating it on port ${port}.`);
    } else {
        log(`Creating school ${opts.name}: stack ${stack}, port ${port}, demo data ${opts.demoData ? "on" : "off"}.`);
    }
    const target = existing?.stack ?? stack;
    await ws.createOrSelectStack(target);
    if (existing && configKey("appEnv") in existing.config) {
        await ws.removeConfig(target, configKey("appEnv")); // appEnv[0] below would keep older entries
    }
    for (const entry of schoolConfig({ port, demoData: opts.demoData, createdAt })) {
        await ws.setConfig(target, entry.key, entry.value, entry.path ? { path: true } : undefined);
    }
    try {
        await ws.setTag(target, CREATED_AT_TAG, createdAt);
    } catch (err) {
        log(
            `Note: could not tag ${target} with its creation time (${describeFailure(err)}); --older-than needs this machine's Pulumi.${target}.yaml.`,
        );
    }

    let outputs: Record<string, unknown>;
    try {
        outputs = await ws.up(target, deps.output);
    } catch (err) {
        throw new SchoolError(
            `pulumi up failed for ${target}: ${describeFailure(err)} (fix it and run create again, or remove the school with ` +
                `\`npm run school -- destroy ${opts.name}\`)`,
        );
    }
    const url = typeof outputs.url === "string" ? outputs.url : `http://127.0.0.1:${port}/`;
    log(`School ${opts.name} is up: ${url}`);
    return { name: opts.name, stack: target, port, url, created: !existing };
}

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

/** Turns the `destroy` argument (a school name, or `school-<name>`) into a listed stack. */
function resolveTarget(arg: string, stacks: readonly string[]): { name: string; stack: string } {
    checkDestroyArgument(arg);
    let stackName: string;
    if (arg.startsWith(STACK_PREFIX)) {
        stackName = arg;
    } else if (stacks.some((s) => shortStackName(s) === arg)) {
        assertDestroyable(arg, {}); // an existing stack that is not a school, e.g. dev
        stackName = arg;
    } else {
        stackName = schoolStackName(arg);
    }
    const stack = stacks.find((s) => shortStackName(s) === stackName);
    const name = schoolNameOf(stackName) ?? arg;
    if (!stack) {
        throw new SchoolError(
            `there is no school ${name} (no stack ${stackName}); \`npm run school -- list\` shows the test schools`,
        );
    }
    return { name, stack };
}

export interface DestroyOptions {
    /** One school; all schools when undefined (then olderThanMs is required). */
    readonly name?: string;
    /** Only destroy schools at least this old (strictly older than). */
    readonly olderThanMs?: number;
    /** How the age was written (`7d`), for messages. */
    readonly olderThanText?: string;
}

export interface DestroyResult {
    readonly destroyed: string[];
    /** Schools left alone, each with the reason. */
    readonly kept: { readonly name: string; readonly reason: string }[];
}

async function destroyStack(deps: SchoolDeps, school: SchoolInfo): Promise<void> {
    assertDestroyable(school.stack, school.config);
    deps.log(`Destroying school ${school.name} (stack ${school.stack})...`);
    try {
        await deps.workspace.destroy(school.stack, deps.output);
    } catch (err) {
        throw new SchoolError(
            `pulumi destroy failed for ${school.stack}: ${describeFailure(err)} (the stack is kept; run destroy again)`,
        );
    }
    await deps.workspace.removeStack(school.stack);
    deps.log(`Destroyed school ${school.name} and removed stack ${school.stack}.`);
}

/** Age of a school in ms, or a reason why it has none. */
function ageOf(school: SchoolInfo, now: Date): number | string {
    if (!school.createdAt) return "it has no createdAt (neither in its config nor as a stack tag)";
    const t = Date.parse(school.createdAt);
    if (Number.isNaN(t)) return `its createdAt ${JSON.stringify(school.createdAt)} is not a time`;
    return now.getTime() - t;
}

/**
 * `destroy <name>`, `destroy --older-than 7d`, `destroy <name> --older-than 7d`: `pulumi destroy`
 * then removal of the stack, for test schools only (see assertDestroyable).
 */
export async function destroySchools(deps: SchoolDeps, opts: DestroyOptions): Promise<DestroyResult> {
    const { workspace: ws, log } = deps;
    const ageText = opts.olderThanText ?? (opts.olderThanMs !== undefined ? formatAge(opts.olderThanMs) : "");
    const result: DestroyResult = { destroyed: [], kept: [] };

    if (opts.name !== undefined) {
        const target = resolveTarget(opts.name, await ws.listStacks());
        const school = await readSchool(ws, target);
        assertDestroyable(school.stack, school.config);
        if (opts.olderThanMs !== undefined) {
            const age = ageOf(school, deps.now());
            if (typeof age === "string") {
                throw new SchoolError(
                    `cannot tell the age of school ${school.name}: ${age}; destroy it without --older-than`,
                );
            }
            if (!(age > opts.olderThanMs)) {
                log(`School ${school.name} is ${formatAge(age)} old, not older than ${ageText}; kept.`);
                result.kept.push({ name: school.name, reason: `${formatAge(age)} old` });
                return result;
            }
        }
        await destroyStack(deps, school);
        result.destroyed.push(school.name);
        return result;
    }

    if (opts.olderThanMs === undefined) {
        throw new SchoolError(
            "destroy needs a school name or --older-than, for example `destroy berlin` or `destroy --older-than 7d`",
        );
    }
    const now = deps.now();
    const failures: string[] = [];
    const schools = await schoolStacks(ws);
    if (schools.length === 0) log("No test schools.");
    for (const s of schools) {
        let school: SchoolInfo;
        try {
            school = await readSchool(ws, s);
        } catch (err) {
            failures.push(s.name);
            log(`Failed to read the config of school ${s.name}: ${describeFailure(err)}`);
            continue;
        }
        const keep = (reason: string) => {
            result.kept.push({ name: school.name, reason });
            log(`Skipped school ${school.name}: ${reason}.`);
        };
        if (isProtected(school.config)) {
            keep(`its config has ${configKey("protectData")} = true`);
            continue;
        }
        const age = ageOf(school, now);
        if (typeof age === "string") {
            keep(age);
            continue;
        }
        if (!(age > opts.olderThanMs)) {
            result.kept.push({ name: school.name, reason: `${formatAge(age)} old` });
            log(`Kept school ${school.name}: ${formatAge(age)} old, not older than ${ageText}.`);
            continue;
        }
        try {
            await destroyStack(deps, school);
            result.destroyed.push(school.name);
        } catch (err) {
            failures.push(school.name);
            log(`Failed to destroy school ${school.name}: ${describeFailure(err)}`);
        }
    }
    log(
        `Destroyed ${result.destroyed.length} school(s) older than ${ageText}` +
            `${result.destroyed.length ? ` (${result.destroyed.join(", ")})` : ""}; kept ${result.kept.length}.`,
    );
    if (failures.length > 0) {
        throw new SchoolError(
            `${failures.length} school(s) could not be destroyed: ${failures.join(", ")} (see the output above)`,
        );
    }
    return result;
}

/** One row of `list`. */
export interface SchoolRow {
    readonly name: string;
    /** Stack output `url`, or `-` when never deployed. */
    readonly url: string;
    /** `3d 4h`, or `-` without createdAt. */
    readonly age: string;
    /** `2025-11-20 09:15 UTC`, or `-`. */
    readonly created: string;
}

/** The test schools with URL, age and creation time. */
export async function listSchools(deps: SchoolDeps): Promise<SchoolRow[]> {
    const now = deps.now();
    const rows: SchoolRow[] = [];
    for (const s of await schoolStacks(deps.workspace)) {
        const school = await readSchool(deps.workspace, s);
        const outputs = await deps.workspace.stackOutputs(s.stack).catch(() => ({}) as Record<string, unknown>);
        const url = typeof outputs.url === "string" && outputs.url !== "" ? outputs.url : "-";
        const age = ageOf(school, now);
        const created = typeof age === "number" ? formatTime(new Date(Date.parse(school.createdAt as string))) : "-";
        rows.push({ name: school.name, url, age: typeof age === "number" ? formatAge(age) : "-", created });
    }
    return rows;
}

/** `list` as a table (or a hint when there is no school). */
export function formatSchoolTable(rows: readonly SchoolRow[]): string {
    if (rows.length === 0) return "No test schools. Create one with `npm run school -- create <name>`.";
    const header: SchoolRow = { name: "NAME", url: "URL", age: "AGE", created: "CREATED" };
    const all = [header, ...rows];
    const cols: (keyof SchoolRow)[] = ["name", "url", "age", "created"];
    const width = Object.fromEntries(cols.map((c) => [c, Math.max(...all.map((r) => r[c].length))])) as Record<
        keyof SchoolRow,
        number
    >;
    return all
        .map((r) => cols.map((c, i) => (i === cols.length - 1 ? r[c] : r[c].padEnd(width[c]))).join("  "))
        .join("\n");
}

/** `exists <name>`: whether stack `school-<name>` exists. */
export async function schoolExists(ws: SchoolWorkspace, name: string): Promise<boolean> {
    const stack = schoolStackName(name);
    return (await ws.listStacks()).some((s) => shortStackName(s) === stack);
}
