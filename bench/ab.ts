/**
 * A/B comparison of a config change (before tuning a default in render/nginx.ts or
 * render/gunicorn.ts): the variant as declared (A) and with a `--tune` file applied (B) run side by
 * side, and their wrk runs alternate (A B, B A, ...), so other work on the machine hits both alike.
 *
 *   npx ts-node bench/ab.ts --tune bench/tunes/gzip-level-5.json [--variant stack] \
 *       [--workloads css,js] [--connections 32,4] [--reps 5] [--seconds 5] [--cold 5] [--dry]
 * (`--cold N`: N cold starts of each side afterwards, with the gunicorn variant; `--dry`: declare
 * both sides under Pulumi's mocks and print how B's generated confs differ from A's, no Docker.)
 *
 * Prints a Markdown table and writes bench/results/tune-<name>-<date>.json (not committed).
 */
import * as fs from "fs";
import * as path from "path";
import { declare, imagesOf } from "./lib/declare";
import { cleanupAll, requireTuneImages, STACK_PREFIX, sweepLeftovers } from "./lib/docker";
import { stackLogSummary } from "./lib/diagnostics";
import { measureColdStart } from "./lib/coldStart";
import { measureGzip } from "./lib/gzip";
import { describe, measureOnce, waitIdle } from "./lib/measure";
import { VARIANTS, VariantName, WORKLOADS, WorkloadName } from "./lib/options";
import { RESULTS_DIR, Sample, stamp } from "./lib/results";
import { loginStudents } from "./lib/sessions";
import { startVariant } from "./lib/variants";
import { BROWSER_HEADERS, WORKLOAD_DEFS, WRITE_EVERY } from "./lib/workloads";
import { runWrk } from "./lib/wrk";
import { loadTune, Tune } from "./lib/tunes";
import { log, median, round } from "./lib/util";

interface AbOptions {
    tuneFile: string;
    variant: VariantName;
    workloads: WorkloadName[];
    connections: number[];
    reps: number;
    seconds: number;
    /** Cold starts per side (gunicorn variant only), measured after the runs. */
    cold: number;
    /** Only declare both sides (Pulumi mocks) and print how the generated confs differ. */
    dry: boolean;
}

const USAGE = `usage: ts-node bench/ab.ts --tune bench/tunes/<name>.json [--variant stack|gunicorn] [--workloads login,css]
       [--connections 32,4] [--reps 5] [--seconds 5] [--cold 5] [--dry]
  --dry   declare A and B under Pulumi's mocks and print the lines of B's nginx.conf / gunicorn.conf.py
          that differ from A's; no Docker`;

function parse(argv: string[]): AbOptions {
    const o: AbOptions = {
        tuneFile: "",
        variant: "stack",
        workloads: ["login", "dashboard", "css", "js"],
        connections: [32],
        reps: 5,
        seconds: 5,
        cold: 0,
        dry: false,
    };
    for (let i = 0; i < argv.length; i++) {
        const [flag, value] = [argv[i], argv[i + 1]];
        if (flag === "--help" || flag === "-h") {
            process.stdout.write(`${USAGE}\n`);
            process.exit(0);
        }
        if (flag === "--dry") {
            o.dry = true;
            continue;
        }
        i++;
        if (flag === "--tune") o.tuneFile = value;
        else if (flag === "--variant" && (VARIANTS as readonly string[]).includes(value))
            o.variant = value as VariantName;
        else if (flag === "--workloads")
            o.workloads = value
                .split(",")
                .filter((w) => (WORKLOADS as readonly string[]).includes(w)) as WorkloadName[];
        else if (flag === "--connections") o.connections = value.split(",").map(Number);
        else if (flag === "--reps") o.reps = Number(value);
        else if (flag === "--seconds") o.seconds = Number(value);
        else if (flag === "--cold") o.cold = Number(value);
        else throw new Error(`ab: bad argument ${flag} ${value ?? ""}\n${USAGE}`);
    }
    if (!o.tuneFile) throw new Error(`ab: --tune file.json is required\n${USAGE}`);
    if (o.variant !== "stack" && o.variant !== "gunicorn") throw new Error("ab: --variant is stack or gunicorn");
    return o;
}

