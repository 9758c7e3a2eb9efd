/**
 * A stand-in for Pulumi's engine across several runs of the program (`up`, `up` again, `destroy`),
 * on a real Docker engine, following the rules in engineRules.ts (each with its source link):
 * a state per resource as the provider stores it (containers read back from the engine), the diff
 * of the next program run against that state by the provider's per-field rules (replace / update in
 * place / an update that changes nothing), replacements that create the new resource first and
 * delete the old one at the end of the update (a command's `delete` included), and a destroy in
 * antichains, dependents first, with protect's and a failed delete's real consequences.
 *
 * Every `up` returns a report of what it did, for the tests to assert on.
 */
import { randomBytes } from "crypto";
import Docker from "dockerode";
import * as path from "path";
import { contextDigest } from "./contextDigest";
import { PROJECT_DIR } from "../../core/paths";
import { COMMAND, CONTAINER, IMAGE, NETWORK, PASSIVE, PROVIDER, VOLUME } from "./engineMapping";
import {
    COMMAND_REPLACE_FIELDS,
    DELETE_PROTECTED_MESSAGE,
    FORCE_NEW,
    goDuration,
    IMAGE_CHECK,
    INIT_ERROR_KEY,
    NEITHER,
    readBackHealthcheck,
    RETAIN_ON_REPLACE,
    STATE_ONLY,
    UPDATED,
    VOLUME_READ_BACK,
} from "./engineRules";
import { matchOlds } from "./engineAliases";
import { Registration } from "./mocks";
import { buildImage, containerCreateBody, CommandOutputs, docker, runCommandOutputs, waitHealthy } from "./realize";

export interface Change {
    readonly name: string;
    readonly fields: string[];
}

/** What one `up` did. */
export interface UpReport {
    creates: string[];
    /** Updates in place (including those that change nothing on the object: see `NEITHER`). */
    updates: Change[];
    replaces: Change[];
    deletes: string[];
    /** Scripts run, as `<resource> create|update|delete`. */
    commandsRun: string[];
    /** Image builds, by resource name. */
    builds: string[];
}

export interface DestroyReport {
    deleted: string[];
    failed: { name: string; error: string }[];
    /** Still in the state afterwards (failed, protected or skipped because a dependent failed). */
    kept: string[];
    commandsRun: string[];
}

/** One resource as the engine keeps it in the stack's state. */
interface Stored {
    readonly type: string;
    /** Logical name and URN: both change when an alias carries the resource over to a new one. */
    name: string;
    urn: string;
    /** Inputs after Check, merged with what the provider read back. */
    inputs: Record<string, any>;
    /** Physical id: container id, image id, network id, volume name, command name. */
    id: string;
    /** Container name on the engine. */
    physicalName?: string;
    deps: Set<string>;
    opts: Registration["opts"];
    /** INIT_ERROR_KEY: a create that failed after the object existed (a container that never got healthy). */
    initErrors?: string[];
    /** A command's last stdout/stderr (PREVIOUS_OUTPUT_ENV). */
    outputs?: CommandOutputs;
}

/** The mocked Image output the engine replaces with the built image's id. */
export const mockDigest = (imageName: string) => `mock-digest:${imageName}`;

/** A create that failed after the object existed (engineRules.ts INIT_ERROR_KEY). */
export class InitError extends Error {}

/** An `up` that failed; its report says what it did before. */
export class UpFailed extends Error {
    constructor(
        message: string,
        readonly report: UpReport,
    ) {
        super(message);
    }
}

export class LifecycleEngine {
    readonly state = new Map<string, Stored>();
    /** Old resources whose delete failed: kept in the state, tried again by every later `up`. */
    readonly pendingDeletes: Stored[] = [];
    /** URNs of the component resources in the state (the engine keeps them too; aliases resolve through them). */
    private components = new Set<string>();
    private readonly log: (line: string) => void;

    constructor(opts: { log?: (line: string) => void } = {}) {
        this.log = opts.log ?? (() => undefined);
    }

