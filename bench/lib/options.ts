/** What one benchmark run does: the full run (results committed) or the quick CI smoke run. */

export const VARIANTS = ["flask-dev", "waitress", "gunicorn", "stack", "stack-https"] as const;
export type VariantName = (typeof VARIANTS)[number];

export const WORKLOADS = ["login", "dashboard", "topic", "write", "css", "js", "pdf", "pdf-cached"] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface BenchOptions {
    readonly quick: boolean;
    readonly variants: readonly VariantName[];
    readonly workloads: readonly WorkloadName[];
    /** wrk connection counts: 32 (a class) and 4. */
    readonly connections: readonly number[];
    readonly repetitions: number;
    /** Seconds of one measured wrk run, per workload (slow PDFs need longer to give stable figures). */
    readonly durationSeconds: (workload: WorkloadName) => number;
    /** Seconds of the unrecorded wrk run before the measured ones of a workload (0: none). */
    readonly warmupSeconds: number;
    /** Cold starts per image (bytecode / no bytecode), alternating. */
    readonly coldStartRepetitions: number;
    /** Where results go: bench/results/<stamp>.json, quick-<stamp>.json or tune-<stamp>.json. */
    readonly resultsPrefix: string;
    /** JSON file of a tuning experiment (bench/lib/tunes.ts `Tune`), or undefined. */
    readonly tuneFile?: string;
}

const USAGE = `usage: ts-node bench/run.ts [--quick] [--variants a,b] [--workloads a,b] [--tune file.json]
  --quick       CI smoke run (about 1.5 minutes): one 1-s run per variant and workload at 32 connections,
                fails (exit 1) when any request errored; results go to bench/results/quick-*.json
  --variants    subset of ${VARIANTS.join(",")}
  --workloads   subset of ${WORKLOADS.join(",")}
  --tune        a tuning experiment (bench/tunes/*.json): typed options of the nginx.conf / gunicorn.conf.py
                renderers and Pulumi config ({"description": "...", "nginx": {"gzipLevel": 5},
                "gunicorn": {"preloadApp": false}, "config": {"lernmanager:workers": "3"}}, bench/lib/tunes.ts);
                results go to bench/results/tune-*.json`;

function subset<T extends string>(flag: string, value: string | undefined, all: readonly T[]): T[] {
    if (!value) throw new Error(`${flag} needs a value\n${USAGE}`);
    const picked = value.split(",").map((v) => v.trim());
    for (const p of picked) {
        if (!(all as readonly string[]).includes(p)) throw new Error(`${flag}: unknown ${p}\n${USAGE}`);
    }
    return all.filter((a) => picked.includes(a));
}

export function parseOptions(argv: string[]): BenchOptions {
    let quick = false;
    let variants: readonly VariantName[] = VARIANTS;
    let workloads: readonly WorkloadName[] = WORKLOADS;
    let tuneFile: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--quick") quick = true;
        else if (a === "--variants") variants = subset(a, argv[++i], VARIANTS);
        else if (a === "--workloads") workloads = subset(a, argv[++i], WORKLOADS);
        else if (a === "--tune") {
            tuneFile = argv[++i];
            if (!tuneFile) throw new Error(`--tune needs a file\n${USAGE}`);
        } else if (a === "--help" || a === "-h") {
            process.stdout.write(`${USAGE}\n`);
            process.exit(0);
        } else throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
    if (quick) {
        return {
            quick,
            variants,
            workloads,
            connections: [32],
            repetitions: 1,
            durationSeconds: (w) => (w === "pdf" ? 2 : 1),
            // No warm-up: the preflight request already exercises each workload once.
            warmupSeconds: 0,
            coldStartRepetitions: 1,
            resultsPrefix: tuneFile ? "quick-tune-" : "quick-",
            tuneFile,
        };
    }
    return {
        quick,
        variants,
        workloads,
        connections: [32, 4],
        repetitions: 3,
        durationSeconds: (w) => (w === "pdf" ? 10 : 5),
        warmupSeconds: 2,
        coldStartRepetitions: 5,
        resultsPrefix: tuneFile ? "tune-" : "",
        tuneFile,
    };
}
