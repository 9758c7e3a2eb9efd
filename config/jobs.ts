import * as fs from "fs";
import * as path from "path";
import { CONTAINERS_DIR } from "../core/paths";
/**
 * Scheduled jobs (config key `jobs`): their validation, and the cron expressions' fields. The
 * scheduler in the container (containers/runtime/jobs/lm_cron.py) parses the same expressions the same way; a
 * unit test runs both over the same table.
 */
import { parseList } from "./lists";
import type { KeyReader } from "./reader";
import type { KeySpec } from "./spec";

export const JOBS_KEYS = {
    jobs: {
        kind: "objects",
        default: [],
        description:
            "Scheduled jobs, a list of {name, schedule (cron, 5 fields), command (run in the app folder), timeZone (IANA, default UTC), nothingToDoExitCodes (exit codes that mean \"nothing to do\", not a failure; default [1] for the real app's generate_weekly_reports.py, which exits 1 when there is no report, else [])}; run by a scheduler container of the app image with the app's volumes and environment.",
    },
} as const satisfies Record<string, KeySpec>;

export type JobsKey = keyof typeof JOBS_KEYS;

export function readJobs(r: KeyReader<JobsKey>): { jobs: JobSpec[] } {
    return { jobs: parseJobs(r.given("jobs"), `${r.ns}jobs`, r.problems) };
}

/** One job as the scheduler receives it. */
export interface JobSpec {
    /** Short name (lowercase letters, digits, `-`), unique in the stack; shown in logs and the status file. */
    readonly name: string;
    /** 5-field cron expression (minute hour day-of-month month day-of-week) or a macro like `@daily`. */
    readonly schedule: string;
    /** Shell command run in the app folder (`/bin/sh -c`), e.g. `python3 generate_weekly_reports.py`. */
    readonly command: string;
    /** IANA time zone the schedule is read in. @default "UTC" */
    readonly timeZone: string;
    /**
     * Exit codes that mean "nothing to do" (logged and recorded as such; the scheduler stays healthy).
     * @default [1] for a command that runs generate_weekly_reports.py, else []
     */
    readonly nothingToDoExitCodes: readonly number[];
}

/**
 * The real Lernmanager's weekly report script exits 1 when it wrote no report (a new or empty school,
 * every Monday): by default that is "nothing to do" for a job that runs it, not an alarm.
 */
export const WEEKLY_REPORTS_SCRIPT = /(^|[\s/])generate_weekly_reports\.py(\s|$)/;

/** A job's nothingToDoExitCodes when it gives none. */
export function defaultNothingToDo(command: string): number[] {
    return WEEKLY_REPORTS_SCRIPT.test(command) ? [1] : [];
}

/** The values each field of a cron expression matches (day of week: 0 = Sunday). */
export interface CronFields {
    readonly minute: number[];
    readonly hour: number[];
    readonly dayOfMonth: number[];
    readonly month: number[];
    readonly dayOfWeek: number[];
}

export class CronError extends Error {}

/** The dialect's tables, shared with the scheduler (containers/runtime/jobs/lm_cronexpr.py). */
const CRON = JSON.parse(fs.readFileSync(path.join(CONTAINERS_DIR, "runtime", "jobs", "cron.json"), "utf8")) as {
    fields: [string, number, number][];
    monthNames: string[];
    dayNames: string[];
    macros: Record<string, string>;
    daysInMonth: number[];
};
const FIELDS = CRON.fields;
const MONTH_NAMES = CRON.monthNames;
const DAY_NAMES = CRON.dayNames;
const MACROS = CRON.macros;
const DAYS_IN_MONTH = CRON.daysInMonth;

function fieldValue(text: string, field: string, lo: number, hi: number, names?: readonly string[]): number {
    const word = text.toLowerCase();
    if (names?.includes(word)) return names.indexOf(word) + (field === "month" ? 1 : 0);
    if (!/^\d+$/.test(text)) throw new CronError(`${field}: "${text}" is not a number${names ? " or a name" : ""}`);
    const n = Number(text);
    if (n < lo || n > hi) throw new CronError(`${field}: ${n} is outside ${lo}-${hi}`);
    return n;
}

function parseField(text: string, field: string, lo: number, hi: number, names?: readonly string[]): Set<number> {
    const values = new Set<number>();
    for (const part of text.split(",")) {
        const slash = part.indexOf("/");
        const span = slash < 0 ? part : part.slice(0, slash);
        let step = 1;
        if (slash >= 0) {
            const stepText = part.slice(slash + 1);
            if (!/^\d+$/.test(stepText) || Number(stepText) < 1)
                throw new CronError(`${field}: step "${stepText}" must be a whole number of 1 or more`);
            step = Number(stepText);
        }
        let a: number;
        let b: number;
        if (span === "*") [a, b] = [lo, hi];
        else if (span.includes("-")) {
            const dash = span.indexOf("-");
            a = fieldValue(span.slice(0, dash), field, lo, hi, names);
            b = fieldValue(span.slice(dash + 1), field, lo, hi, names);
            if (a > b) throw new CronError(`${field}: range "${span}" runs backwards`);
        } else if (slash >= 0) throw new CronError(`${field}: a step needs a range or * before it ("${part}")`);
        else a = b = fieldValue(span, field, lo, hi, names);
        for (let v = a; v <= b; v += step) values.add(v);
    }
    return values;
}