    /**
     * Applies a run of the program (registrations from runProgram with `imageId: mockDigest`), as
     * `pulumi up` does: the preview's refusals first (a protected resource the program dropped), then
     * every step as soon as the steps it depends on are done (PARALLEL_STEPS), the first failure
     * letting running steps finish and starting no new one (CANCEL_ON_ERROR), and the deletes of
     * dropped and replaced resources at the end.
     */
    async up(regs: Registration[]): Promise<UpReport> {
        const report: UpReport = { creates: [], updates: [], replaces: [], deletes: [], commandsRun: [], builds: [] };
        const pending: Stored[] = [];
        const outputs = new Map<string, { value: string; owner: string }>();
        this.takeOver(regs);
        const managed = regs.filter(isManaged);
        const declared = new Set(managed.map((r) => r.name));
        // Old resources no registration claims (keyed by URN when a new resource took their name).
        const gone = [...this.state.entries()].filter(([k]) => !declared.has(k)).map(([, s]) => s);
        // DELETE_PROTECTED_MESSAGE: the preview's DeleteStep.Apply refuses before looking at retainOnDelete.
        const refused = gone.filter((s) => s.opts.protect);
        if (refused.length) throw new UpFailed(refused.map((s) => DELETE_PROTECTED_MESSAGE(s.urn)).join("\n"), report);
        // PENDING_DELETES_FIRST: what an earlier update left pending goes before anything else.
        for (const s of this.pendingDeletes.splice(0)) {
            try {
                // RETAIN_ON_REPLACE: a retained resource's delete is a no-op, also when it was left pending.
                if (!(RETAIN_ON_REPLACE && s.opts.retainOnDelete)) await this.delete(s, report.commandsRun);
            } catch (e) {
                this.pendingDeletes.push(s);
                throw new UpFailed(`delete of ${s.name} (pending) failed: ${(e as Error).message}`, report);
            }
        }
        for (const s of this.state.values()) this.publish(s, outputs);
        const depsOf = stepDependencies(regs);
        this.timeline.length = 0;
        const started = Date.now();
        const failures: string[] = [];
        const steps = new Map<string, Promise<boolean>>();
        const step = async (reg: Registration): Promise<boolean> => {
            const deps = depsOf(reg);
            const done = await Promise.all([...deps].map((d) => steps.get(d) ?? Promise.resolve(true)));
            if (failures.length || done.includes(false)) return false; // cancelled: no new step starts
            const t0 = Date.now() - started;
            try {
                await this.applyStep(reg, deps, outputs, pending, report);
                this.timeline.push({ name: reg.name, start: t0, end: Date.now() - started });
                return true;
            } catch (e) {
                failures.push((e as Error).message);
                return false;
            }
        };
        for (const reg of managed) steps.set(reg.name, step(reg));
        await Promise.all(steps.values());
        for (const list of [report.creates, report.builds]) list.sort();
        for (const list of [report.updates, report.replaces]) list.sort((a, b) => a.name.localeCompare(b.name));
        if (failures.length) {
            // The replaced resources stay in the state marked for deletion (their replacement exists).
            this.pendingDeletes.push(...pending);
            throw new UpFailed(failures.join("\n"), report);
        }
        // Resources the program no longer declares, then the replaced ones: after everything else.
        for (const s of [...gone.reverse(), ...pending.reverse()]) {
            try {
                // retainOnDelete (of the state) drops a dropped or replaced resource without the provider's Delete.
                const retained = s.opts.retainOnDelete && (gone.includes(s) || RETAIN_ON_REPLACE);
                if (!retained) await this.delete(s, report.commandsRun);
            } catch (e) {
                this.pendingDeletes.push(s);
                failures.push(`delete of ${s.name} failed: ${(e as Error).message}`);
                continue;
            }
            if (gone.includes(s)) {
                this.state.delete(this.keyOf(s));
                report.deletes.push(s.name);
            }
        }
        if (failures.length) throw new UpFailed(failures.join("\n"), report);
        return report;
    }

    /** `pulumi state unprotect <urn>`: the state's protect flag off (REPLACE_PROTECTED_IF). */
    unprotect(name: string): void {
        const s = this.state.get(name);
        if (!s) throw new Error(`${name} is not in the state`);
        s.opts = { ...s.opts, protect: false };
    }

    /** When each step of the last `up` ran (ms since its start), for the tests of parallel steps. */
    readonly timeline: { name: string; start: number; end: number }[] = [];

