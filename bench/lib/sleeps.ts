/**
 * Time the app's processes spend asleep in SQLite's busy handler. Python's sqlite3 sets a 5 s busy
 * timeout (the real app's and the demo's connections both keep it), and SQLite's default busy handler
 * then sleeps 1, 2, 5, 10, 15, 20, 25, ... ms between tries (sqliteDefaultBusyCallback, built with
 * usleep) while another connection holds the write lock. Nothing else in the app's processes sleeps
 * with clock_nanosleep while it serves (gunicorn and waitress wait in poll/select, the analytics
 * writer on a queue's lock), so the clock_nanosleep calls of the app container during a run are the
 * writers' contention on the one database file. Counted with `perf trace -s` on the container's
 * processes: syscall tracepoints, no ptrace stop for other calls.
 */
import { ChildProcess, spawn } from "child_process";
import type Docker from "dockerode";
import { sleep } from "./util";

export interface SleepFigures {
    /** clock_nanosleep / nanosleep calls in the app container's processes. */
    readonly calls: number;
    /** Milliseconds they slept, summed over threads. */
    readonly ms: number;
}

/** Sums the sleep rows of every per-thread table in `perf trace -s` output. */
export function parsePerfSummary(text: string): SleepFigures {
    let calls = 0;
    let ms = 0;
    for (const line of text.split("\n")) {
        // "   clock_nanosleep       21      0    44.580     0.000     2.123     3.204      5.96%"
        const m = /^\s*(clock_nanosleep|nanosleep)\s+(\d+)\s+\d+\s+([\d.]+)\s/.exec(line);
        if (!m) continue;
        calls += Number(m[2]);
        ms += Number(m[3]);
    }
    return { calls, ms: Math.round(ms * 1000) / 1000 };
}

/** The host pids of a container's processes. */
async function hostPids(container: Docker.Container): Promise<number[]> {
    const top = (await container.top({ ps_args: "-eo pid" })) as { Processes?: string[][] };
    return (top.Processes ?? []).map((p) => Number(p[0])).filter((pid) => Number.isInteger(pid) && pid > 0);
}

export interface SleepTrace {
    stop(): Promise<SleepFigures>;
}

/**
 * Starts counting the sleeps of every process the container has now (their later threads are
 * followed too). Needs `perf` (linux-perf) and the syscall tracepoints, i.e. root on the host.
 */
export async function traceSleeps(container: Docker.Container): Promise<SleepTrace> {
    const pids = await hostPids(container);
    if (pids.length === 0) throw new Error("traceSleeps: the container has no processes");
    const args = ["trace", "-s", "-e", "clock_nanosleep,nanosleep", "-p", pids.join(",")];
    const perf: ChildProcess = spawn("perf", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    perf.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    perf.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve, reject) => {
        perf.on("error", (e) =>
            reject(new Error(`traceSleeps: perf could not start (${e.message}); install linux-perf and run as root`)),
        );
        perf.on("exit", (code) => resolve(code));
    });
    // perf attaches within a moment; a run that starts earlier loses its first sleeps only.
    await Promise.race([sleep(500), exited]);
    if (perf.exitCode !== null) throw new Error(`traceSleeps: perf exited at once: ${out.trim()}`);
    return {
        async stop() {
            perf.kill("SIGINT");
            const timer = setTimeout(() => perf.kill("SIGKILL"), 10000);
            await exited;
            clearTimeout(timer);
            if (!/Summary of events/.test(out) && /error|denied|invalid/i.test(out)) {
                throw new Error(`traceSleeps: perf trace failed: ${out.trim().slice(0, 500)}`);
            }
            return parsePerfSummary(out);
        },
    };
}
