/**
 * Scheduled jobs: a per-minute job fires exactly once per tick, in real minutes, also
 * while two app versions' schedulers overlap during an update the way `pulumi up` does it (the new
 * scheduler is created, the old one is deleted only at the end of the update); none fires from the
 * old version after the new one started. The demo app's weekly reports and auto-attendance run as
 * jobs; a failing job shows in the status file, the scheduler's logs and its health.
 *
 * The schedulers run on a test clock (LM_CRON_CLOCK, containers/runtime/jobs/lm_cron.py) SPEED times faster
 * than the wall clock, so a minute tick comes every 60/SPEED s: the real loop, lock and state file,
 * with the ticks close together. Both schedulers of the update get the same clock, as real ones
 * share the wall clock. Minutes and seconds below are on that clock unless they say "wall".
 */
import * as fs from "fs";
import * as path from "path";
import { SCHEDULER_STOP_GRACE_SECONDS } from "../../components/jobs";
import { Created, containerCreateBody, docker, waitHealthy } from "../support/realize";
import { containerLogs, copyOfDemoApp, execIn, liveStack, LiveStack, redeclare } from "../support/stack";

jest.setTimeout(900000);

const STACK = "e2e-jobs";
const SCHEDULER = `lernmanager-${STACK}-scheduler`;
const JOBS = [
    {
        name: "ticks",
        schedule: "* * * * *",
        command: 'echo "$LM_APP_VERSION $LM_JOB_TICK $(hostname)" >> data/ticks.log && echo "tick $LM_JOB_TICK"',
        timeZone: "Europe/Berlin",
    },
    { name: "fails", schedule: "* * * * *", command: "echo about to fail; exit 3" },
    { name: "attendance", schedule: "* * * * *", command: "flask --app app auto-attendance" },
    {
        name: "reports",
        schedule: "*/2 * * * *",
        command: "REPORTS_DIR=data/reports python3 generate_weekly_reports.py",
    },
];

const SPEED = 6;
const SINCE = Math.floor(Date.now() / 1000);
/** The schedulers' test clock: agrees with the wall clock at SINCE, then runs SPEED times faster. */
const TEST_CLOCK = `LM_CRON_CLOCK=${SPEED}x@${SINCE}`;
/** A wall-clock time (ms) on the schedulers' clock, and back. */
const onClock = (wallMs: number) => SINCE * 1000 + (wallMs - SINCE * 1000) * SPEED;
const onWall = (clockMs: number) => SINCE * 1000 + (clockMs - SINCE * 1000) / SPEED;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const minuteNow = () => Math.floor(onClock(Date.now()) / 60000);
/** Waits until the clock is `seconds` into minute `m` (bounded: at most 5 minutes ahead). */
async function untilMinute(m: number, seconds = 10): Promise<void> {
    const target = m * 60000 + seconds * 1000;
    if (target - onClock(Date.now()) > 300000) throw new Error("untilMinute: more than 5 minutes ahead");
    while (onClock(Date.now()) < target) await sleep(Math.max(1, Math.min(1000, onWall(target) - Date.now())));
}
/**
 * Waits until the clock is 10 to 40 s into a minute, away from a tick: what the test does next
 * (start or stop a scheduler) takes a moment of wall time, which the test clock stretches SPEED times.
 */
async function midMinute(): Promise<void> {
    const second = (onClock(Date.now()) / 1000) % 60;
    if (second < 10) await untilMinute(minuteNow(), 10);
    else if (second >= 40) await untilMinute(minuteNow() + 1, 10);
}

interface Tick {
    version: string;
    minute: number;
    host: string;
}
async function ticks(container: ReturnType<typeof docker.getContainer>): Promise<Tick[]> {
    const { output } = await execIn(container, ["cat", "/app/data/ticks.log"]);
    return output
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line) => {
            const [version, tick, host] = line.split(" ");
            return { version, minute: Math.floor(Date.parse(tick) / 60000), host };
        });
}

