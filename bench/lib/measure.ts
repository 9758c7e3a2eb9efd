/**
 * Drives one running variant through the workloads: preflight, warm-up, then the measured wrk runs.
 * - Repetitions are the outer loop (rep 1 of every workload, then rep 2, ...), so a burst of other
 *   work on the machine spoils at most one repetition of a workload, and the median drops it.
 * - A run during which other work used more than FOREIGN_LIMIT cores is kept (marked `disturbed`)
 *   but repeated, at most MAX_RETRIES times; medians use the undisturbed runs when there are any.
 * - After every run the variant must be idle again (requests wrk abandoned at the end of a run are
 *   still being computed, e.g. PDFs), so no run pays for the previous one.
 */
import * as os from "os";
import { cpuShare, cpuSnapshot } from "./cpu";
import { cpuNanos, foreignContainers, memoryMiB } from "./docker";
import { BenchOptions, WorkloadName } from "./options";
import { MemoryFigures, RunSummary, Sample } from "./results";
import { RunningVariant } from "./variants";
import { BROWSER_HEADERS, WORKLOAD_DEFS, WRITE_EVERY } from "./workloads";
import { runWrk, threadsFor, WrkJob } from "./wrk";
import { log, median, round, sleep } from "./util";
import { request } from "../../test/support/http";

/** Cores of other people's work above which a run is repeated. */
export const FOREIGN_LIMIT = 0.25;
export const MAX_RETRIES = 1;
/** Pause before a repeated run (times the attempt), and the most all pauses of a benchmark may take. */
const RETRY_PAUSE_MS = 3000;
const retryBudget = { left: 4 * 60 * 1000 };

export interface VariantMeasurement {
    readonly runs: RunSummary[];
    readonly memory: MemoryFigures;
    /** Errors in unrecorded warm-up runs (also a failure for --quick). */
    readonly warmupErrors: number;
}

async function memoryOf(v: RunningVariant): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    let total = 0;
    for (const { role, container } of v.containers) {
        const mib = await memoryMiB(container);
        out[role] = round(mib, 1);
        total += mib;
    }
    out.total = round(total, 1);
    return out;
}

/** CPU nanoseconds used so far per container role. */
async function cpuOf(v: RunningVariant): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const { role, container } of v.containers) out[role] = await cpuNanos(container);
    return out;
}

/** Start times and restart counts of the variant's containers (a crash during a run changes them). */
async function startsOf(v: RunningVariant): Promise<string> {
    const states = await Promise.all(v.containers.map((c) => c.container.inspect()));
    return states.map((s) => `${s.State.StartedAt}/${s.RestartCount}`).join(",");
}

/** Waits (at most 90 s) until the variant's containers use less than a quarter of a core. */
export async function waitIdle(v: RunningVariant): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < 90000) {
        const before = await Promise.all(v.containers.map((c) => cpuNanos(c.container)));
        await sleep(300);
        const after = await Promise.all(v.containers.map((c) => cpuNanos(c.container)));
        const busy = after.reduce((sum, a, i) => sum + (a - before[i]), 0) / 0.3e9;
        if (busy < 0.25) return (Date.now() - started) / 1000;
    }
    log(`${v.name}: still busy after 90 s; going on`);
    return 90;
}

/** The demo app's stored analytics events (GET /api/analytics/count, a request the app does not count). */
async function eventCount(port: number): Promise<number> {
    const res = await request(port, "/api/analytics/count", { timeoutMs: 30000 });
    if (res.status !== 200) throw new Error(`GET /api/analytics/count: ${res.status}`);
    return Number(res.json().count);
}

/**
 * The count once every writer has stored what it took: unchanged over 0.6 s (a writer waits at most
 * 0.5 s for its queue and then writes at once), at most 30 s.
 */
export async function settledEventCount(port: number): Promise<number> {
    let last = await eventCount(port);
    for (let i = 0; i < 50; i++) {
        await sleep(600);
        const now = await eventCount(port);
        if (now === last) return now;
        last = now;
    }
    throw new Error(`the analytics count on port ${port} did not settle within 30 s`);
}