/** Parses a cron expression like Vixie cron (and lm_cron.py); throws CronError naming the field. */
export function cronFields(expression: string): CronFields {
    const text = MACROS[expression.trim().toLowerCase()] ?? expression;
    const parts = text.trim().split(/\s+/).filter(Boolean);
    if (parts.length !== 5)
        throw new CronError(`needs 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
    const sets = parts.map((part, i) => {
        const [field, lo, hi] = FIELDS[i];
        const names = field === "month" ? MONTH_NAMES : field === "day of week" ? DAY_NAMES : undefined;
        return parseField(part, field, lo, hi, names);
    });
    const sorted = (s: Set<number>) => [...s].sort((x, y) => x - y);
    const [minute, hour, dayOfMonth, month] = sets.map(sorted);
    const dayOfWeek = sorted(new Set([...sets[4]].map((d) => (d === 7 ? 0 : d))));
    if (parts[4].startsWith("*") && !month.some((m) => dayOfMonth.some((d) => d <= DAYS_IN_MONTH[m - 1])))
        throw new CronError("never fires: no month in the expression has such a day");
    return { minute, hour, dayOfMonth, month, dayOfWeek };
}

/** True when the time zone is a name the IANA database (Node's ICU; tzdata in the image) knows. */
export function isTimeZone(tz: string): boolean {
    if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(tz)) return false;
    try {
        const resolved = new Intl.DateTimeFormat("en", { timeZone: tz }).resolvedOptions().timeZone;
        // ICU ignores case; the tzdata files in the image do not.
        return resolved === tz || resolved.toLowerCase() !== tz.toLowerCase();
    } catch {
        return false;
    }
}

const NAME_RE = /^[a-z][a-z0-9-]{0,39}$/;
const JOB_FIELDS = ["name", "schedule", "command", "timeZone", "nothingToDoExitCodes"];
const EXAMPLE =
    "lernmanager:jobs:\n      - name: weekly-reports\n        schedule: 0 0 * * 1\n        command: python3 generate_weekly_reports.py\n        timeZone: Europe/Berlin";

/**
 * Reads the `jobs` key (a JSON list of objects, as Pulumi hands structured config to a program).
 * Every problem is pushed to `problems`, naming the key, the job and the fix.
 */
export function parseJobs(value: string | undefined, key: string, problems: string[]): JobSpec[] {
    if (value === undefined || value.trim() === "") return [];
    const fixList = `Fix: set it in Pulumi.<stack>.yaml as a list of objects, e.g.\n    ${EXAMPLE}`;
    const parsed = parseList(value, key, "a list of jobs", fixList, problems);
    if (!parsed) return [];
    const jobs: JobSpec[] = [];
    const seen = new Set<string>();
    parsed.forEach((entry: unknown, i: number) => {
        const where = `${key}[${i}]`;
        if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
            problems.push(
                `${where} = ${JSON.stringify(entry)}: must be an object with ${JOB_FIELDS.join(", ")}. ${fixList}`,
            );
            return;
        }
        const job = entry as Record<string, unknown>;
        const label = typeof job.name === "string" && job.name ? `${where} (job "${job.name}")` : where;
        const before = problems.length;
        for (const field of Object.keys(job)) {
            if (!JOB_FIELDS.includes(field))
                problems.push(
                    `${label}: unknown field "${field}". Fix: use only ${JOB_FIELDS.join(", ")} (timeZone and nothingToDoExitCodes are optional).`,
                );
        }
        const name = job.name;
        if (typeof name !== "string" || !NAME_RE.test(name)) {
            problems.push(
                `${label}: name = ${JSON.stringify(name)} must be 1-40 lowercase letters, digits or "-", starting with a letter ` +
                    `(it names the job in logs and the status file). Fix: e.g. name: weekly-reports`,
            );
        } else if (seen.has(name)) {
            problems.push(`${label}: the name "${name}" is used twice. Fix: give each job its own name.`);
        } else seen.add(name);
        const schedule = job.schedule;
        if (typeof schedule !== "string") {
            problems.push(
                `${label}: schedule is missing. Fix: a cron expression, e.g. schedule: "0 0 * * 1" (Mondays 00:00).`,
            );
        } else {
            try {
                cronFields(schedule);
            } catch (e) {
                if (!(e instanceof CronError)) throw e;
                problems.push(
                    `${label}: schedule = ${JSON.stringify(schedule)} is not a valid cron expression: ${e.message}. ` +
                        `Fix: 5 fields minute hour day-of-month month day-of-week, e.g. "0 0 * * 1" (Mondays 00:00) or "30 6 * * *" (daily 06:30).`,
                );
            }
        }
        const command = job.command;
        if (typeof command !== "string" || command.trim() === "" || command.includes("\0")) {
            problems.push(
                `${label}: command must be a non-empty shell command run in the app folder. Fix: e.g. command: flask --app app auto-attendance`,
            );
        }
        const timeZone = job.timeZone ?? "UTC";
        if (typeof timeZone !== "string" || !isTimeZone(timeZone)) {
            problems.push(
                `${label}: timeZone = ${JSON.stringify(job.timeZone)} is not a known IANA time zone. Fix: e.g. timeZone: Europe/Berlin (or leave it out for UTC).`,
            );
        }
        const codes = job.nothingToDoExitCodes ?? defaultNothingToDo(typeof command === "string" ? command : "");
        if (
            !Array.isArray(codes) ||
            codes.some((c) => typeof c !== "number" || !Number.isInteger(c) || c < 1 || c > 255)
        ) {
            problems.push(
                `${label}: nothingToDoExitCodes = ${JSON.stringify(job.nothingToDoExitCodes)} must be a list of exit codes from 1 to 255 ` +
                    `(0 is success anyway). Fix: e.g. nothingToDoExitCodes: [1] (the weekly reports: no report this week), or [] to count every non-zero exit as a failure.`,
            );
        }
        if (problems.length === before)
            jobs.push({
                name: name as string,
                schedule: schedule as string,
                command: command as string,
                timeZone: timeZone as string,
                nothingToDoExitCodes: [...new Set(codes as number[])].sort((a, b) => a - b),
            });
    });
    return jobs;
}