    private async applyStep(
        reg: Registration,
        deps: Set<string>,
        outputs: Map<string, { value: string; owner: string }>,
        pending: Stored[],
        report: UpReport,
    ) {
        const inputs = checkInputs(reg, resolveOutputs(reg.inputs, outputs, new Set()));
        const old = this.state.get(reg.name);
        if (!old) {
            const created = await this.create(reg, inputs, deps, report);
            this.publish(created, outputs);
            report.creates.push(reg.name);
            return;
        }
        const diff = diffResource(reg, old.inputs, inputs);
        const stored = old.opts; // as the state has them (REPLACE_PROTECTED_IF, RETAIN_ON_REPLACE)
        old.opts = reg.opts; // protect, retainOnDelete...: state-only changes
        if (diff.kind === "same" && !old.initErrors) {
            old.deps = deps;
            return;
        }
        if (diff.kind === "replace") {
            if (reg.opts.protect && stored.protect) throw new Error(`${reg.name} is protected and cannot be replaced`);
            const deleteFirst = reg.type === CONTAINER ? reg.opts.deleteBeforeReplace !== false : false;
            const replaced: Stored = { ...old, opts: stored };
            if (deleteFirst && !(RETAIN_ON_REPLACE && stored.retainOnDelete))
                await this.delete(old, report.commandsRun);
            // step.go CreateStep.Apply marks the old resource for deletion once the provider returned
            // an id, also with an init error: the replacement exists.
            const created = await this.create(reg, inputs, deps, report).catch((e) => {
                if (!deleteFirst && e instanceof InitError) pending.push(replaced);
                throw e;
            });
            if (!deleteFirst) pending.push(replaced);
            this.publish(created, outputs);
            report.replaces.push({ name: reg.name, fields: diff.fields });
        } else {
            // INIT_ERROR_KEY: an unchanged resource with init errors gets an empty update (no health wait).
            const fields = diff.kind === "same" ? [INIT_ERROR_KEY] : diff.fields;
            await this.update(reg, old, inputs, fields, report);
            old.initErrors = undefined;
            old.deps = deps;
            this.publish(old, outputs);
            report.updates.push({ name: reg.name, fields });
        }
    }

    /**
     * Matches the program's resources to the state by URN and aliases (engineAliases.ts): a resource
     * found by an alias takes over the old one's state under its new name and URN. An old resource no
     * registration claims stays in the state until the end of the update deletes it, under its URN
     * when a new resource (a different URN) takes its name.
     */
    private takeOver(regs: Registration[]) {
        const byUrn = new Map([...this.state.values()].map((s) => [s.urn, s]));
        const goals = regs.map((r) => ({ ...r, parentUrn: r.opts.parentUrn, aliases: r.opts.aliases }));
        const match = matchOlds(goals, new Set([...byUrn.keys(), ...this.components]));
        const claimed = new Map<Stored, Registration>();
        for (const r of regs.filter(isManaged)) {
            const old = byUrn.get(match.get(r.urn) ?? "");
            if (old) claimed.set(old, r);
        }
        const declared = new Set(regs.filter(isManaged).map((r) => r.name));
        const next = new Map<string, Stored>();
        for (const [s, r] of claimed) next.set(r.name, Object.assign(s, { name: r.name, urn: r.urn }));
        for (const s of this.state.values()) if (!claimed.has(s)) next.set(declared.has(s.name) ? s.urn : s.name, s);
        this.state.clear();
        for (const [k, s] of next) this.state.set(k, s);
        this.components = new Set(regs.filter((r) => !r.custom).map((r) => r.urn));
    }

    private keyOf(s: Stored): string {
        for (const [k, v] of this.state) if (v === s) return k;
        return s.name;
    }

