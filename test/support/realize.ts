/**
 * Realizes what the program declares on a real Docker engine, without the Pulumi CLI.
 *
 * Input: the registrations recorded under Pulumi's mocks (test/support/mocks.ts), i.e. exactly
 * the inputs and options the engine would hand to the Docker provider. Output: the same objects
 * created through the Docker Engine API (dockerode), in Pulumi's order: network, volumes, image
 * builds, then containers (app before nginx; `wait: true` waits for "healthy" like the provider).
 * Each input field is mapped to the Engine API explicitly: see engineMapping.ts.
 */
import { spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import Docker from "dockerode";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    BUILD_FIELDS,
    checkFields,
    COMMAND,
    COMMAND_FIELDS,
    CONTAINER,
    containerCreateBody,
    IMAGE,
    IMAGE_FIELDS,
    NETWORK,
    NETWORK_FIELDS,
    PASSIVE,
    PROVIDER,
    PROVIDER_FIELDS,
    UnmappedFieldError,
    VOLUME,
    VOLUME_FIELDS,
} from "./engineMapping";
import { PROJECT_DIR } from "../../core/paths";
import { IMAGE_CHECK, PREVIOUS_OUTPUT_ENV } from "./engineRules";
import { Registration } from "./mocks";

export { containerCreateBody, UnmappedFieldError } from "./engineMapping";

export const docker = new Docker();

/** One created object, for teardown and for the tests to look at. */
export interface Created {
    readonly kind: "network" | "volume" | "image" | "container" | "command";
    readonly logicalName: string;
    /** Docker name (containers, networks, volumes) or image tag. */
    readonly name: string;
    readonly id: string;
    /** For containers: seconds a stop may take (destroyGraceSeconds). */
    readonly stopSeconds?: number;
    /** For commands: the registration, whose `delete` runs on teardown. */
    readonly command?: Registration;
}

export interface Realization {
    readonly created: Created[];
    /** The container created from the registration whose logical name ends with `suffix`. */
    container(suffix: string): Docker.Container;
    containerName(suffix: string): string;
    /** Removes exactly what was created (containers, networks, volumes; images when asked). */
    teardown(opts?: { images?: boolean }): Promise<void>;
    /**
     * Applies a new run of the program the way `pulumi up` would: builds images whose tag changed,
     * replaces containers whose inputs changed (create the new one and wait for health, then delete
     * the old one; or delete first where `deleteBeforeReplace` is set), leaves the rest alone.
     * Returns the logical names of the replaced containers.
     */
    update(next: Registration[], opts?: { log?: (line: string) => void }): Promise<string[]>;
}

export interface RealizeOptions {
    /** Called with progress lines. */
    readonly log?: (line: string) => void;
}

/** Builds one image the way the provider does (context tar + dockerfile + args), returns its id. */
export async function buildImage(reg: Registration, log: (l: string) => void): Promise<string> {
    try {
        return await buildImageOnce(reg, log);
    } catch (e) {
        // Two test stacks building on one engine at once (scripts/test.sh runs some e2e files in a
        // second lane): a cached layer this build had just reused can vanish when the other stack's
        // destroy removes its images (Docker then drops their untagged parents). The engine says
        // "failed to get digest" / "No such image"; a second build rebuilds what is gone. A user
        // running two `pulumi up`s on one host would see the same once and run `up` again.
        if (!/failed to get digest|No such image|imagedb\/content/.test((e as Error).message)) throw e;
        log(`build of ${reg.inputs.imageName} lost a cached layer to a concurrent image removal; building again`);
        return buildImageOnce(reg, log);
    }
}

