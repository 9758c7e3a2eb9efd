// The scheduler's part of `npm run status`: every job's last run (ok, nothing to do, FAILED) and the
// admin guard's replacements, from `lm_cron.py --status` in the scheduler container.

interface JobRun {
    tick: string;
    exitCode: number;
    seconds?: number;
    /** "ok", "nothing to do" or "FAILED" (absent in runs recorded before the outcome was). */
    outcome?: string;
}

export interface SchedulerStatus {
    jobs: Record<string, { last_run?: JobRun; last_failure?: JobRun; last_skipped?: { tick: string; reason: string } }>;
    adminGuard?: { replaced: number; last: { time: string; user: string; scheduler: string } } | null;
}

export interface SchedulerFacts {
    /** The scheduler container's health ("healthy", "unhealthy", ...). */
    readonly health: string;
    readonly status: SchedulerStatus | { error: string };
}

const outcomeOf = (r: JobRun) => r.outcome ?? (r.exitCode === 0 ? "ok" : "FAILED");

/** The lines about the jobs and the admin guard, and the problems among them (a person is needed). */
export function schedulerLines(
    f: SchedulerFacts,
    ago: (iso: string) => string,
): { lines: string[]; problems: string[] } {
    const lines: string[] = [];
    const problems: string[] = [];
    if (f.health !== "healthy") problems.push(`the scheduler is ${f.health}`);
    if ("error" in f.status) {
        lines.push(`jobs          ${f.status.error}`);
        problems.push(`jobs: ${f.status.error}`);
        return { lines, problems };
    }
    const names = Object.keys(f.status.jobs).sort();
    const width = Math.max(0, ...names.map((n) => n.length));
    for (const name of names) {
        const run = f.status.jobs[name].last_run;
        if (!run) {
            lines.push(`job ${name.padEnd(width)}  not run yet`);
            continue;
        }
        const outcome = outcomeOf(run);
        const took = run.seconds === undefined ? "" : `, ${run.seconds} s`;
        const code = run.exitCode === 0 ? "" : `exit ${run.exitCode}`;
        lines.push(
            `job ${name.padEnd(width)}  ${outcome}, tick ${run.tick} (${[code, took.slice(2)].filter(Boolean).join(", ")})`,
        );
        if (outcome === "FAILED") problems.push(`job ${name} failed (tick ${run.tick}, exit code ${run.exitCode})`);
    }
    const g = f.status.adminGuard;
    lines.push(
        g
            ? `admin guard   put a random password on the recreated default ${JSON.stringify(g.last.user)} ${g.replaced} time(s), last ${ago(g.last.time)}`
            : "admin guard   no default admin password came back",
    );
    return { lines, problems };
}