    /**
     * `pulumi destroy` without its preview (`--skip-preview`, the Automation API): antichains of
     * resources no other remaining resource depends on, each antichain's deletes in parallel. A
     * protected resource's delete fails before retainOnDelete is looked at (DELETE_PROTECTED_MESSAGE);
     * the first failed delete lets its antichain finish and cancels the rest (CANCEL_ON_ERROR), unless
     * `continueOnError`, which goes on without the failed resources' dependencies.
     */
    async destroy(opts: { continueOnError?: boolean } = {}): Promise<DestroyReport> {
        const report: DestroyReport = { deleted: [], failed: [], kept: [], commandsRun: [] };
        const remaining = new Set(this.state.keys());
        const excluded = new Set<string>();
        const dependsOn = (a: string) => this.allDeps(a);
        while (!(report.failed.length && !opts.continueOnError)) {
            const ready = [...remaining].filter(
                (r) => !excluded.has(r) && ![...remaining].some((o) => o !== r && dependsOn(o).has(r)),
            );
            if (!ready.length) break;
            const deps = new Map(ready.map((name) => [name, this.transitiveDeps(name)]));
            await Promise.all(
                ready.map(async (name) => {
                    const s = this.state.get(name)!;
                    remaining.delete(name);
                    try {
                        if (s.opts.protect) throw new Error(DELETE_PROTECTED_MESSAGE(s.urn));
                        if (!s.opts.retainOnDelete) await this.delete(s, report.commandsRun);
                        this.state.delete(name);
                        report.deleted.push(name);
                    } catch (e) {
                        report.failed.push({ name, error: (e as Error).message });
                        for (const d of deps.get(name)!) excluded.add(d);
                    }
                }),
            );
        }
        for (const list of [report.deleted, report.commandsRun]) list.sort();
        report.failed.sort((a, b) => a.name.localeCompare(b.name));
        report.kept = [...this.state.keys()];
        return report;
    }

    /** Explicit dependencies plus the implicit ones a real engine records (inputs from outputs, names used). */
    private allDeps(name: string): Set<string> {
        const s = this.state.get(name)!;
        const out = new Set(s.deps);
        // Containers and commands use the networks and volumes they name; everything uses what it was built from.
        const text = JSON.stringify(s.inputs);
        for (const o of this.state.values()) {
            if (o.name === name) continue;
            if ((o.type === NETWORK || o.type === VOLUME) && s.type !== NETWORK && s.type !== VOLUME) {
                if (text.includes(`"${o.inputs.name}"`) || text.includes(`'${o.inputs.name}'`)) out.add(o.name);
            }
        }
        return out;
    }

    private transitiveDeps(name: string): Set<string> {
        const seen = new Set<string>();
        const visit = (n: string) => {
            for (const d of this.state.has(n) ? this.allDeps(n) : []) {
                if (!seen.has(d)) {
                    seen.add(d);
                    visit(d);
                }
            }
        };
        visit(name);
        return seen;
    }

    private publish(s: Stored, outputs: Map<string, { value: string; owner: string }>) {
        if (s.type === IMAGE) outputs.set(mockDigest(s.inputs.imageName), { value: s.id, owner: s.name });
        if (s.type === CONTAINER) {
            outputs.set(`${s.name}-id`, { value: s.id, owner: s.name });
            outputs.set(`${s.name}-a1b2c3d`, { value: s.physicalName!, owner: s.name });
        }
    }

    private async create(reg: Registration, inputs: Record<string, any>, deps: Set<string>, report: UpReport) {
        const s: Stored = { type: reg.type, name: reg.name, urn: reg.urn, inputs, id: "", deps, opts: reg.opts };
        switch (reg.type) {
            case NETWORK:
                s.id = (
                    await docker.createNetwork({
                        Name: inputs.name,
                        Driver: inputs.driver,
                        CheckDuplicate: true,
                        Labels: labels(inputs.labels),
                    })
                ).id;
                break;
            case VOLUME: {
                // K resource_docker_volume.go: Create is VolumeCreate, then Read. Docker answers a
                // create of an existing name with that volume as it is (its labels and options
                // unchanged), and the state gets labels, driver and options read back
                // (VOLUME_READ_BACK), so a volume made beforehand (npm run import) with other labels
                // or options is replaced by the next `up` (all volume fields are ForceNew).
                await docker.createVolume({
                    Name: inputs.name,
                    Labels: labels(inputs.labels),
                    ...(inputs.driver ? { Driver: inputs.driver, DriverOpts: inputs.driverOpts } : {}),
                });
                s.inputs = { ...inputs, ...readBackVolume(inputs, await docker.getVolume(inputs.name).inspect()) };
                s.id = inputs.name;
                break;
            }
            case IMAGE:
                s.id = await buildImage({ ...reg, inputs: withoutDigest(inputs) }, this.log);
                report.builds.push(reg.name);
                break;
            case CONTAINER: {
                const name = inputs.name ?? `${reg.name}-${randomBytes(4).toString("hex").slice(0, 7)}`;
                const image = await docker.getImage(inputs.image).inspect();
                const c = await docker.createContainer(containerCreateBody({ ...reg, inputs }, image.Id, name));
                s.id = c.id;
                s.physicalName = name;
                this.state.set(reg.name, s); // in the state even if it never gets healthy (a partial create)
                await c.start();
                try {
                    if (inputs.wait) await waitHealthy(c, inputs.waitTimeout ?? 60);
                } catch (e) {
                    // INIT_ERROR_KEY: kept in the state, running, with its aliases; the update fails.
                    s.initErrors = [(e as Error).message];
                    s.inputs = { ...inputs, ...readBack(await c.inspect()) };
                    throw new InitError((e as Error).message);
                }
                s.inputs = { ...inputs, ...readBack(await c.inspect()) };
                this.log(`started ${name}`);
                break;
            }
            case COMMAND:
                report.commandsRun.push(`${reg.name} create`);
                s.outputs = await runCommandOutputs({ ...reg, inputs }, this.log);
                s.id = reg.name;
                break;
        }
        this.state.set(reg.name, s);
        return s;
    }

