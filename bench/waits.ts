/**
 * The writers' contention on the one SQLite file: how often, and how long, the app's processes sleep
 * in SQLite's busy handler (bench/lib/sleeps.ts) while a workload runs, per variant. Under waitress
 * one process's threads write (and one analytics writer); in the stack four gunicorn processes do,
 * each with its own analytics writer.
 *
 *   npx ts-node bench/waits.ts [--variants waitress,stack] [--workloads write,login,css] \
 *       [--connections 32,4] [--reps 3] [--seconds 5]
 *
 * Needs perf (linux-perf) and root. Prints a Markdown table and writes bench/results/waits-<date>.json.
 * The css workload is the control: in the stack nginx serves it, the app sleeps not at all.
 */
import * as fs from "fs";
import * as path from "path";
import { buildDeclared, declare } from "./lib/declare";
import { cleanupAll, STACK_PREFIX, sweepLeftovers } from "./lib/docker";
import { waitIdle } from "./lib/measure";
import { VARIANTS, VariantName, WORKLOADS, WorkloadName } from "./lib/options";
import { RESULTS_DIR, stamp } from "./lib/results";
import { loginStudents } from "./lib/sessions";
import { SleepFigures, traceSleeps } from "./lib/sleeps";
import { startVariant } from "./lib/variants";
import { BROWSER_HEADERS, WORKLOAD_DEFS, WRITE_EVERY } from "./lib/workloads";
import { runWrk } from "./lib/wrk";
import { log, median, round } from "./lib/util";

interface WaitOptions {
    variants: VariantName[];
    workloads: WorkloadName[];
    connections: number[];
    reps: number;
    seconds: number;
}

const USAGE = `usage: ts-node bench/waits.ts [--variants waitress,stack] [--workloads write,login,css]
       [--connections 32,4] [--reps 3] [--seconds 5]`;

export function parseWaitOptions(argv: string[]): WaitOptions {
    const o: WaitOptions = {
        variants: ["waitress", "stack"],
        workloads: ["write", "login", "css"],
        connections: [32, 4],
        reps: 3,
        seconds: 5,
    };
    const list = <T extends string>(flag: string, value: string | undefined, all: readonly T[]): T[] => {
        const picked = (value ?? "").split(",").filter(Boolean);
        const bad = picked.filter((p) => !(all as readonly string[]).includes(p));
        if (picked.length === 0 || bad.length)
            throw new Error(`waits: ${flag} takes some of ${all.join(",")}\n${USAGE}`);
        return picked as T[];
    };
    const count = (flag: string, value: string | undefined): number => {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1) throw new Error(`waits: ${flag} takes a whole number above 0\n${USAGE}`);
        return n;
    };
    for (let i = 0; i < argv.length; i += 2) {
        const [flag, value] = [argv[i], argv[i + 1]];
        if (flag === "--variants") o.variants = list(flag, value, VARIANTS);
        else if (flag === "--workloads") o.workloads = list(flag, value, WORKLOADS);
        else if (flag === "--connections") o.connections = (value ?? "").split(",").map((c) => count(flag, c));
        else if (flag === "--reps") o.reps = count(flag, value);
        else if (flag === "--seconds") o.seconds = count(flag, value);
        else throw new Error(`waits: unknown argument ${flag}\n${USAGE}`);
    }
    return o;
}

interface WaitRun {
    readonly requests: number;
    readonly rps: number;
    readonly p99_ms: number;
    readonly sleeps: SleepFigures;
}

async function main(): Promise<void> {
    const o = parseWaitOptions(process.argv.slice(2));
    await sweepLeftovers();
    const built = await buildDeclared(await declare(`${STACK_PREFIX}stack`, 8080));
    const rows: Record<string, unknown>[] = [];
    const lines = [
        "| variant | workload | conns | req/s | p99 ms | busy sleeps per 100 requests | ms asleep per request | runs |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ];
    for (const name of o.variants) {
        const v = await startVariant(name, built.ids.app);
        try {
            const cookies = await loginStudents(v.app);
            for (const w of o.workloads) {
                const def = WORKLOAD_DEFS[w];
                const job = (connections: number, seconds: number) => ({
                    port: v.port,
                    path: def.path,
                    mode: def.mode,
                    cookies,
                    headers: BROWSER_HEADERS,
                    writeEvery: WRITE_EVERY,
                    connections,
                    seconds,
                });
                await def.preflight(v.port, cookies[0]);
                await runWrk(job(Math.max(...o.connections), 2));
                await waitIdle(v);
                for (const c of o.connections) {
                    const runs: WaitRun[] = [];
                    for (let rep = 1; rep <= o.reps; rep++) {
                        const trace = await traceSleeps(v.app);
                        const r = await runWrk(job(c, o.seconds));
                        const sleeps = await trace.stop();
                        if (r.errors.total) throw new Error(`${name} ${w} c=${c}: ${JSON.stringify(r.errors)}`);
                        runs.push({ requests: r.requests, rps: r.rps, p99_ms: r.p99_ms, sleeps });
                        log(
                            `${name} ${w} c=${c} rep ${rep}: ${r.rps.toFixed(1)} req/s p99 ${r.p99_ms.toFixed(1)} ms, ` +
                                `${sleeps.calls} sleeps, ${sleeps.ms} ms asleep over ${r.requests} requests`,
                        );
                        await waitIdle(v);
                    }
                    const m = (f: (r: WaitRun) => number) => median(runs.map(f));
                    const row = {
                        variant: name,
                        workload: w,
                        connections: c,
                        rps: round(
                            m((r) => r.rps),
                            1,
                        ),
                        p99_ms: round(
                            m((r) => r.p99_ms),
                            2,
                        ),
                        sleepsPer100: round(
                            m((r) => (100 * r.sleeps.calls) / r.requests),
                            2,
                        ),
                        msAsleepPerRequest: round(
                            m((r) => r.sleeps.ms / r.requests),
                            3,
                        ),
                        runs,
                    };
                    rows.push(row);
                    lines.push(
                        `| ${name} | ${w} | ${c} | ${row.rps} | ${row.p99_ms} | ${row.sleepsPer100} | ` +
                            `${row.msAsleepPerRequest} | ${runs.length} |`,
                    );
                }
            }
        } finally {
            await v.stop();
        }
    }
    const text = lines.join("\n");
    process.stdout.write(`${text}\n`);
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, `waits-${stamp(new Date())}.json`);
    fs.writeFileSync(file, `${JSON.stringify({ options: o, rows, table: text }, null, 2)}\n`);
    log(`wrote ${file}`);
}

if (require.main === module) {
    main()
        .catch((e: Error) => {
            log(`waits failed: ${e.stack ?? e.message}`);
            process.exitCode = 1;
        })
        .finally(() => cleanupAll());
}