async function buildImageOnce(reg: Registration, log: (l: string) => void): Promise<string> {
    checkFields(`Image ${reg.name}`, reg.inputs, IMAGE_FIELDS);
    const b = reg.inputs.build as Record<string, any>;
    checkFields(`Image ${reg.name} build`, b, BUILD_FIELDS);
    if (reg.inputs.skipPush !== true)
        throw new UnmappedFieldError(`realize: Image ${reg.name} would push; pushing is not mapped`);
    if (b.builderVersion !== "BuilderV1")
        throw new UnmappedFieldError(`realize: builderVersion ${b.builderVersion} is not mapped (only BuilderV1)`);

    // Paths as the provider resolves them: relative to its working directory, the project folder.
    const context = path.resolve(PROJECT_DIR, b.context);
    const dockerfilePath = path.resolve(PROJECT_DIR, b.dockerfile);
    // Context as the Docker CLI sends it: the folder minus .dockerignore, plus a dockerfile from outside.
    const staging = fs.mkdtempSync(path.join(os.tmpdir(), "lm-ctx-"));
    try {
        const ignore = path.join(context, ".dockerignore");
        const excludes = fs.existsSync(ignore)
            ? fs
                  .readFileSync(ignore, "utf8")
                  .split("\n")
                  .map((l) => l.trim())
                  .filter((l) => l && !l.startsWith("#"))
            : [];
        const args = [
            "-C",
            context,
            ...excludes.map((e) => `--exclude=./${e.replace(/^\.?\//, "").replace(/\/$/, "")}`),
            "-cf",
            "-",
            ".",
        ];
        const packed = spawnSync("tar", args, { maxBuffer: 1 << 30 });
        if (packed.status !== 0) throw new Error(`tar failed: ${packed.stderr}`);
        const unpacked = spawnSync("tar", ["-C", staging, "-xf", "-"], { input: packed.stdout });
        if (unpacked.status !== 0) throw new Error(`tar failed: ${unpacked.stderr}`);
        let dockerfile = path.relative(context, dockerfilePath);
        if (dockerfile.startsWith("..") || path.isAbsolute(dockerfile)) {
            dockerfile = ".lernmanager.Dockerfile";
            fs.copyFileSync(dockerfilePath, path.join(staging, dockerfile));
        }
        const tar = spawnSync("tar", ["-C", staging, "-cf", "-", "."], { maxBuffer: 1 << 30 });
        const stream = await docker.buildImage(
            tar.stdout as unknown as NodeJS.ReadableStream,
            {
                t: reg.inputs.imageName,
                dockerfile,
                buildargs: b.args ?? {},
                version: "1",
                // As the provider sends it: Remove is never set, so the Go client sends rm=0.
                rm: false,
                platform: b.platform ?? IMAGE_CHECK.defaultPlatform(process.arch),
            } as Docker.ImageBuildOptions,
        );
        const lines: string[] = [];
        await new Promise<void>((resolve, reject) =>
            docker.modem.followProgress(
                stream,
                (err: Error | null, out: any[]) => {
                    if (err) return reject(err);
                    const failed = out.find((o) => o.error);
                    if (failed)
                        return reject(
                            new Error(
                                `build of ${reg.inputs.imageName} failed: ${failed.error}\n${lines.slice(-40).join("")}`,
                            ),
                        );
                    resolve();
                },
                (event: any) => event.stream && lines.push(event.stream),
            ),
        );
        const info = await docker.getImage(reg.inputs.imageName).inspect();
        log(`built ${reg.inputs.imageName} (${info.Id.slice(7, 19)})`);
        return info.Id;
    } finally {
        fs.rmSync(staging, { recursive: true, force: true });
    }
}

/** Waits like the provider's `wait: true`: until "healthy", failing on exit or timeout. */
export async function waitHealthy(container: Docker.Container, timeoutSeconds: number): Promise<void> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    let last = "";
    while (Date.now() < deadline) {
        const info = await container.inspect();
        const status = info.State.Health?.Status ?? "none";
        if (status === "healthy") return;
        if (!info.State.Running && !info.State.Restarting) last = `exited with ${info.State.ExitCode}`;
        else last = `${status}: ${info.State.Health?.Log?.slice(-1)[0]?.Output?.trim() ?? ""}`;
        await new Promise((r) => setTimeout(r, 250));
    }
    const logs = (await container.logs({ stdout: true, stderr: true, tail: 40 })).toString("utf8");
    throw new Error(
        `container ${container.id.slice(0, 12)} was not healthy within ${timeoutSeconds} s (${last}); last logs:\n${logs}`,
    );
}