    private async update(reg: Registration, old: Stored, inputs: Record<string, any>, fields: string[], r: UpReport) {
        switch (reg.type) {
            case IMAGE:
                old.id = await buildImage({ ...reg, inputs: withoutDigest(inputs) }, this.log);
                r.builds.push(reg.name);
                old.inputs = inputs;
                break;
            case CONTAINER: {
                const c = docker.getContainer(old.id);
                if (fields.some((f) => UPDATED.has(f))) {
                    const update: Record<string, unknown> = {
                        Memory: (inputs.memory ?? 0) * 1024 * 1024,
                        RestartPolicy: { Name: inputs.restart ?? "no" },
                    };
                    if (inputs.memorySwap) update.MemorySwap = inputs.memorySwap * 1024 * 1024;
                    await c.update(update);
                }
                // Fields the provider neither replaces nor updates keep what the container has.
                old.inputs = { ...inputs, ...readBack(await c.inspect()) };
                break;
            }
            case COMMAND: {
                const script = inputs.update ?? inputs.create;
                if (script) {
                    r.commandsRun.push(`${reg.name} update`);
                    // PREVIOUS_OUTPUT_ENV: Update starts from the old outputs.
                    old.outputs = await runCommandOutputs(
                        { ...reg, inputs: { ...inputs, create: script } },
                        this.log,
                        previousOutput(inputs, old.outputs),
                    );
                }
                old.inputs = inputs;
                break;
            }
            default:
                throw new Error(`update of a ${reg.type} (${reg.name}: ${fields.join(", ")}) is not mapped`);
        }
    }

    private async delete(s: Stored, commandsRun: string[]) {
        switch (s.type) {
            case CONTAINER: {
                const c = docker.getContainer(s.id);
                await c.stop({ t: s.inputs.destroyGraceSeconds ?? 10 }).catch(ignore(304, 404));
                await c.remove({ v: false }).catch(ignore(404));
                break;
            }
            case COMMAND:
                if (s.inputs.delete) {
                    commandsRun.push(`${s.name} delete`);
                    await runCommandOutputs(
                        { ...registrationOf(s), inputs: { ...s.inputs, create: s.inputs.delete } },
                        this.log,
                        previousOutput(s.inputs, s.outputs),
                    );
                }
                break;
            case NETWORK:
                await docker.getNetwork(s.id).remove().catch(ignore(404));
                break;
            case VOLUME:
                await docker.getVolume(s.id).remove().catch(ignore(404));
                break;
            case IMAGE:
                break; // the native Image's Delete does nothing
        }
    }
}

/** What the provider reads back from a volume (VOLUME_READ_BACK): labels, driver and options as Docker has them. */
export function readBackVolume(
    inputs: Record<string, any>,
    info: Pick<Docker.VolumeInspectInfo, "Driver" | "Labels" | "Options">,
): Record<string, any> {
    return {
        labels: readBackLabels(inputs.labels ?? [], info.Labels ?? {}),
        driver: info.Driver,
        driverOpts: info.Options ?? {},
    };
}

/** Labels as read back, in the declared order (the provider keeps them as a set), extras after. */
function readBackLabels(declared: { label: string; value: string }[], found: Record<string, string>) {
    const order = declared.map((l) => l.label).filter((l) => l in found);
    const extra = Object.keys(found)
        .filter((l) => !order.includes(l))
        .sort();
    return [...order, ...extra].map((label) => ({ label, value: found[label] }));
}

