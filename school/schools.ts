import { formatAge, formatTime } from "./age";
import { describeFailure, SchoolError } from "./errors";
import {
    assertDestroyable,
    checkDestroyArgument,
    configKey,
    CREATED_AT_TAG,
    FIRST_PORT,
    isProtected,
    LAST_PORT,
    RESET_KEYS,
    schoolConfig,
    type SchoolConfigInput,
    schoolNameOf,
    schoolStackName,
    shortStackName,
    STACK_PREFIX,
} from "./rules";
import type { OutputSink, SchoolWorkspace } from "./workspace";

export { describeFailure, SchoolError } from "./errors";
export * from "./rules";

/**
 * Test schools: throwaway stacks `school-<name>` of this project, each the demo app on its own
 * port of 127.0.0.1. The rules (names, config template, what may be destroyed) are in rules.ts;
 * here is the work (port choice, create, destroy, list), all through the injected `SchoolWorkspace`.
 */

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

export interface CreateOptions extends Pick<SchoolConfigInput, "appSource" | "bindAddress"> {
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
    for (const key of RESET_KEYS.map(configKey))
        if (existing && key in existing.config) await ws.removeConfig(target, key);
    for (const entry of schoolConfig({ ...opts, port, createdAt })) {
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