/** Creates what the registrations declare, in Pulumi's order. */
export async function realize(registrations: Registration[], opts: RealizeOptions = {}): Promise<Realization> {
    const log = opts.log ?? (() => undefined);
    const created: Created[] = [];
    const realization: Realization = {
        created,
        container(suffix) {
            return docker.getContainer(this.containerName(suffix));
        },
        containerName(suffix) {
            const found = created.filter((c) => c.kind === "container" && c.logicalName.endsWith(suffix));
            if (found.length !== 1) throw new Error(`no single container *${suffix} (found ${found.length})`);
            return found[0].name;
        },
        teardown: (t) => teardown(created, t),
        update: async (next, updateOpts = {}) => {
            const replaced: string[] = [];
            const ulog = updateOpts.log ?? log;
            const ordered = [...next].sort((a, b) => rank(a) - rank(b) || a.order - b.order);
            for (const reg of ordered) {
                if (!reg.custom || PASSIVE.has(reg.type)) continue;
                const before = current.get(reg.name);
                if (!before) throw new Error(`update: ${reg.name} is new; adding resources is not mapped`);
                if (JSON.stringify(before.inputs) === JSON.stringify(reg.inputs)) continue;
                if (reg.type === IMAGE) {
                    const id = await buildImage(reg, ulog);
                    created.push({ kind: "image", logicalName: reg.name, name: reg.inputs.imageName, id });
                } else if (reg.type === CONTAINER) {
                    const old = created.find((c) => c.kind === "container" && c.logicalName === reg.name)!;
                    if (reg.opts.deleteBeforeReplace) await removeContainer(old);
                    const fresh = await createContainer(reg);
                    if (!reg.opts.deleteBeforeReplace) await removeContainer(old);
                    created.splice(created.indexOf(old), 1);
                    ulog(`replaced ${old.name} with ${fresh.name}`);
                    replaced.push(reg.name);
                } else if (reg.type === COMMAND) {
                    await runCommand(reg, ulog);
                    const entry = created.find((c) => c.kind === "command" && c.logicalName === reg.name);
                    if (entry) created.splice(created.indexOf(entry), 1, { ...entry, command: reg });
                } else {
                    throw new Error(`update: changing a ${reg.type} (${reg.name}) is not mapped`);
                }
                current.set(reg.name, reg);
            }
            return replaced;
        },
    };
    const current = new Map(registrations.map((r) => [r.name, r]));

    async function createContainer(reg: Registration): Promise<Created> {
        const name = reg.inputs.name ?? `${reg.name}-${randomBytes(4).toString("hex").slice(0, 7)}`;
        const image = await docker.getImage(reg.inputs.image).inspect();
        const container = await docker.createContainer(containerCreateBody(reg, image.Id, name));
        const entry: Created = {
            kind: "container",
            logicalName: reg.name,
            name,
            id: container.id,
            stopSeconds: reg.inputs.destroyGraceSeconds,
        };
        created.push(entry);
        await container.start();
        if (reg.inputs.wait) await waitHealthy(container, reg.inputs.waitTimeout ?? 60);
        log(`started ${name}${reg.inputs.wait ? " (healthy)" : ""}`);
        return entry;
    }

    try {
        const ordered = [...registrations].sort((a, b) => rank(a) - rank(b) || a.order - b.order);
        for (const reg of ordered) {
            if (!reg.custom || PASSIVE.has(reg.type)) continue;
            switch (reg.type) {
                case NETWORK: {
                    checkFields(`Network ${reg.name}`, reg.inputs, NETWORK_FIELDS);
                    const net = await docker.createNetwork({
                        Name: reg.inputs.name,
                        Driver: reg.inputs.driver,
                        CheckDuplicate: true,
                        Labels: labels(reg.inputs.labels),
                    });
                    created.push({ kind: "network", logicalName: reg.name, name: reg.inputs.name, id: net.id });
                    break;
                }
                case VOLUME: {
                    checkFields(`Volume ${reg.name}`, reg.inputs, VOLUME_FIELDS);
                    await docker.createVolume({
                        Name: reg.inputs.name,
                        Labels: labels(reg.inputs.labels),
                        ...(reg.inputs.driver ? { Driver: reg.inputs.driver, DriverOpts: reg.inputs.driverOpts } : {}),
                    });
                    created.push({ kind: "volume", logicalName: reg.name, name: reg.inputs.name, id: reg.inputs.name });
                    break;
                }
                case IMAGE: {
                    const id = await buildImage(reg, log);
                    created.push({ kind: "image", logicalName: reg.name, name: reg.inputs.imageName, id });
                    break;
                }
                case CONTAINER: {
                    await createContainer(reg);
                    break;
                }
                case COMMAND:
                    await runCommand(reg, log);
                    created.push({
                        kind: "command",
                        logicalName: reg.name,
                        name: reg.name,
                        id: reg.name,
                        command: reg,
                    });
                    break;
                case PROVIDER:
                    checkFields(`Provider ${reg.name}`, reg.inputs, PROVIDER_FIELDS);
                    // The program always names its endpoint (config/docker.ts); only this engine's is mapped.
                    if (reg.inputs.host && reg.inputs.host !== localEngine())
                        throw new UnmappedFieldError(`realize: provider host ${reg.inputs.host} is not mapped`);
                    if (reg.inputs.certPath)
                        throw new UnmappedFieldError(`realize: provider certPath ${reg.inputs.certPath} is not mapped`);
                    break;
                default:
                    throw new UnmappedFieldError(`realize: resource type ${reg.type} (${reg.name}) is not mapped`);
            }
        }
    } catch (err) {
        await teardown(created).catch(() => undefined);
        throw err;
    }
    return realization;
}

/**
 * Pulumi registers a resource only once its dependencies (dependsOn and the resources its inputs
 * come from) are registered, so the order of registration under the mocks is an order Pulumi may
 * create them in; the rank only keeps images ahead of what runs them.
 */