let s: LiveStack;
const app = copyOfDemoApp();
const extra: Created[] = [];
beforeAll(async () => {
    s = await liveStack(
        STACK,
        { "lernmanager:appSource": app.dir, "lernmanager:jobs": JSON.stringify(JOBS) },
        undefined,
        undefined,
        { "-scheduler": [TEST_CLOCK] },
    );
});
afterAll(async () => {
    s?.realization.created.push(...extra);
    await s?.realization.teardown();
    app.remove();
});

describe("a per-minute job during an update with overlapping schedulers", () => {
    let oldScheduler: ReturnType<typeof docker.getContainer>;
    let newScheduler: ReturnType<typeof docker.getContainer>;
    let oldLogs = "";
    // On the test clock.
    let newStartedMs = 0;
    let oldRemovedMs = 0;

    test("deploy, then update to a new app image while the old scheduler keeps running across 2 minute boundaries", async () => {
        oldScheduler = s.realization.container("-scheduler");
        const oldHost = (await oldScheduler.inspect()).Config.Hostname;
        // The old version has fired at least once.
        const first = minuteNow();
        await untilMinute(first + 1, 20);
        expect((await ticks(oldScheduler)).length).toBeGreaterThanOrEqual(1);

        // The update: new image, backup, migration and app container as the realizer does them, but
        // the scheduler's replacement as `pulumi up` does it: create the new one, delete the old one
        // only at the end of the update (create-before-delete, deleteBeforeReplace: false).
        fs.appendFileSync(path.join(app.dir, "app.py"), `\n# release ${Date.now()}\n`);
        const next = await redeclare(s);
        const oldReg = s.run.named(SCHEDULER);
        const newReg = next.named(SCHEDULER);
        expect(newReg.inputs.image).not.toBe(oldReg.inputs.image);
        expect(newReg.opts.deleteBeforeReplace).toBe(false);
        const withOldScheduler = next.registrations.map((r) => (r.name === SCHEDULER ? oldReg : r));
        expect(await s.realization.update(withOldScheduler)).toEqual([
            `lernmanager-${STACK}-app`,
            `lernmanager-${STACK}-backups`,
        ]);

        const imageId = (await docker.getImage(newReg.inputs.image).inspect()).Id;
        const name = `${SCHEDULER}-${Date.now().toString(16).slice(-7)}`;
        newScheduler = await docker.createContainer(containerCreateBody(newReg, imageId, name));
        extra.push({
            kind: "container",
            logicalName: `${SCHEDULER}-new`,
            name,
            id: newScheduler.id,
            stopSeconds: SCHEDULER_STOP_GRACE_SECONDS,
        });
        // Started away from a tick: the old one may fire until the new one has claimed the schedule.
        await midMinute();
        await newScheduler.start();
        await waitHealthy(newScheduler, 120);
        newStartedMs = onClock(Date.parse((await newScheduler.inspect()).State.StartedAt));
        const newHost = (await newScheduler.inspect()).Config.Hostname;
        expect(newHost).not.toBe(oldHost);

        // Both run across two minute boundaries; in between, the old one restarts (as after a Docker
        // restart): retired, it stays idle.
        const startMinute = Math.floor(newStartedMs / 60000);
        await untilMinute(startMinute + 1, 20);
        await oldScheduler.restart({ t: SCHEDULER_STOP_GRACE_SECONDS });
        await untilMinute(startMinute + 2, 20);
        expect((await oldScheduler.inspect()).State.Running).toBe(true);

        // End of the update: the old scheduler is deleted (stop with its grace period, remove).
        oldLogs = await containerLogs(oldScheduler);
        const stopStart = Date.now();
        await oldScheduler.stop({ t: SCHEDULER_STOP_GRACE_SECONDS });
        const stopSeconds = (Date.now() - stopStart) / 1000;
        await oldScheduler.remove();
        oldRemovedMs = onClock(Date.now());
        const entry = s.realization.created.find((c) => c.kind === "container" && c.logicalName === SCHEDULER)!;
        s.realization.created.splice(s.realization.created.indexOf(entry), 1);

        // One more tick with the new scheduler alone.
        await untilMinute(minuteNow() + 1, 20);

        const all = await ticks(newScheduler);
        const versions = [...new Set(all.map((t) => t.version))];
        const perTick = new Map<number, number>();
        for (const t of all) perTick.set(t.minute, (perTick.get(t.minute) ?? 0) + 1);
        const minutes = [...perTick.keys()].sort((a, b) => a - b);
        const overlapTicks = all.filter((t) => t.minute * 60000 > newStartedMs && t.minute * 60000 < oldRemovedMs);
        console.log(
            `jobs during an overlapping update: ${all.length} runs for ${minutes.length} ticks ` +
                `(${minutes[0]}..${minutes[minutes.length - 1]}), runs per tick ${JSON.stringify([...perTick.values()])}, ` +
                `versions in order ${JSON.stringify(all.map((t) => t.version.slice(0, 8)))}, ` +
                `${overlapTicks.length} ticks while both schedulers ran (all fired by ${JSON.stringify([...new Set(overlapTicks.map((t) => t.host))])}), ` +
                `old scheduler stopped in ${stopSeconds.toFixed(1)} wall s (clock ${SPEED}x)`,
        );

        // Every tick exactly once, none missing from the first to the last.
        expect([...perTick.values()].every((n) => n === 1)).toBe(true);
        expect(minutes[minutes.length - 1] - minutes[0] + 1).toBe(minutes.length);
        expect(minutes.length).toBeGreaterThanOrEqual(4);
        // Two versions, old before new, and none from the old one after the new one started.
        expect(versions).toHaveLength(2);
        const oldRuns = all.filter((t) => t.host === oldHost);
        const newRuns = all.filter((t) => t.host === newHost);
        expect(oldRuns.length + newRuns.length).toBe(all.length);
        expect(oldRuns.every((t) => t.minute * 60000 <= newStartedMs)).toBe(true);
        expect(Math.max(...oldRuns.map((t) => t.minute))).toBeLessThan(Math.min(...newRuns.map((t) => t.minute)));
        expect(new Set(oldRuns.map((t) => t.version)).size).toBe(1);
        expect(new Set(newRuns.map((t) => t.version)).size).toBe(1);
        // The overlap spanned at least two ticks, each fired once, by the new scheduler.
        expect(overlapTicks.length).toBeGreaterThanOrEqual(2);
        expect(overlapTicks.every((t) => t.host === newHost)).toBe(true);
        expect(oldLogs).toMatch(new RegExp(`superseded by scheduler ${newHost}: this one fires nothing more`));
        expect(oldLogs).toMatch(new RegExp(`scheduler ${oldHost} was replaced by a newer one before: it stays idle`));
        expect(stopSeconds).toBeLessThan(SCHEDULER_STOP_GRACE_SECONDS);
    });

    test("the new scheduler's logs show each run's output and exit code", async () => {
        const logs = await containerLogs(newScheduler);
        expect(logs).toMatch(/owns the schedule \(took over from \w+, version \w+\)/);
        expect(logs).toMatch(/\[job ticks \d{4}-\d\d-\d\dT\d\d:\d\d\+01:00\] tick \d{4}-/);
        expect(logs).toMatch(/job ticks tick \S+: exit code 0 after \d+\.\d s\n/);
        expect(logs).toMatch(/\[job attendance \S+\] auto-attendance: 30 students marked present/);
        expect(logs).toMatch(/\[job reports \S+\] wrote \/app\/data\/reports\/\d{4}-W\d\d-klasse-7a\.pdf/);
    });

    test("the demo app's jobs did their work: attendance rows in the database, report PDFs", async () => {
        const logs = oldLogs + (await containerLogs(newScheduler));
        const { output } = await execIn(newScheduler, [
            "python3",
            "-c",
            "import demo_db; c = demo_db.connect(); print(c.execute('select count(*) from auto_attendance').fetchone()[0])",
        ]);
        // Each run prints the row count after its insert: one row per run is 1, 2, 3, ... in the
        // logs, old scheduler first. A run may end between reading the logs and the database
        // (a tick comes every 60/SPEED wall s).
        const marked = /\[job attendance \S+\] auto-attendance: 30 students marked present for \S+ \(run (\d+)\)/g;
        const runs = [...logs.matchAll(marked)].map((m) => Number(m[1]));
        expect(runs.length).toBeGreaterThanOrEqual(4);
        expect(runs).toEqual(runs.map((_, i) => i + 1));
        expect(Number(output.trim()) - runs.length).toBeGreaterThanOrEqual(0);
        expect(Number(output.trim()) - runs.length).toBeLessThanOrEqual(1);
        const pdf = await execIn(newScheduler, ["sh", "-c", "head -c 5 data/reports/*-klasse-7a.pdf"]);
        expect(pdf.output).toBe("%PDF-");
    });

    // Before the next test restarts the scheduler: `fails` has failed at every tick since it became
    // healthy, so Docker's health retries (wall seconds) have mostly been counted already.
    test("a failing job: exit code and output in the status file and the logs, and the scheduler turns unhealthy", async () => {
        const { output } = await execIn(newScheduler, ["cat", "/app/data/.lernmanager-jobs.json"]);
        const state = JSON.parse(output);
        expect(state.jobs.fails.last_failure).toMatchObject({ exitCode: 3, outputTail: ["about to fail"] });
        expect(state.jobs.ticks.last_run.exitCode).toBe(0);
        expect(state.jobs.ticks.last_failure).toBeUndefined();
        const logs = await containerLogs(newScheduler);
        expect(logs).toMatch(/\[job fails \S+\] about to fail\n/);
        expect(logs).toMatch(/job fails tick \S+: exit code 3 after \d+\.\d s FAILED/);
        let status = "";
        const deadline = Date.now() + 90000;
        while (Date.now() < deadline && status !== "unhealthy") {
            status = (await newScheduler.inspect()).State.Health?.Status ?? "none";
            if (status !== "unhealthy") await sleep(2000);
        }
        const health = (await newScheduler.inspect()).State.Health?.Log?.slice(-1)[0]?.Output ?? "";
        expect({ status, health: health.trim() }).toEqual({
            status: "unhealthy",
            health: expect.stringMatching(/^failed: fails \(tick \S+\)$/),
        });
    });

    test("a tick missed while the scheduler was stopped runs once, late, when it starts again", async () => {
        // Stopped well after tick m fired; tick m + 1 then comes while no scheduler runs.
        await midMinute();
        const m = minuteNow();
        await newScheduler.stop({ t: SCHEDULER_STOP_GRACE_SECONDS });
        await untilMinute(m + 1, 20); // tick m + 1 passes while no scheduler runs
        await newScheduler.start();
        const deadline = Date.now() + 30000;
        let all = await ticks(newScheduler);
        while (Date.now() < deadline && !all.some((t) => t.minute === m + 1)) {
            await sleep(1000);
            all = await ticks(newScheduler);
        }
        await sleep(3000);
        all = await ticks(newScheduler);
        expect(all.filter((t) => t.minute === m + 1)).toHaveLength(1);
        expect(all.filter((t) => t.minute === m)).toHaveLength(1);
        expect(new Set(all.map((t) => t.minute)).size).toBe(all.length);
        const logs = await containerLogs(newScheduler);
        expect(logs).toMatch(/job ticks tick \S+: start \(caught up, \d+ s late\)/);
        await waitHealthy(newScheduler, 60);
    });
});
