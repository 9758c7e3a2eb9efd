/**
 * The targets, judged from the recorded figures (the `stack` variant against `waitress`, at every
 * connection count measured). Every goal is a ratio within one run, so a slower machine moves both
 * sides alike:
 * - the tail: p99 at or below waitress's on every workload, at 32 and at 4 connections;
 * - throughput at a class's 32 connections: dashboard, topic and write 2x waitress, login 1.3x (the
 *   login page is cheap, so the fixed cost of the extra hop weighs most there); at 4 connections
 *   the design card's 1.5x for the dynamic pages; static files 15x with a p99 of 15 ms at most;
 * - CPU per request of the stack's containers (nginx, gunicorn and the wrappers) within 15 % of
 *   waitress's for the same page (the static files are nginx's and far cheaper);
 * - every analytics event recorded: the stack's app stores an event for every request wrk got an
 *   answer to on each dynamic page (the real app's writer drops events once its queue is full); the
 *   requests still in flight when wrk stopped may never have reached the app, so they count neither
 *   way (older files without `answered`: every request sent).
 */
import { VariantName, WorkloadName } from "./options";
import { ColdStartFigures, GzipFigure, RebuildFigures, RunSummary, Target } from "./results";

export const DYNAMIC: WorkloadName[] = ["login", "dashboard", "topic", "write"];
export const STATIC: WorkloadName[] = ["css", "js"];
/** Workloads whose p99 and CPU are compared with waitress's (every one both serve). */
const COMPARED: WorkloadName[] = [...DYNAMIC, ...STATIC, "pdf", "pdf-cached"];
/** The most CPU per request the stack may spend, as a multiple of waitress's. */
export const CPU_GOAL = 1.15;

function find(runs: RunSummary[], variant: VariantName, workload: WorkloadName, connections: number) {
    return runs.find((r) => r.variant === variant && r.workload === workload && r.connections === connections);
}

const x = (v: number) => `${v.toFixed(2)}x`;
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

/** req/s goal of the stack against waitress for a workload at a connection count. */
export function rpsGoal(workload: WorkloadName, connections: number): number | null {
    if (STATIC.includes(workload)) return 15;
    if (!DYNAMIC.includes(workload)) return null;
    if (connections < 32) return 1.5;
    return workload === "login" ? 1.3 : 2;
}

export function judge(
    runs: RunSummary[],
    gzip: GzipFigure[] | null,
    cold: ColdStartFigures | null,
    rebuild: RebuildFigures | null,
    totalErrors: number,
): Target[] {
    const targets: Target[] = [];
    const connections = [...new Set(runs.map((r) => r.connections))].sort((a, b) => b - a);
    for (const c of connections) {
        for (const w of COMPARED) {
            const s = find(runs, "stack", w, c);
            const base = find(runs, "waitress", w, c);
            if (!s || !base || !base.rps) continue;
            const goal = rpsGoal(w, c);
            if (goal !== null) {
                targets.push({
                    name: `${w} c=${c}: req/s vs waitress`,
                    goal: `>= ${goal}x`,
                    value: `${x(s.rps / base.rps)} (${s.rps} vs ${base.rps})`,
                    met: s.rps >= goal * base.rps,
                });
            }
            targets.push({
                name: `${w} c=${c}: p99 vs waitress`,
                goal: "<= 1x",
                value: `${x(s.p99_ms / base.p99_ms)} (${s.p99_ms} vs ${base.p99_ms} ms)`,
                met: s.p99_ms <= base.p99_ms,
            });
            if (STATIC.includes(w)) {
                targets.push({
                    name: `${w} c=${c}: p99`,
                    goal: "<= 15 ms",
                    value: `${s.p99_ms} ms`,
                    met: s.p99_ms <= 15,
                });
            }
            if (base.cpuMsPerRequest > 0) {
                targets.push({
                    name: `${w} c=${c}: CPU per request vs waitress`,
                    goal: `<= ${CPU_GOAL}x`,
                    value: `${x(s.cpuMsPerRequest / base.cpuMsPerRequest)} (${s.cpuMsPerRequest} vs ${base.cpuMsPerRequest} ms)`,
                    met: s.cpuMsPerRequest <= CPU_GOAL * base.cpuMsPerRequest,
                });
            }
            if (s.events) {
                const answered = s.events.answered ?? s.events.sent;
                const inFlight = s.events.sent - answered;
                targets.push({
                    name: `${w} c=${c}: analytics events recorded (stack)`,
                    goal: "every request answered",
                    value:
                        `${s.events.recorded} of ${answered} (${pct(s.events.recorded / answered)})` +
                        (inFlight > 0 ? `; ${inFlight} more in flight at wrk's stop` : ""),
                    met: answered > 0 && s.events.recorded >= answered,
                });
            }
        }
        const cached = find(runs, "stack", "pdf-cached", c);
        const fresh = find(runs, "stack", "pdf", c);
        if (cached && fresh && fresh.rps) {
            targets.push({
                name: `pdf-cached vs pdf c=${c} (stack)`,
                goal: ">= 20x",
                value: `${x(cached.rps / fresh.rps)} (${cached.rps} vs ${fresh.rps} req/s)`,
                met: cached.rps >= 20 * fresh.rps,
            });
        }
    }
    for (const g of gzip ?? []) {
        if (!g.inTarget) continue;
        targets.push({
            name: `gzip transfer ${g.type}`,
            goal: "<= 30 % of plain",
            value: `${(g.ratio * 100).toFixed(1)} % (${g.gzipBytes} of ${g.plainBytes} B)`,
            met: g.ratio <= 0.3,
        });
    }
    if (cold) {
        targets.push({
            name: "cold start with -OO bytecode",
            goal: "<= 0.6 s",
            value: `${cold.bytecode.median} s`,
            met: cold.bytecode.median <= 0.6,
        });
        targets.push({
            name: "cold start vs image without bytecode",
            goal: "<= 0.5x",
            value: `${x(cold.ratio)} (${cold.bytecode.median} vs ${cold.noBytecode.median} s)`,
            met: cold.ratio <= 0.5,
        });
    }
    if (rebuild) {
        targets.push({
            name: "rebuild after a one-line code change",
            goal: "<= 15 s",
            value: `${rebuild.codeChangeSeconds} s`,
            met: rebuild.codeChangeSeconds <= 15,
        });
    }
    targets.push({ name: "errors (all runs)", goal: "0", value: String(totalErrors), met: totalErrors === 0 });
    return targets;
}
