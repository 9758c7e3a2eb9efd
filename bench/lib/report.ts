/** bench/results/latest.md: the results of one run as Markdown tables. */
import { VARIANTS, WORKLOADS } from "./options";
import { BenchResults, RunSummary } from "./results";
import { WORKLOAD_DEFS } from "./workloads";

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "-");
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "-");

function runTable(runs: RunSummary[]): string[] {
    const lines = [
        "| workload | conns | variant | req/s | p50 ms | p99 ms | req/s vs waitress | p99 vs waitress | CPU ms / request | CPU vs waitress | events recorded / requests answered | errors | runs used |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ];
    const connections = [...new Set(runs.map((r) => r.connections))].sort((a, b) => b - a);
    for (const w of WORKLOADS) {
        for (const c of connections) {
            const base = runs.find((r) => r.workload === w && r.connections === c && r.variant === "waitress");
            for (const v of VARIANTS) {
                const r = runs.find((x) => x.workload === w && x.connections === c && x.variant === v);
                if (!r) continue;
                const rpsRatio = base?.rps ? `${f2(r.rps / base.rps)}x` : "-";
                const p99Ratio = base?.p99_ms ? `${f2(r.p99_ms / base.p99_ms)}x` : "-";
                const cpuRatio = base?.cpuMsPerRequest ? `${f2(r.cpuMsPerRequest / base.cpuMsPerRequest)}x` : "-";
                const answered = r.events ? (r.events.answered ?? r.events.sent) : 0;
                const events =
                    r.events && answered
                        ? `${((100 * r.events.recorded) / answered).toFixed(1)} % (${r.events.recorded} / ${answered})`
                        : "-";
                const name = v === "stack" ? `**${v}**` : v;
                lines.push(
                    `| ${w} | ${c} | ${name} | ${f1(r.rps)} | ${f1(r.p50_ms)} | ${f1(r.p99_ms)} | ${rpsRatio} | ` +
                        `${p99Ratio} | ${f2(r.cpuMsPerRequest)} | ${cpuRatio} | ${events} | ${r.errors} | ` +
                        `${r.undisturbedSamples}/${r.samples.length} |`,
                );
            }
        }
    }
    return lines;
}

/** What HTTPS costs: the stack over HTTPS (tls internal) against the same stack over plain HTTP. */
function httpsCostTable(runs: RunSummary[]): string[] {
    const pairs = runs
        .filter((r) => r.variant === "stack-https")
        .map((h) => ({
            h,
            p: runs.find((x) => x.variant === "stack" && x.workload === h.workload && x.connections === h.connections),
        }))
        .filter((x) => x.p);
    if (pairs.length === 0) return [];
    return [
        "## HTTPS cost (stack-https against stack)",
        "",
        "| workload | conns | req/s HTTP | req/s HTTPS | HTTPS / HTTP | p99 ms HTTP | p99 ms HTTPS |",
        "|---|---:|---:|---:|---:|---:|---:|",
        ...pairs.map(
            ({ h, p }) =>
                `| ${h.workload} | ${h.connections} | ${f1(p!.rps)} | ${f1(h.rps)} | ${f2(h.rps / p!.rps)}x | ${f1(p!.p99_ms)} | ${f1(h.p99_ms)} |`,
        ),
        "",
        "wrk keeps its connections open (like a browser), so the TLS handshake is paid once per connection; what remains is encryption.",
        "",
    ];
}

export function renderMarkdown(r: BenchResults, jsonFile: string): string {
    const m = r.machine as Record<string, any>;
    const out: string[] = [];
    out.push(`# Benchmark results${r.quick ? " (quick smoke run: not comparable)" : ""}`);
    out.push("");
    out.push(
        `${r.date} · ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB · Docker ${m.docker?.version} · ` +
            `nginx ${m.nginx} · gunicorn ${m.gunicorn} · waitress ${m.waitress} · Flask ${m.flask} · ` +
            `Python ${m.python} · Node ${m.node} · wrk ${m.wrk} · git ${m.git?.head}` +
            `${m.git?.uncommitted?.length ? " (with uncommitted changes)" : ""}`,
    );
    out.push("");
    out.push(`Raw figures: \`${jsonFile}\`. How they are measured: [bench/README.md](../README.md).`);
    out.push("");
    const s = r.settings as Record<string, any>;
    const durations = Object.entries((s.durationSeconds ?? {}) as Record<string, number>);
    const usual = durations.find(([w]) => w === "login")?.[1] ?? durations[0]?.[1];
    const other = durations.filter(([, d]) => d !== usual).map(([w, d]) => `${w} ${d} s`);
    out.push(
        `wrk ${usual} s per run${other.length ? ` (${other.join(", ")})` : ""} after a ${s.warmupSeconds} s warm-up, ` +
            `${s.repetitions} repetition(s), ` +
            `median shown; every request sends \`Accept-Encoding: gzip, deflate\` like a browser. ` +
            `"runs used" = undisturbed runs / all runs (a run during which other work on the machine used more ` +
            `than ${s.foreignLimitCores} cores is repeated and left out of the median).`,
    );
    out.push("");
    out.push("## Targets");
    out.push("");
    out.push("| target | goal | measured | |");
    out.push("|---|---|---|---|");
    for (const t of r.targets) out.push(`| ${t.name} | ${t.goal} | ${t.value} | ${t.met ? "met" : "**missed**"} |`);
    out.push("");
    out.push("## Throughput and latency");
    out.push("");
    out.push(...runTable(r.runs));
    out.push("");
    out.push(...httpsCostTable(r.runs));
    out.push("Workloads:");
    out.push("");
    for (const w of WORKLOADS) out.push(`- \`${w}\`: ${WORKLOAD_DEFS[w].describe}`);
    out.push("");
    out.push("![req/s per workload and variant](latest.svg)");
    out.push("");
    if (r.gzip) {
        out.push("## Transfer size through the stack (gzip)");
        out.push("");
        out.push("| type | path | plain bytes | gzip bytes | gzip / plain |");
        out.push("|---|---|---:|---:|---:|");
        for (const g of r.gzip) {
            out.push(
                `| ${g.type} | \`${g.path}\` | ${g.plainBytes} | ${g.gzipBytes} | ${(g.ratio * 100).toFixed(1)} % |`,
            );
        }
        out.push("");
    }
    if (r.coldStart) {
        const c = r.coldStart;
        out.push("## Cold start (container start to first 200 on /login)");
        out.push("");
        out.push("| image | median s | runs (s) | *.opt-2.pyc files |");
        out.push("|---|---:|---|---:|");
        out.push(
            `| app image (-OO bytecode) | ${c.bytecode.median} | ${c.bytecode.seconds.join(", ")} | ${c.bytecodeFiles.bytecode} |`,
        );
        out.push(
            `| without bytecode | ${c.noBytecode.median} | ${c.noBytecode.seconds.join(", ")} | ${c.bytecodeFiles.noBytecode} |`,
        );
        out.push("");
    }
    out.push("## Memory under load (docker stats, MiB)");
    out.push("");
    out.push("| variant | idle | peak under load | per workload (32 connections) |");
    out.push("|---|---:|---:|---|");
    for (const v of VARIANTS) {
        const mem = r.memory[v];
        if (!mem) continue;
        const per = Object.entries(mem.underLoad)
            .map(([w, x]) => `${w} ${f1(x?.total ?? NaN)}`)
            .join(", ");
        out.push(`| ${v} | ${f1(mem.idle.total)} | ${f1(mem.peakTotalMiB)} | ${per} |`);
    }
    out.push("");
    out.push("## Images and builds");
    out.push("");
    out.push("| image | MB |");
    out.push("|---|---:|");
    for (const [k, v] of Object.entries(r.imageSize)) out.push(`| ${k} (\`${v.name}\`) | ${v.mb} |`);
    out.push("");
    if (r.rebuild) {
        const b = r.rebuild;
        out.push(
            `Rebuild after a one-line change of app.py: **${b.codeChangeSeconds} s** ` +
                `(${Object.entries(b.codeChangePerImage)
                    .map(([k, v]) => `${k} ${v} s`)
                    .join(", ")}); ` +
                `clean build (--no-cache): ${b.cleanSeconds === null ? "not measured" : `**${b.cleanSeconds} s**`}` +
                `${
                    b.cleanPerImage
                        ? ` (${Object.entries(b.cleanPerImage)
                              .map(([k, v]) => `${k} ${v} s`)
                              .join(", ")})`
                        : ""
                }.`,
        );
        out.push("");
    }
    out.push(
        `Errors in all measured runs: **${r.totalErrors}**. Wall time of the benchmark: ${Math.round(r.wallSeconds)} s.`,
    );
    out.push("");
    return out.join("\n");
}