/** CPU ms per request of all containers of a variant in one run. */
export const totalCpuMs = (s: Sample): number => Object.values(s.cpuMsPerRequest).reduce((a, b) => a + b, 0);

/**
 * One measured wrk run with its CPU accounting (and a memory sample mid-run when asked). With
 * `countEvents`, the app's analytics count is read (settled) before and after it; the caller has
 * waited for the variant to be idle first.
 */
export async function measureOnce(
    v: RunningVariant,
    job: WrkJob,
    repetition: number,
    withMemory: boolean,
    countEvents = false,
): Promise<{ sample: Sample; memory?: Record<string, number> }> {
    const eventsBefore = countEvents ? await settledEventCount(v.port) : 0;
    const foreign = (await foreignContainers()).length;
    const loadavg1 = round(os.loadavg()[0], 2);
    const mem = withMemory ? sleep(job.seconds * 500).then(() => memoryOf(v)) : undefined;
    const startsBefore = await startsOf(v);
    const cpuBefore = await cpuOf(v);
    const snapBefore = cpuSnapshot();
    const r = await runWrk(job);
    const snapAfter = cpuSnapshot();
    const cpuAfter = await cpuOf(v);
    const restarted = (await startsOf(v)) !== startsBefore;
    if (restarted) log(`${v.name}: a container of the variant RESTARTED during this run`);
    const roles = Object.keys(cpuAfter);
    const variantNanos = roles.reduce((sum, role) => sum + cpuAfter[role] - cpuBefore[role], 0);
    const cpu = cpuShare(snapBefore, snapAfter, variantNanos);
    // The writers store the run's last events after wrk stops, and the requests wrk left in flight
    // (one per connection) are still being answered: waiting for idle first keeps them in this run.
    let eventsRecorded: number | null = null;
    if (countEvents) {
        await waitIdle(v);
        eventsRecorded = (await settledEventCount(v.port)) - eventsBefore;
    }
    const sample: Sample = {
        repetition,
        rps: round(r.rps, 1),
        p50_ms: round(r.p50_ms, 2),
        p90_ms: round(r.p90_ms, 2),
        p99_ms: round(r.p99_ms, 2),
        requests: r.requests,
        seconds: round(r.seconds, 2),
        bytesPerResponse: Math.round(r.bytesPerResponse),
        errors: r.errors,
        foreignContainers: foreign,
        loadavg1,
        cpu,
        disturbed: cpu.foreignCores > FOREIGN_LIMIT,
        restarted,
        cpuMsPerRequest: Object.fromEntries(
            roles.map((role) => [
                role,
                r.requests ? round((cpuAfter[role] - cpuBefore[role]) / 1e6 / r.requests, 3) : 0,
            ]),
        ),
        eventsRecorded,
    };
    return { sample, memory: mem ? await mem : undefined };
}

export function describe(v: RunningVariant, name: string, connections: number, s: Sample): string {
    const cpuReq = Object.entries(s.cpuMsPerRequest)
        .map(([k, ms]) => `${k} ${ms.toFixed(2)}`)
        .join(" ");
    return (
        `${v.name.padEnd(9)} ${name.padEnd(10)} c=${String(connections).padStart(2)} rep ${s.repetition}: ` +
        `${s.rps.toFixed(1).padStart(8)} req/s  p50 ${s.p50_ms.toFixed(1)} ms  p99 ${s.p99_ms.toFixed(1)} ms` +
        `  cpu ms/req ${cpuReq}  cores: variant ${s.cpu.variantCores} load path ${s.cpu.loadPathCores}` +
        ` foreign ${s.cpu.foreignCores}${s.disturbed ? " (DISTURBED)" : ""}` +
        `${s.eventsRecorded === null ? "" : `  events ${s.eventsRecorded} of ${s.requests}`}` +
        `${s.errors.total ? `  ERRORS ${JSON.stringify(s.errors)}` : ""}`
    );
}