function rank(reg: Registration): number {
    return { [NETWORK]: 1, [VOLUME]: 1, [IMAGE]: 2 }[reg.type] ?? 3;
}

/** A command's last outputs, as @pulumi/command keeps them (trailing newline trimmed). */
export interface CommandOutputs {
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs a local Command's `create` like @pulumi/command does; a non-zero exit fails the deploy. */
export async function runCommand(reg: Registration, log: (l: string) => void): Promise<string> {
    const out = await runCommandOutputs(reg, log);
    return out.combined;
}

/**
 * Runs a local Command's `create` like @pulumi/command's `run` (commandOutputs.go): the process
 * environment plus `environment`, plus the previous stdout/stderr when given (engineRules.ts
 * PREVIOUS_OUTPUT_ENV; the kernel refuses a string over 128 KiB with E2BIG, as it would there).
 */
export async function runCommandOutputs(
    reg: Registration,
    log: (l: string) => void,
    previous?: CommandOutputs,
): Promise<CommandOutputs & { combined: string }> {
    checkFields(`Command ${reg.name}`, reg.inputs, COMMAND_FIELDS);
    const [program, ...args] = (reg.inputs.interpreter as string[] | undefined) ?? ["/bin/sh", "-c"];
    const env = { ...process.env, ...(reg.inputs.environment ?? {}) } as NodeJS.ProcessEnv;
    if (previous?.stdout) env[PREVIOUS_OUTPUT_ENV.stdout] = previous.stdout;
    if (previous?.stderr) env[PREVIOUS_OUTPUT_ENV.stderr] = previous.stderr;
    const { code, stdout, stderr, combined } = await new Promise<{
        code: number;
        stdout: string;
        stderr: string;
        combined: string;
    }>((resolve, reject) => {
        const child = spawn(program, [...args, reg.inputs.create], { env, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        let text = "";
        child.stdout.on("data", (d: Buffer) => ((out += d.toString()), (text += d.toString())));
        child.stderr.on("data", (d: Buffer) => ((err += d.toString()), (text += d.toString())));
        child.on("error", (e) => reject(new Error(`command ${reg.name} could not start: ${e.message}`)));
        child.on("close", (c) => resolve({ code: c ?? -1, stdout: out, stderr: err, combined: text }));
    });
    if (code !== 0) throw new Error(`command ${reg.name} failed (exit ${code}):\n${combined}`);
    log(`ran ${reg.name}: ${combined.trim().split("\n").slice(-1)[0] ?? ""}`);
    return { stdout: stdout.replace(/\n$/, ""), stderr: stderr.replace(/\n$/, ""), combined };
}

/** The engine dockerode talks to, as the program's endpoint names it. */
export function localEngine(): string {
    return process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
}

function labels(list: { label: string; value: string }[] | undefined): Record<string, string> {
    return Object.fromEntries((list ?? []).map((l) => [l.label, l.value]));
}

/** Deletes a container the way the provider does: stop with the grace period, then remove. */
async function removeContainer(c: Created): Promise<void> {
    const container = docker.getContainer(c.id);
    await container.stop({ t: c.stopSeconds ?? 10 }).catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 304 && e.statusCode !== 404) throw e;
    });
    await container.remove({ v: false }).catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 404) throw e;
    });
}

async function teardown(created: Created[], opts: { images?: boolean } = {}): Promise<void> {
    const errors: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
        try {
            await fn();
        } catch (e) {
            const err = e as { statusCode?: number; message: string };
            if (err.statusCode !== 404) errors.push(`${what}: ${err.message}`);
        }
    };
    for (const c of [...created].reverse()) {
        if (c.kind === "container") {
            await attempt(`container ${c.name}`, () => removeContainer(c));
        }
    }
    for (const c of [...created].reverse()) {
        if (c.kind === "command" && c.command?.inputs.delete) {
            const del = { ...c.command, inputs: { ...c.command.inputs, create: c.command.inputs.delete } };
            await attempt(`command ${c.name} delete`, () => runCommand(del, () => undefined));
        }
    }
    for (const c of created)
        if (c.kind === "network") await attempt(`network ${c.name}`, () => docker.getNetwork(c.id).remove());
    for (const c of created)
        if (c.kind === "volume") await attempt(`volume ${c.name}`, () => docker.getVolume(c.name).remove());
    if (opts.images) {
        for (const c of [...created].reverse())
            if (c.kind === "image") await attempt(`image ${c.name}`, () => docker.getImage(c.name).remove());
    }
    created.length = 0;
    if (errors.length) throw new Error(`teardown left objects behind:\n${errors.join("\n")}`);
}
