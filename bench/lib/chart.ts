/**
 * bench/results/latest.svg: req/s per workload and variant (log scale), one panel per connection
 * count, drawn with Vega-Lite and rendered to SVG by Vega in Node (no browser, no canvas).
 */
import { VARIANTS, WORKLOADS } from "./options";
import { RunSummary } from "./results";

type VegaModule = typeof import("vega");
type VegaLiteModule = typeof import("vega-lite");

// vega 6 and vega-lite 6 are ES modules with top-level await: load them with a real import(), which
// this CommonJS build would otherwise turn into require().
const esmImport = new Function("specifier", "return import(specifier)") as <T>(specifier: string) => Promise<T>;

export async function renderChart(runs: RunSummary[], title: string): Promise<string> {
    const vega = await esmImport<VegaModule>("vega");
    const vl = await esmImport<VegaLiteModule>("vega-lite");
    const values = runs
        .filter((r) => r.rps > 0)
        .map((r) => ({
            workload: r.workload,
            variant: r.variant,
            connections: `${r.connections} connections`,
            rps: r.rps,
            p99: r.p99_ms,
        }));
    const connections = [...new Set(runs.map((r) => r.connections))].sort((a, b) => b - a);
    const spec: import("vega-lite").TopLevelSpec = {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        title: { text: title, anchor: "start" },
        data: { values },
        facet: {
            row: {
                field: "connections",
                type: "nominal",
                sort: connections.map((c) => `${c} connections`),
                title: null,
            },
        },
        spec: {
            width: 620,
            height: 220,
            mark: { type: "bar", tooltip: true },
            encoding: {
                x: { field: "workload", type: "nominal", sort: [...WORKLOADS], title: null, axis: { labelAngle: 0 } },
                xOffset: { field: "variant", type: "nominal", sort: [...VARIANTS] },
                y: {
                    field: "rps",
                    type: "quantitative",
                    scale: { type: "log", domainMin: 5 },
                    title: "requests/s (median, log scale)",
                },
                // Bars start at 5 req/s: a log scale has no zero.
                y2: { datum: 5 },
                color: {
                    field: "variant",
                    type: "nominal",
                    sort: [...VARIANTS],
                    scale: { range: ["#9e9e9e", "#f2a93b", "#5b8ff9", "#1f4e79"] },
                    legend: { orient: "top", title: null },
                },
            },
        },
        config: { font: "sans-serif", view: { stroke: null } },
    };
    const compiled = vl.compile(spec).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: "none" });
    const svg = await view.toSVG();
    view.finalize();
    return svg;
}
