/**
 * Who used the CPU during a run. The machine is shared (another developer's e2e tests build images
 * and start stacks at the same time), so every measured run records how many cores went to work
 * that is not the benchmark's: the host's busy time (/proc/stat) minus the variant's containers,
 * wrk, Docker's own daemons and port proxies, this process, and the kernel's interrupt and softirq
 * time (network processing of the benchmark's own traffic through loopback, veth and the bridge:
 * about 0.3 cores at 10,000 static requests per second, which no process is charged for). A run with too much of it is
 * repeated (bench/lib/measure.ts), and the figure is kept with every sample.
 */
import * as fs from "fs";
import * as os from "os";

const TICK = 100; // USER_HZ on Linux
/** Processes that belong to the load path of any container, or to the benchmark itself. */
const OURS = new Set(["wrk", "docker-proxy", "dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2"]);

export interface CpuSnapshot {
    readonly at: bigint;
    /** Busy jiffies of the whole host. */
    readonly hostBusy: number;
    /** Interrupt and softirq jiffies of the whole host (part of hostBusy). */
    readonly hostIrq: number;
    /** Jiffies so far of each process on the load path (wrk, Docker daemons and proxies) and this one. */
    readonly infra: Map<number, number>;
}

function hostTimes(): { busy: number; irq: number } {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n", 1)[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return { busy: f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0), irq: f[5] + f[6] };
}

function infraJiffies(): Map<number, number> {
    const out = new Map<number, number>();
    for (const pid of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(pid)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            const close = stat.lastIndexOf(")");
            const comm = stat.slice(stat.indexOf("(") + 1, close);
            if (!OURS.has(comm) && Number(pid) !== process.pid) continue;
            const rest = stat.slice(close + 2).split(" ");
            out.set(Number(pid), Number(rest[11]) + Number(rest[12])); // utime, stime
        } catch {
            // the process ended meanwhile
        }
    }
    return out;
}

/** CPU jiffies the load path used between two snapshots (a process that ended meanwhile is lost). */
function infraDelta(before: Map<number, number>, after: Map<number, number>): number {
    let sum = 0;
    for (const [pid, jiffies] of after) sum += Math.max(0, jiffies - (before.get(pid) ?? 0));
    return sum;
}

export function cpuSnapshot(): CpuSnapshot {
    const host = hostTimes();
    return { at: process.hrtime.bigint(), hostBusy: host.busy, hostIrq: host.irq, infra: infraJiffies() };
}

export interface CpuShare {
    /** Cores busy on the host on average. */
    readonly hostCores: number;
    /** Cores used by the variant's containers. */
    readonly variantCores: number;
    /** Cores used by wrk, Docker's daemons/proxies, the benchmark process and the kernel's irq/softirq. */
    readonly loadPathCores: number;
    /** Cores used by everything else: other people's work on this machine. */
    readonly foreignCores: number;
}

/** Splits the CPU time between two snapshots; `variantNanos` is the containers' cgroup CPU time. */
export function cpuShare(before: CpuSnapshot, after: CpuSnapshot, variantNanos: number): CpuShare {
    const seconds = Number(after.at - before.at) / 1e9;
    const host = (after.hostBusy - before.hostBusy) / TICK / seconds;
    const variant = variantNanos / 1e9 / seconds;
    const infra = (infraDelta(before.infra, after.infra) + (after.hostIrq - before.hostIrq)) / TICK / seconds;
    const r = (x: number) => Math.round(x * 100) / 100;
    return {
        hostCores: r(host),
        variantCores: r(variant),
        loadPathCores: r(infra),
        foreignCores: r(Math.max(0, host - variant - infra)),
    };
}

export const CORES = os.cpus().length;
