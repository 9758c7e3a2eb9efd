import { describeFailure, SchoolError } from "./errors";
import { readSchool, type SchoolDeps, schoolStacks } from "./found";
import {
    configKey,
    CREATED_AT_TAG,
    FIRST_PORT,
    isProtected,
    LAST_PORT,
    RESET_KEYS,
    schoolConfig,
    type SchoolConfigInput,
    schoolStackName,
    shortStackName,
} from "./rules";

export { describeFailure, SchoolError } from "./errors";
export * from "./rules";
export * from "./found";
export * from "./destroy";

/**
 * Test schools: throwaway stacks `school-<name>` of this project, each the demo app on its own
 * port of 127.0.0.1. The rules (names, config template, what may be destroyed) are in rules.ts;
 * finding them and `list` in found.ts, `destroy` in destroy.ts; here the port choice and `create`,
 * all through the injected `SchoolWorkspace`.
 */

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
