/**
 * The benchmark's targets (bench/lib/targets.ts): the stack against waitress in one run, judged from
 * the figures the run recorded.
 */
import { VariantName, WorkloadName } from "../../bench/lib/options";
import { RunSummary, Target } from "../../bench/lib/results";
import { judge, rpsGoal } from "../../bench/lib/targets";

function run(
    variant: VariantName,
    workload: WorkloadName,
    connections: number,
    f: Partial<Pick<RunSummary, "rps" | "p99_ms" | "cpuMsPerRequest" | "events">>,
): RunSummary {
    return {
        variant,
        workload,
        connections,
        rps: f.rps ?? 100,
        p50_ms: 1,
        p99_ms: f.p99_ms ?? 10,
        errors: 0,
        restarts: 0,
        wrkThreads: 2,
        undisturbedSamples: 3,
        cpuMsPerRequest: f.cpuMsPerRequest ?? 1,
        events: f.events ?? null,
        samples: [],
    };
}

const named = (targets: Target[], name: string): Target => {
    const t = targets.find((x) => x.name === name);
    if (!t) throw new Error(`no target ${name} in ${targets.map((x) => x.name).join(", ")}`);
    return t;
};

const judgeRuns = (runs: RunSummary[]) => judge(runs, null, null, null, 0);

test("req/s goals: 2x for dashboard, topic and write and 1.3x for login at 32 connections, 1.5x at 4, 15x for static files", () => {
    expect(rpsGoal("dashboard", 32)).toBe(2);
    expect(rpsGoal("topic", 32)).toBe(2);
    expect(rpsGoal("write", 32)).toBe(2);
    expect(rpsGoal("login", 32)).toBe(1.3);
    expect(rpsGoal("login", 4)).toBe(1.5);
    expect(rpsGoal("write", 4)).toBe(1.5);
    expect(rpsGoal("css", 32)).toBe(15);
    expect(rpsGoal("js", 4)).toBe(15);
    expect(rpsGoal("pdf", 32)).toBeNull();

    const at = (rps: number) =>
        named(
            judgeRuns([run("waitress", "login", 32, { rps: 100 }), run("stack", "login", 32, { rps })]),
            "login c=32: req/s vs waitress",
        ).met;
    expect(at(130)).toBe(true);
    expect(at(129)).toBe(false);
});

test("the tail: the stack's p99 at or below waitress's on every workload, at 32 and at 4 connections", () => {
    const runs: RunSummary[] = [];
    for (const w of ["login", "css", "pdf"] as WorkloadName[]) {
        for (const c of [32, 4]) {
            runs.push(
                run("waitress", w, c, { p99_ms: 10 }),
                run("stack", w, c, { p99_ms: w === "pdf" && c === 4 ? 11 : 10 }),
            );
        }
    }
    const t = judgeRuns(runs);
    expect(named(t, "login c=32: p99 vs waitress").met).toBe(true);
    expect(named(t, "login c=4: p99 vs waitress").met).toBe(true);
    expect(named(t, "css c=4: p99 vs waitress").met).toBe(true);
    expect(named(t, "pdf c=32: p99 vs waitress").met).toBe(true);
    expect(named(t, "pdf c=4: p99 vs waitress")).toMatchObject({ met: false, value: "1.10x (11 vs 10 ms)" });
});

test("static files: p99 of 15 ms at most besides the ratio", () => {
    const t = judgeRuns([
        run("waitress", "css", 32, { p99_ms: 100 }),
        run("stack", "css", 32, { p99_ms: 15.2 }),
        run("waitress", "js", 32, { p99_ms: 100 }),
        run("stack", "js", 32, { p99_ms: 15 }),
    ]);
    expect(named(t, "css c=32: p99").met).toBe(false);
    expect(named(t, "js c=32: p99").met).toBe(true);
});

test("CPU per request of the stack's containers within 15 % of waitress's, per workload", () => {
    const t = judgeRuns([
        run("waitress", "login", 32, { cpuMsPerRequest: 2 }),
        run("stack", "login", 32, { cpuMsPerRequest: 2.3 }),
        run("waitress", "dashboard", 32, { cpuMsPerRequest: 2 }),
        run("stack", "dashboard", 32, { cpuMsPerRequest: 2.31 }),
    ]);
    expect(named(t, "login c=32: CPU per request vs waitress").met).toBe(true);
    expect(named(t, "dashboard c=32: CPU per request vs waitress")).toMatchObject({
        met: false,
        value: "1.16x (2.31 vs 2 ms)",
    });
});

test("analytics: met only when the stack stored an event for every request sent", () => {
    // A file from before `answered` was recorded: every request sent.
    const t = (recorded: number, sent: number) =>
        named(
            judgeRuns([
                run("waitress", "login", 32, { events: { sent: 1000, recorded: 530 } }),
                run("stack", "login", 32, { events: { sent, recorded } }),
            ]),
            "login c=32: analytics events recorded (stack)",
        );
    expect(t(1000, 1000).met).toBe(true);
    expect(t(1012, 1000).met).toBe(true);
    expect(t(999, 1000)).toMatchObject({ met: false, value: "999 of 1000 (99.9 %)" });
    expect(t(0, 0).met).toBe(false);
    // Not counted (static files): no target.
    const css = judgeRuns([run("waitress", "css", 32, {}), run("stack", "css", 32, {})]);
    expect(css.some((x) => x.name.startsWith("css c=32: analytics"))).toBe(false);
});

test("analytics: every answered request needs its event; those in flight at wrk's stop count neither way", () => {
    const t = (recorded: number) =>
        named(
            judgeRuns([
                run("waitress", "login", 32, { events: { sent: 1096, answered: 1000, recorded: 530 } }),
                run("stack", "login", 32, { events: { sent: 1096, answered: 1000, recorded } }),
            ]),
            "login c=32: analytics events recorded (stack)",
        );
    // 96 in flight (3 runs x 32 connections): some reached the app, some did not.
    expect(t(1001)).toMatchObject({ met: true, value: "1001 of 1000 (100.1 %); 96 more in flight at wrk's stop" });
    expect(t(1000).met).toBe(true);
    // One answered request without its event is a lost event.
    expect(t(999)).toMatchObject({ met: false, value: "999 of 1000 (99.9 %); 96 more in flight at wrk's stop" });
});

test("a workload only one side ran gives no target; errors are a target of their own", () => {
    const t = judge([run("stack", "login", 32, {})], null, null, null, 2);
    expect(t.filter((x) => x.name.startsWith("login"))).toEqual([]);
    expect(named(t, "errors (all runs)")).toMatchObject({ met: false, value: "2" });
});