/**
 * Medians of the repetitions in which neither side was disturbed by other work (A and B ran back
 * to back), or of all of them when fewer than two such pairs exist.
 */
function paired(a: Sample[], b: Sample[]) {
    const clean = a.map((_, i) => i).filter((i) => !a[i].disturbed && !b[i].disturbed);
    const idx = clean.length >= 2 ? clean : a.map((_, i) => i);
    const summary = (list: Sample[]) => {
        const used = idx.map((i) => list[i]);
        return {
            rps: round(median(used.map((s) => s.rps)), 1),
            p50_ms: round(median(used.map((s) => s.p50_ms)), 2),
            p99_ms: round(median(used.map((s) => s.p99_ms)), 2),
            cpuMsPerRequest: Object.fromEntries(
                Object.keys(used[0]?.cpuMsPerRequest ?? {}).map((k) => [
                    k,
                    round(median(used.map((s) => s.cpuMsPerRequest[k])), 3),
                ]),
            ),
        };
    };
    return {
        a: summary(a),
        b: summary(b),
        used: `${idx.length}/${a.length}${clean.length >= 2 ? "" : " (all disturbed)"}`,
    };
}

/** The lines of B's generated confs that A does not have, and the reverse (`--dry`). */
async function dryRun(tune: Tune): Promise<void> {
    const [a, b] = [
        await declare(`${STACK_PREFIX}ab-a`, 8080, {}, undefined),
        await declare(`${STACK_PREFIX}ab-b`, 8080, {}, tune),
    ];
    const args = (run: typeof a) => {
        const images = imagesOf(run);
        return { ...images.nginx.inputs.build.args, ...images.app.inputs.build.args } as Record<string, string>;
    };
    const [argsA, argsB] = [args(a), args(b)];
    for (const arg of ["NGINX_CONF", "NGINX_CONF_PER_REQUEST", "GUNICORN_CONF"]) {
        const lines = (x: Record<string, string>) => Buffer.from(x[arg], "base64").toString("utf8").split("\n");
        const [la, lb] = [lines(argsA), lines(argsB)];
        const only = (x: string[], y: string[]) => x.filter((l) => !y.includes(l));
        process.stdout.write(`## ${arg}: ${la.join("\n") === lb.join("\n") ? "unchanged" : "changed"}\n`);
        for (const l of only(la, lb)) process.stdout.write(`- ${l}\n`);
        for (const l of only(lb, la)) process.stdout.write(`+ ${l}\n`);
    }
}