/** What the provider reads back from a container (KF `resourceDockerContainerRead`). */
export function readBack(info: Docker.ContainerInspectInfo): Record<string, any> {
    const h = info.Config.Healthcheck as Record<string, any> | undefined;
    const host = info.HostConfig;
    const out: Record<string, any> = {
        memory: (host.Memory ?? 0) / 1024 / 1024,
        restart: host.RestartPolicy?.Name,
        readOnly: host.ReadonlyRootfs,
        init: host.Init ?? false,
        tmpfs: host.Tmpfs ?? {},
    };
    // NO_SWAP_LIMIT_READ_BACK: positive values in MiB, others (-1 on a host without swap limits) as they are.
    if (host.MemorySwap) out.memorySwap = host.MemorySwap > 0 ? host.MemorySwap / 1024 / 1024 : host.MemorySwap;
    if (h) {
        out.healthcheck = {
            tests: h.Test,
            interval: goDuration(h.Interval ?? 0),
            timeout: goDuration(h.Timeout ?? 0),
            startPeriod: goDuration(h.StartPeriod ?? 0),
            retries: h.Retries,
        };
    }
    return out;
}

/** The read-back predicted from the declaration alone (Docker's default swap: twice the memory). */
export function predictedReadBack(inputs: Record<string, any>): Record<string, any> {
    const out: Record<string, any> = { ...inputs };
    if (inputs.healthcheck) out.healthcheck = readBackHealthcheck(inputs.healthcheck);
    if (inputs.memory && !inputs.memorySwap) out.memorySwap = inputs.memory * 2;
    return out;
}

/** The native Image's Check: platform defaulted from the machine, a digest of the context's contents. */
export function checkInputs(reg: Registration, inputs: Record<string, any>, arch = process.arch) {
    if (reg.type !== IMAGE) return inputs;
    const b = inputs.build;
    return {
        ...inputs,
        build: {
            ...b,
            platform: b.platform ?? IMAGE_CHECK.defaultPlatform(arch),
            contextDigest: contextDigest(path.resolve(PROJECT_DIR, b.context), path.resolve(PROJECT_DIR, b.dockerfile)),
        },
    };
}

/** replace / update / same for one resource, by the provider's rules (engineRules.ts). */
export function diffResource(
    reg: Registration,
    olds: Record<string, any>,
    news: Record<string, any>,
): { kind: "same" | "update" | "replace"; fields: string[] } {
    const keys = new Set([
        ...Object.keys(news),
        ...(reg.type === CONTAINER ? ["memorySwap"] : []),
        ...(reg.type === VOLUME ? VOLUME_READ_BACK.optional : []),
    ]);
    // A map field the provider reads back (driver_opts): an empty map and none are alike.
    const same = (k: string) =>
        reg.type === VOLUME && (VOLUME_READ_BACK.optional as readonly string[]).includes(k)
            ? JSON.stringify(canonical(olds[k] ?? {})) === JSON.stringify(canonical(news[k] ?? {}))
            : JSON.stringify(canonical(olds[k])) === JSON.stringify(canonical(news[k]));
    const fields = [...keys].filter((k) => k !== "__unused" && !same(k));
    if (!fields.length) return { kind: "same", fields };
    const replaceOn = new Set(reg.opts.replaceOnChanges ?? []);
    const forceNew =
        reg.type === CONTAINER
            ? FORCE_NEW
            : reg.type === COMMAND
              ? COMMAND_REPLACE_FIELDS
              : reg.type === IMAGE
                ? new Set<string>()
                : new Set([...Object.keys(news), ...(reg.type === VOLUME ? VOLUME_READ_BACK.optional : [])]);
    if (fields.some((f) => forceNew.has(f) || replaceOn.has(f))) return { kind: "replace", fields };
    if (reg.type === CONTAINER) {
        const unknown = fields.filter((f) => !UPDATED.has(f) && !STATE_ONLY.has(f) && !NEITHER.has(f));
        if (unknown.length) throw new Error(`diff of ${reg.name}: fields ${unknown.join(", ")} are not classified`);
    }
    return { kind: "update", fields };
}

function canonical(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === "object") {
        return Object.fromEntries(
            Object.entries(v as Record<string, unknown>)
                .filter(([, x]) => x !== undefined)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([k, x]) => [k, canonical(x)]),
        );
    }
    return v;
}

