/**
 * `npm run bench` (ts-node bench/run.ts): builds the declared images, then drives each variant
 * (flask-dev, waitress, gunicorn, stack) with wrk, measures gzip transfer sizes, cold start, memory,
 * image sizes and rebuild times, and writes bench/results/<date>.json, latest.md and latest.svg.
 * `--quick` is the CI smoke run: short runs, results in quick-*.json, exit 1 on any error.
 * See bench/README.md.
 */
import * as fs from "fs";
import { TEST_IMAGES } from "../test/support/baseImages";
import * as path from "path";
import { measureColdStart } from "./lib/coldStart";
import { FOREIGN_LIMIT } from "./lib/measure";
import { buildDeclared, declare, setTune } from "./lib/declare";
import { stackLogSummary } from "./lib/diagnostics";
import { loadTune, Tune } from "./lib/tunes";
import { cleanupAll, docker, requireTuneImages, STACK_PREFIX, sweepLeftovers } from "./lib/docker";
import { measureGzip } from "./lib/gzip";
import { machineFacts } from "./lib/machine";
import { measureVariant } from "./lib/measure";
import { parseOptions, VariantName } from "./lib/options";
import { imageSizes, measureRebuild } from "./lib/rebuild";
import { renderChart } from "./lib/chart";
import { renderMarkdown } from "./lib/report";
import {
    BenchResults,
    ColdStartFigures,
    GzipFigure,
    MemoryFigures,
    RESULTS_DIR,
    RunSummary,
    writeResults,
} from "./lib/results";
import { loginStudents } from "./lib/sessions";
import { judge } from "./lib/targets";
import { RunningVariant, startVariant } from "./lib/variants";
import { log, run } from "./lib/util";
import { WRK_TIMEOUT_SECONDS } from "./lib/wrk";

async function preconditions(): Promise<void> {
    try {
        await docker.ping();
    } catch {
        throw new Error("no Docker engine answers: start one with `bash scripts/test-env.sh up`");
    }
    const wrk = await run("wrk", ["-v"], { timeoutMs: 10000 }).catch(() => undefined);
    if (!wrk) throw new Error("wrk is not installed: `bash scripts/test-env.sh up` installs it");
}