async function main(): Promise<void> {
    const o = parse(process.argv.slice(2));
    const tune = loadTune(o.tuneFile);
    const name = path.basename(o.tuneFile, ".json");
    if (o.dry) {
        log(`dry run of ${name}: ${tune.description}`);
        return dryRun(tune);
    }
    await requireTuneImages(tune.config);
    await sweepLeftovers();
    const a = await startVariant(o.variant, "", { stack: `${STACK_PREFIX}ab-a`, tune: null });
    const b = await startVariant(o.variant, "", { stack: `${STACK_PREFIX}ab-b`, tune });
    const sides = [
        { label: "A (as declared)", v: a, cookies: await loginStudents(a.app) },
        { label: `B (${name})`, v: b, cookies: await loginStudents(b.app) },
    ];
    const results: Record<string, unknown>[] = [];
    const lines = [
        `A/B: ${o.variant}, as declared (A) vs ${name} (B: ${tune.description}): ${JSON.stringify(tune)}`,
        "",
        "| workload | conns | A req/s | B req/s | B/A req/s | A p99 ms | B p99 ms | A cpu ms/req | B cpu ms/req | pairs used |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ];
    for (const w of o.workloads) {
        const def = WORKLOAD_DEFS[w];
        const job = (side: (typeof sides)[number], connections: number, seconds: number) => ({
            port: side.v.port,
            path: def.path,
            mode: def.mode,
            cookies: side.cookies,
            headers: BROWSER_HEADERS,
            writeEvery: WRITE_EVERY,
            connections,
            seconds,
        });
        for (const side of sides) {
            await def.preflight(side.v.port, side.cookies[0]);
            await runWrk(job(side, Math.max(...o.connections), 2));
            await waitIdle(side.v);
        }
        for (const c of o.connections) {
            const samples: Sample[][] = [[], []];
            for (let rep = 1; rep <= o.reps; rep++) {
                const order = rep % 2 ? [0, 1] : [1, 0];
                for (const i of order) {
                    const { sample } = await measureOnce(sides[i].v, job(sides[i], c, o.seconds), rep, false);
                    samples[i].push(sample);
                    log(`${i ? "B" : "A"} ${describe(sides[i].v, w, c, sample)}`);
                    await waitIdle(sides[i].v);
                }
            }
            const { a: sa, b: sb, used } = paired(samples[0], samples[1]);
            const cpu = (x: typeof sa) =>
                Object.entries(x.cpuMsPerRequest)
                    .map(([k, v]) => `${k} ${v}`)
                    .join(", ");
            lines.push(
                `| ${w} | ${c} | ${sa.rps} | ${sb.rps} | ${(sb.rps / sa.rps).toFixed(2)}x | ${sa.p99_ms} | ${sb.p99_ms} | ` +
                    `${cpu(sa)} | ${cpu(sb)} | ${used} |`,
            );
            results.push({ workload: w, connections: c, a: sa, b: sb, used, samples });
        }
    }
    if (o.cold > 0 && o.variant === "gunicorn") {
        const [ca, cb] = [await measureColdStart(a, o.cold), await measureColdStart(b, o.cold)];
        lines.push(
            "",
            "| cold start (median s) | A | B |",
            "|---|---:|---:|",
            `| with bytecode | ${ca.bytecode.median} (${ca.bytecode.seconds.join(", ")}) | ${cb.bytecode.median} (${cb.bytecode.seconds.join(", ")}) |`,
            `| without bytecode | ${ca.noBytecode.median} (${ca.noBytecode.seconds.join(", ")}) | ${cb.noBytecode.median} (${cb.noBytecode.seconds.join(", ")}) |`,
        );
        results.push({ coldStart: { a: ca, b: cb } });
    }
    if (o.variant === "stack") {
        const gz = await Promise.all(sides.map((side) => measureGzip(side.v.port, side.cookies[0])));
        lines.push("", "| type | A gzip/plain | B gzip/plain |", "|---|---:|---:|");
        gz[0].forEach((g, i) =>
            lines.push(`| ${g.type} | ${(g.ratio * 100).toFixed(1)} % | ${(gz[1][i].ratio * 100).toFixed(1)} % |`),
        );
        results.push({ gzip: { a: gz[0], b: gz[1] } });
        // Where each side's time went, from its own logs (split per request with trace-requests.json).
        const logs = await Promise.all(
            sides.map((side) =>
                stackLogSummary(side.v.containers.find((c) => c.role === "nginx")!.container, side.v.app),
            ),
        );
        lines.push(
            "",
            "| side | path | requests | rt p50 / p99 ms | urt p50 / p99 ms | app p50 / p99 ms | slowest 1 %: rt = nginx + wait + app ms | per worker |",
            "|---|---|---:|---|---|---|---|---|",
        );
        logs.forEach((summary, i) => {
            for (const [key, t] of Object.entries(summary)) {
                const q = (x?: { p50: number; p99: number }) => (x ? `${x.p50} / ${x.p99}` : "-");
                const s1 = t.split?.slowest1pct;
                lines.push(
                    `| ${i ? "B" : "A"} | ${key} | ${t.count} | ${q(t.rt_ms)} | ${q(t.urt_ms)} | ${q(t.app_ms)} | ` +
                        `${s1 ? `${s1.rt_ms} = ${s1.nginx_ms} + ${s1.wait_ms} + ${s1.app_ms}` : "-"} | ` +
                        `${t.perWorker ? Object.values(t.perWorker).join(", ") : "-"} |`,
                );
            }
        });
        results.push({ stackLog: { a: logs[0], b: logs[1] } });
    }
    const text = lines.join("\n");
    process.stdout.write(`${text}\n`);
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, `tune-${name}-${stamp(new Date())}.json`);
    fs.writeFileSync(file, `${JSON.stringify({ tune, options: o, results, table: text }, null, 2)}\n`);
    log(`wrote ${file}`);
}

main()
    .catch((e: Error) => {
        log(`ab failed: ${e.stack ?? e.message}`);
        process.exitCode = 1;
    })
    .finally(() => cleanupAll());
