import { SchoolError } from "./errors";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const UNITS: Record<string, number> = { d: DAY, h: HOUR, m: MINUTE };

/** Parses an age such as `7d`, `12h` or `30m` (a positive whole number and one unit) into milliseconds. */
export function parseAge(text: string): number {
    const m = /^(\d+)([dhm])$/.exec(text.trim());
    const n = m ? Number(m[1]) : NaN;
    if (!m || !Number.isSafeInteger(n) || n < 1) {
        throw new SchoolError(
            `--older-than ${JSON.stringify(text)} is not an age: use a positive whole number followed by d (days), ` +
                `h (hours) or m (minutes), for example --older-than 7d`,
        );
    }
    return n * UNITS[m[2]];
}

/** A duration for people: `3d 4h`, `5h 12m`, `7m` (negative durations, i.e. clock skew, are `0m`). */
export function formatAge(ms: number): string {
    const t = Math.max(0, ms);
    const d = Math.floor(t / DAY);
    const h = Math.floor((t % DAY) / HOUR);
    const m = Math.floor((t % HOUR) / MINUTE);
    if (d > 0) return `${d}d ${h}h`;
    if (h > 0) return `${h}h ${m}m`;
    return `${m}m`;
}

/** A point in time as `2025-11-20 09:15 UTC`. */
export function formatTime(date: Date): string {
    return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