async function main(): Promise<number> {
    const started = Date.now();
    const opts = parseOptions(process.argv.slice(2));
    let tune: Tune | undefined;
    if (opts.tuneFile) {
        tune = loadTune(opts.tuneFile);
        setTune(tune);
        log(`tuning experiment: ${tune.description} ${JSON.stringify(tune)}`);
    }
    await preconditions();
    await requireTuneImages(tune?.config);
    await sweepLeftovers();

    log("building the declared images (stack bench-stack)");
    const built = await buildDeclared(await declare(`${STACK_PREFIX}stack`, 8080));
    log(`images built in ${built.seconds.toFixed(1)} s`);
    const machine = await machineFacts(built.names);
    // Now: tearing a realized stack down removes its images (the program's image janitor).
    const imageSize = await imageSizes({
        pythonBase: TEST_IMAGES.python,
        nginxBase: TEST_IMAGES.nginx,
        runtime: built.names.runtime,
        app: built.names.app,
        nginx: built.names.nginx,
    });

    const runs: RunSummary[] = [];
    const memory: Partial<Record<string, MemoryFigures>> = {};
    const diagnostics: Record<string, unknown> = {};
    let gzip: GzipFigure[] | null = null;
    let warmupErrors = 0;
    let coldStart: ColdStartFigures | null = null;
    // Quick runs start every variant at once (their start-up dominates); full runs one at a time,
    // so idle variants add nothing to the machine's load.
    const starting = new Map<VariantName, Promise<RunningVariant>>();
    const start = (name: VariantName) => {
        if (!starting.has(name)) starting.set(name, startVariant(name, built.ids.app));
        return starting.get(name)!;
    };
    if (opts.quick) for (const name of opts.variants) start(name).catch(() => undefined);
    for (const name of opts.variants) {
        const v = await start(name);
        try {
            const cookies = await loginStudents(v.app);
            const m = await measureVariant(v, cookies, opts);
            runs.push(...m.runs);
            memory[name] = m.memory;
            warmupErrors += m.warmupErrors;
            diagnostics[`${name}StartSeconds`] = v.startSeconds;
            if (name === "stack") {
                gzip = await measureGzip(v.port, cookies[0]);
                const nginx = v.containers.find((c) => c.role === "nginx")!.container;
                diagnostics.stackLog = await stackLogSummary(nginx, v.app);
            }
            if (name === "gunicorn") {
                log("cold start");
                coldStart = await measureColdStart(v, opts.coldStartRepetitions);
            }
        } finally {
            await v.stop();
        }
    }
    if (!coldStart) {
        log("cold start (on a gunicorn variant started for it)");
        const v = await start("gunicorn");
        try {
            coldStart = await measureColdStart(v, opts.coldStartRepetitions);
        } finally {
            await v.stop();
        }
    }

    log("rebuild times");
    const rebuild = await measureRebuild(opts.quick);
    imageSize.appWithoutBytecode = coldStart.noBytecodeImage;

    const totalErrors = runs.reduce((sum, r) => sum + r.errors, 0) + warmupErrors;
    const results: BenchResults = {
        schema: 1,
        date: new Date(started).toISOString(),
        quick: opts.quick,
        machine,
        settings: {
            variants: opts.variants,
            workloads: opts.workloads,
            connections: opts.connections,
            repetitions: opts.repetitions,
            durationSeconds: Object.fromEntries(opts.workloads.map((w) => [w, opts.durationSeconds(w)])),
            warmupSeconds: opts.warmupSeconds,
            wrkTimeoutSeconds: WRK_TIMEOUT_SECONDS,
            foreignLimitCores: FOREIGN_LIMIT,
            requestHeaders: { "Accept-Encoding": "gzip, deflate" },
            tune: tune ?? null,
        },
        runs,
        gzip,
        coldStart,
        memory,
        imageSize,
        rebuild,
        buildSeconds: Math.round(built.seconds * 100) / 100,
        diagnostics: { ...diagnostics, warmupErrors },
        targets: judge(runs, gzip, coldStart, rebuild, totalErrors),
        totalErrors,
        wallSeconds: (Date.now() - started) / 1000,
    };
    const file = writeResults(results, opts.resultsPrefix);
    const base = opts.resultsPrefix ? `${opts.resultsPrefix}latest` : "latest";
    const rel = path.relative(RESULTS_DIR, file);
    const markdown = renderMarkdown(results, rel);
    fs.writeFileSync(path.join(RESULTS_DIR, `${base}.md`), markdown);
    const title = `lernmanager-stack: req/s per workload (${results.date.slice(0, 10)}${opts.quick ? ", quick run" : ""})`;
    fs.writeFileSync(path.join(RESULTS_DIR, `${base}.svg`), await renderChart(runs, title));
    process.stdout.write(`${markdown}\n`);
    log(`wrote ${path.relative(process.cwd(), file)}, ${base}.md and ${base}.svg in ${RESULTS_DIR}`);
    if (totalErrors > 0) {
        log(`FAILED: ${totalErrors} requests errored (non-2xx/3xx answers or socket errors); see the runs above`);
        return 1;
    }
    return 0;
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
        if (stopping) return;
        stopping = true;
        log(`${signal}: cleaning up`);
        void cleanupAll().finally(() => process.exit(130));
    });
}

main()
    .then(async (code) => {
        const failed = await cleanupAll();
        process.exitCode = failed ? 1 : code;
    })
    .catch(async (err: Error) => {
        log(`benchmark failed: ${err.stack ?? err.message}`);
        await cleanupAll();
        process.exitCode = 1;
    });