function resolveOutputs(value: any, outputs: Map<string, { value: string; owner: string }>, deps: Set<string>): any {
    if (typeof value === "string") {
        const hit = outputs.get(value);
        if (hit) {
            deps.add(hit.owner);
            return hit.value;
        }
        // Space-separated lists of outputs (e.g. LM_BUILT) and outputs inside text.
        let out = value;
        for (const [mock, real] of outputs) {
            if (mock.startsWith("mock-digest:") && out.includes(mock)) {
                out = out.split(mock).join(real.value);
                deps.add(real.owner);
            }
        }
        return out;
    }
    if (Array.isArray(value)) return value.map((v) => resolveOutputs(v, outputs, deps));
    if (value && typeof value === "object")
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveOutputs(v, outputs, deps)]));
    return value;
}

/**
 * Custom resources under a (component) resource, for `dependsOn` a component (the SDK waits for all
 * of its descendants). A DeployStep's command has the same name as its component.
 */
function customDescendants(regs: Registration[]): (name: string) => string[] {
    const children = new Map<string, string[]>();
    for (const r of regs)
        if (r.opts.parent && r.opts.parent !== r.name)
            children.set(r.opts.parent, [...(children.get(r.opts.parent) ?? []), r.name]);
    const managed = new Set(regs.filter(isManaged).map((r) => r.name));
    return (root: string) => {
        const out: string[] = [];
        const seen = new Set<string>();
        const walk = (name: string) => {
            if (seen.has(name)) return;
            seen.add(name);
            if (managed.has(name)) out.push(name);
            for (const c of children.get(name) ?? []) walk(c);
        };
        walk(root);
        return out;
    };
}

/**
 * What each step waits for (PARALLEL_STEPS): its `dependsOn` (a component: all its custom
 * descendants) and the resources whose outputs its inputs use: an image's id (the mocked digest),
 * a container's id or name, and the network and volumes it names (their names are outputs in the
 * program; under the mocks they arrive as plain text).
 */
export function stepDependencies(regs: Registration[]): (reg: Registration) => Set<string> {
    const descendants = customDescendants(regs);
    const managed = regs.filter(isManaged);
    const word = (text: string) =>
        new RegExp(`(^|[^A-Za-z0-9_.-])${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}($|[^A-Za-z0-9_.-])`);
    const marks = managed.map((r) => ({
        name: r.name,
        found: (text: string): boolean => {
            if (r.type === IMAGE) return text.includes(mockDigest(r.inputs.imageName));
            if (r.type === CONTAINER) return text.includes(`${r.name}-id`) || text.includes(`${r.name}-a1b2c3d`);
            if (r.type === NETWORK || r.type === VOLUME) return word(r.inputs.name).test(text);
            return false;
        },
    }));
    return (reg) => {
        const deps = new Set<string>();
        for (const d of reg.opts.dependsOn) for (const x of descendants(d)) deps.add(x);
        const text = JSON.stringify(reg.inputs);
        for (const m of marks) if (m.name !== reg.name && m.found(text)) deps.add(m.name);
        return deps;
    };
}

/** PREVIOUS_OUTPUT_ENV: the stored outputs, unless the command turned them off. */
function previousOutput(inputs: Record<string, any>, outputs: CommandOutputs | undefined): CommandOutputs | undefined {
    return inputs.addPreviousOutputInEnv === false ? undefined : outputs;
}

function isManaged(r: Registration): boolean {
    return r.custom && !PASSIVE.has(r.type) && r.type !== PROVIDER;
}

function withoutDigest(inputs: Record<string, any>): Record<string, any> {
    const { contextDigest: _digest, ...build } = inputs.build;
    void _digest;
    return { ...inputs, build };
}

function registrationOf(s: Stored): Registration {
    return {
        type: s.type,
        name: s.name,
        urn: s.urn,
        inputs: s.inputs,
        secretInputs: [],
        custom: true,
        opts: s.opts,
        rawProps: {},
        order: 0,
    };
}

function labels(list: { label: string; value: string }[] | undefined): Record<string, string> {
    return Object.fromEntries((list ?? []).map((l) => [l.label, l.value]));
}

const ignore =
    (...codes: number[]) =>
    (e: { statusCode?: number }) => {
        if (!codes.includes(e.statusCode ?? 0)) throw e;
    };