export async function measureVariant(
    v: RunningVariant,
    cookies: string[],
    opts: BenchOptions,
): Promise<VariantMeasurement> {
    const idle = await memoryOf(v);
    const underLoad: MemoryFigures["underLoad"] = {};
    let peak = idle.total;
    let warmupErrors = 0;
    const samples = new Map<string, Sample[]>();
    const most = Math.max(...opts.connections);

    for (let rep = 1; rep <= opts.repetitions; rep++) {
        for (const name of opts.workloads) {
            const w = WORKLOAD_DEFS[name];
            if (rep === 1) await w.preflight(v.port, cookies[0]);
            const base = {
                port: v.port,
                path: w.path,
                mode: w.mode,
                cookies,
                headers: BROWSER_HEADERS,
                writeEvery: WRITE_EVERY,
            };
            if (opts.warmupSeconds > 0) {
                const seconds = rep === 1 ? opts.warmupSeconds : 1;
                const warm = await runWrk({ ...base, connections: most, seconds });
                if (warm.errors.total) log(`${v.name} ${name} warm-up: ${JSON.stringify(warm.errors)}`);
                warmupErrors += warm.errors.total;
                await waitIdle(v);
            }
            for (const connections of opts.connections) {
                const key = `${name}|${connections}`;
                const list = samples.get(key) ?? [];
                samples.set(key, list);
                const job = { ...base, connections, seconds: opts.durationSeconds(name) };
                const retries = opts.quick ? 0 : MAX_RETRIES;
                const countEvents = w.kind === "dynamic";
                for (let attempt = 0; attempt <= retries; attempt++) {
                    const withMemory = rep === 1 && connections === most && attempt === 0;
                    const { sample, memory } = await measureOnce(v, job, rep, withMemory, countEvents);
                    if (memory) {
                        underLoad[name] = memory;
                        peak = Math.max(peak, memory.total);
                    }
                    list.push(sample);
                    log(describe(v, name, connections, sample));
                    await waitIdle(v);
                    if (!sample.disturbed || attempt === retries) break;
                    // Give the other work a moment to end, within a budget for the whole run.
                    const pause = Math.min(RETRY_PAUSE_MS * (attempt + 1), retryBudget.left);
                    retryBudget.left -= pause;
                    if (pause > 0) await sleep(pause);
                }
            }
        }
    }

    const runs: RunSummary[] = [];
    for (const name of opts.workloads) {
        for (const connections of opts.connections) {
            const all = samples.get(`${name}|${connections}`) ?? [];
            const clean = all.filter((s) => !s.disturbed);
            const used = clean.length ? clean : all;
            const counted = all.filter((s) => s.eventsRecorded !== null);
            runs.push({
                variant: v.name,
                workload: name as WorkloadName,
                connections,
                rps: round(median(used.map((s) => s.rps)), 1),
                p50_ms: round(median(used.map((s) => s.p50_ms)), 2),
                p99_ms: round(median(used.map((s) => s.p99_ms)), 2),
                errors: all.reduce((sum, s) => sum + s.errors.total, 0),
                restarts: all.filter((s) => s.restarted).length,
                wrkThreads: threadsFor({ mode: WORKLOAD_DEFS[name].mode, connections }),
                undisturbedSamples: clean.length,
                cpuMsPerRequest: round(median(used.map(totalCpuMs)), 3),
                events: counted.length
                    ? {
                          // wrk stops with up to one request in flight on each connection: it may
                          // or may not have reached the app before wrk closed the connection.
                          sent: counted.reduce((sum, s) => sum + s.requests + connections, 0),
                          answered: counted.reduce((sum, s) => sum + s.requests, 0),
                          recorded: counted.reduce((sum, s) => sum + (s.eventsRecorded ?? 0), 0),
                      }
                    : null,
                samples: all,
            });
        }
    }
    return { runs, memory: { idle, underLoad, peakTotalMiB: round(peak, 1) }, warmupErrors };
}
