/**
 * Docker objects of the benchmark: what it creates is registered for cleanup (also on failure and
 * Ctrl-C), and leftovers of an interrupted earlier run are swept first. Only names the benchmark
 * owns are ever touched: containers/images `lmbench-*`, stacks `bench-*` (`lernmanager-bench-*`).
 * `LM_BENCH_NS=<name>` puts everything under `<name>-` (`<name>-lmbench-*`, stacks `<name>-bench-*`),
 * so two developers' runs on one engine leave each other's objects alone.
 */
import Docker from "dockerode";
import * as fs from "fs";
import { docker } from "../../test/support/realize";
import { containerLogs } from "../../test/support/stack";
import { log } from "./util";

export { docker };

/** Label on every container the benchmark creates itself (not through the program). */
export const BENCH_LABEL = "dev.lernmanager.bench";
/** Namespace of this run's objects (`LM_BENCH_NS`), "" by default. */
export const BENCH_NS = process.env.LM_BENCH_NS ? `${process.env.LM_BENCH_NS}-` : "";
/** Prefix of the containers and images the benchmark creates itself. */
export const OBJECT_PREFIX = `${BENCH_NS}lmbench-`;
/** Prefix of the benchmark's stacks (their objects are `lernmanager-<stack>-*`). */
export const STACK_PREFIX = `${BENCH_NS}bench-`;
/** Prefixes of everything the benchmark creates. */
export const OWN_PREFIXES = [OBJECT_PREFIX, `lernmanager-${STACK_PREFIX}`] as const;

