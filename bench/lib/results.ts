/** The shape of bench/results/<date>.json, and writing it. */
import * as fs from "fs";
import * as path from "path";
import { CpuShare } from "./cpu";
import { VariantName, WorkloadName } from "./options";
import { WrkErrors } from "./wrk";

export const RESULTS_DIR = path.join(__dirname, "..", "results");

/** One measured wrk run. */
export interface Sample {
    readonly repetition: number;
    readonly rps: number;
    readonly p50_ms: number;
    readonly p90_ms: number;
    readonly p99_ms: number;
    readonly requests: number;
    readonly seconds: number;
    readonly bytesPerResponse: number;
    readonly errors: WrkErrors;
    /** Containers of other stacks running when this run started (the lead's e2e tests). */
    readonly foreignContainers: number;
    /** 1-minute load average of the host when this run started. */
    readonly loadavg1: number;
    /**
     * CPU milliseconds per request, per container role (app, nginx), from the containers' cgroup
     * counters around the run (includes requests wrk abandoned at the end, so slightly high).
     */
    readonly cpuMsPerRequest: Record<string, number>;
    /** Where the CPU went during the run (bench/lib/cpu.ts). */
    readonly cpu: CpuShare;
    /** Other work used more than FOREIGN_LIMIT cores: the run was repeated and is left out of medians. */
    readonly disturbed: boolean;
    /** A container of the variant restarted (crashed) during the run: counted as one error. */
    readonly restarted: boolean;
    /**
     * Analytics events the app stored for this run (its count once settled, minus the count before),
     * for the dynamic workloads; null where the app is not asked (static files, PDFs). Every request
     * recorded: `requests` plus one per connection (what wrk left in flight when it stopped).
     */
    readonly eventsRecorded: number | null;
}

/**
 * Median over the repetitions of one variant x workload x connections (undisturbed runs only, when
 * there are any); errors are summed over every run, disturbed or not.
 */
export interface RunSummary {
    readonly variant: VariantName;
    readonly workload: WorkloadName;
    readonly connections: number;
    readonly rps: number;
    readonly p50_ms: number;
    readonly p99_ms: number;
    /** Non-2xx/3xx answers and socket errors (connect, read, write, timeout), all repetitions. */
    readonly errors: number;
    /** Runs during which a container of the variant restarted (logged loudly; a quick run does not fail on it). */
    readonly restarts: number;
    readonly wrkThreads: number;
    readonly undisturbedSamples: number;
    /** CPU milliseconds per request of all the variant's containers together (median of the runs used). */
    readonly cpuMsPerRequest: number;
    /**
     * Analytics events the app stored, against the requests wrk had answered (`answered`: each one
     * must have its event) and at most sent (`sent`: those plus the one in flight on each connection
     * when wrk stopped, which may or may not have reached the app), summed over every run; null: not
     * counted. Files before 2026-12-07 have no `answered`.
     */
    readonly events: { readonly sent: number; readonly answered?: number; readonly recorded: number } | null;
    readonly samples: Sample[];
}

export interface MemoryFigures {
    /** MiB per container role right after start and logins, before load. */
    readonly idle: Record<string, number>;
    /** MiB per container role sampled mid-run, per workload (first repetition, most connections). */
    readonly underLoad: Partial<Record<WorkloadName, Record<string, number>>>;
    /** Largest sum over the variant's containers seen under load. */
    readonly peakTotalMiB: number;
}

export interface GzipFigure {
    readonly type: string;
    readonly path: string;
    readonly plainBytes: number;
    readonly gzipBytes: number;
    /** gzip / plain body bytes. */
    readonly ratio: number;
    /** nginx answered with Content-Encoding: gzip. */
    readonly compressed: boolean;
    /** Part of the "HTML/CSS/JS transfer <= 30 %" target. */
    readonly inTarget: boolean;
}

export interface ColdStartFigures {
    readonly bytecode: { seconds: number[]; median: number };
    readonly noBytecode: { seconds: number[]; median: number };
    /** bytecode median / no-bytecode median. */
    readonly ratio: number;
    /** The image without bytecode (removed after the measurement). */
    readonly noBytecodeImage: { name: string; mb: number };
    /** *.opt-2.pyc files in each image. */
    readonly bytecodeFiles: { bytecode: number; noBytecode: number };
    readonly method: string;
}

/** MB (10^6 bytes) as `docker images` shows them, by role. */
export type ImageSizes = Record<string, { name: string; mb: number }>;

export interface RebuildFigures {
    /** Seconds to build runtime + app + nginx after a one-line change to app.py (cache warm). */
    readonly codeChangeSeconds: number;
    readonly codeChangePerImage: Record<string, number>;
    /** Seconds to build all three with --no-cache, or null when skipped (quick runs). */
    readonly cleanSeconds: number | null;
    readonly cleanPerImage: Record<string, number> | null;
    readonly method: string;
}

export interface Target {
    readonly name: string;
    readonly goal: string;
    readonly value: string;
    readonly met: boolean;
}

export interface BenchResults {
    readonly schema: 1;
    readonly date: string;
    readonly quick: boolean;
    readonly machine: Record<string, unknown>;
    readonly settings: Record<string, unknown>;
    readonly runs: RunSummary[];
    readonly gzip: GzipFigure[] | null;
    readonly coldStart: ColdStartFigures | null;
    readonly memory: Partial<Record<VariantName, MemoryFigures>>;
    readonly imageSize: ImageSizes;
    readonly rebuild: RebuildFigures | null;
    readonly buildSeconds: number;
    readonly diagnostics: Record<string, unknown>;
    readonly targets: Target[];
    readonly totalErrors: number;
    readonly wallSeconds: number;
}

/** `2025-01-31T10-20-30Z`: the run's ISO date, made safe for file names. */
export function stamp(date: Date): string {
    return date
        .toISOString()
        .replace(/\.\d+Z$/, "Z")
        .replace(/:/g, "-");
}

export function writeResults(results: BenchResults, prefix: string): string {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, `${prefix}${stamp(new Date(results.date))}.json`);
    fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    return file;
}