const owned = (name: string) => OWN_PREFIXES.some((p) => name.replace(/^\//, "").startsWith(p));

type Step = { what: string; fn: () => Promise<unknown> };
const steps: Step[] = [];

/** Registers an undo step; steps run last-in first-out by `cleanupAll`. Returns a one-shot runner. */
export function onCleanup(what: string, fn: () => Promise<unknown>): () => Promise<void> {
    const step: Step = { what, fn };
    steps.push(step);
    return async () => {
        const i = steps.indexOf(step);
        if (i < 0) return;
        steps.splice(i, 1);
        await step.fn();
    };
}

/** Runs every registered undo step; reports failures and returns how many failed. */
export async function cleanupAll(): Promise<number> {
    let failed = 0;
    while (steps.length) {
        const step = steps.pop()!;
        try {
            await step.fn();
        } catch (e) {
            failed++;
            log(`cleanup of ${step.what} failed: ${(e as Error).message}`);
        }
    }
    return failed;
}

/** Removes a container and its anonymous volumes; a missing one is fine. */
export async function removeContainer(idOrName: string): Promise<void> {
    try {
        await docker.getContainer(idOrName).remove({ force: true, v: true });
    } catch (e) {
        if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
}

export async function removeImage(name: string): Promise<void> {
    try {
        await docker.getImage(name).remove({ noprune: false });
    } catch (e) {
        const code = (e as { statusCode?: number }).statusCode;
        if (code !== 404) throw e;
    }
}

/** Removes what an interrupted earlier benchmark run left behind (only the benchmark's own names). */
export async function sweepLeftovers(): Promise<void> {
    const containers = await docker.listContainers({ all: true });
    for (const c of containers) {
        if (c.Names.some(owned) || (!BENCH_NS && c.Labels?.[BENCH_LABEL])) {
            log(`removing leftover container ${c.Names[0]}`);
            await removeContainer(c.Id);
        }
    }
    for (const n of await docker.listNetworks()) {
        if (owned(n.Name)) {
            log(`removing leftover network ${n.Name}`);
            await docker.getNetwork(n.Id).remove();
        }
    }
    const { Volumes } = await docker.listVolumes();
    for (const v of Volumes ?? []) {
        if (owned(v.Name)) {
            log(`removing leftover volume ${v.Name}`);
            await docker.getVolume(v.Name).remove();
        }
    }
    for (const image of await docker.listImages()) {
        for (const tag of image.RepoTags ?? []) {
            if (owned(tag)) await removeImage(tag).catch((e: Error) => log(`leftover image ${tag}: ${e.message}`));
        }
    }
}

/** Names of running containers of other stacks (the lead's e2e tests share this machine). */
export async function foreignContainers(): Promise<string[]> {
    const list = await docker.listContainers();
    return list.map((c) => c.Names[0].replace(/^\//, "")).filter((n) => !owned(n));
}

/** Memory in MiB the way `docker stats --no-stream` reports it (usage minus inactive page cache). */
export async function memoryMiB(container: Docker.Container): Promise<number> {
    const s = (await container.stats({ stream: false, "one-shot": true })) as any;
    const usage: number = s.memory_stats?.usage ?? 0;
    const st = s.memory_stats?.stats ?? {};
    let used = usage;
    if (st.total_inactive_file !== undefined && st.total_inactive_file < usage) used = usage - st.total_inactive_file;
    else if (st.inactive_file !== undefined && st.inactive_file < usage) used = usage - st.inactive_file;
    return used / (1024 * 1024);
}

/**
 * Runs a command in a throwaway container of `image` (no network, removed afterwards) and returns
 * its exit code and output (stdout and stderr together).
 */
export async function runOnce(
    image: string,
    cmd: string[],
    user?: string,
    binds?: string[],
): Promise<{ code: number; output: string }> {
    const name = `${OBJECT_PREFIX}once-${Math.random().toString(16).slice(2, 10)}`;
    const container = await docker.createContainer({
        name,
        Image: image,
        Entrypoint: cmd,
        User: user,
        Labels: { [BENCH_LABEL]: "once" },
        HostConfig: { NetworkMode: "none", Binds: binds },
    });
    const undo = onCleanup(`container ${name}`, () => removeContainer(container.id));
    try {
        await container.start();
        const result = (await container.wait()) as { StatusCode: number };
        const output = await containerLogs(container);
        return { code: result.StatusCode, output };
    } finally {
        await undo();
    }
}

const cgroupFiles = new Map<string, string | null>();

/** The file with a container's CPU time: cgroup v1 cpuacct.usage (ns) or v2 cpu.stat (usage_usec). */
async function cpuFile(container: Docker.Container): Promise<string | null> {
    if (cgroupFiles.has(container.id)) return cgroupFiles.get(container.id)!;
    let file: string | null = null;
    try {
        const pid = (await container.inspect()).State.Pid;
        const lines = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
        const v1 = lines.find((l) => /^\d+:[^:]*\bcpuacct\b[^:]*:/.test(l));
        const v2 = lines.find((l) => l.startsWith("0::"));
        if (v1) {
            const [, controllers, rel] = v1.split(":");
            const candidate = `/sys/fs/cgroup/${controllers}${rel}/cpuacct.usage`;
            const alt = `/sys/fs/cgroup/cpuacct${rel}/cpuacct.usage`;
            file = fs.existsSync(candidate) ? candidate : fs.existsSync(alt) ? alt : null;
        } else if (v2) {
            const candidate = `/sys/fs/cgroup${v2.slice(3)}/cpu.stat`;
            file = fs.existsSync(candidate) ? candidate : null;
        }
    } catch {
        file = null;
    }
    cgroupFiles.set(container.id, file);
    return file;
}

/**
 * CPU nanoseconds a container has used so far: read from its cgroup (instant), or from the stats
 * API where the cgroup is not visible (that call can wait up to a second for Docker's collector).
 */
export async function cpuNanos(container: Docker.Container): Promise<number> {
    const file = await cpuFile(container);
    if (file) {
        try {
            const text = fs.readFileSync(file, "utf8");
            if (file.endsWith("cpuacct.usage")) return Number(text.trim());
            return Number(/usage_usec (\d+)/.exec(text)?.[1] ?? 0) * 1000;
        } catch {
            // The container restarted (its cgroup was re-created): look it up again next time.
            cgroupFiles.delete(container.id);
        }
    }
    const s = (await container.stats({ stream: false, "one-shot": true })) as any;
    return Number(s.cpu_stats?.cpu_usage?.total_usage ?? 0);
}

/**
 * A tune that names a base image (config lernmanager:nginxImage) needs it on this engine: there is
 * no registry to pull from, and a build would fail far from the cause.
 */
export async function requireTuneImages(config: Readonly<Record<string, string>> | undefined): Promise<void> {
    const image = config?.["lernmanager:nginxImage"];
    if (!image) return;
    try {
        await docker.getImage(image).inspect();
    } catch {
        throw new Error(
            `the tune's lernmanager:nginxImage ${image} is not on this Docker engine: build it with ` +
                "`bash scripts/test-env.sh bench-images` (no registry is reachable)",
        );
    }
}
