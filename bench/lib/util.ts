/** Small helpers shared by the benchmark's phases. */
import { spawn } from "child_process";

/** Prints one progress line on stderr (stdout stays free for the final table). */
export function log(line: string): void {
    const t = new Date().toISOString().slice(11, 19);
    process.stderr.write(`[bench ${t}] ${line}\n`);
}

export function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(values: number[]): number {
    if (values.length === 0) return NaN;
    const s = [...values].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Rounds to `digits` decimals (keeps JSON and tables readable). */
export function round(value: number, digits = 2): number {
    const f = 10 ** digits;
    return Math.round(value * f) / f;
}

export interface CommandResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
    readonly seconds: number;
}

/**
 * Runs a program (no shell) with a hard time limit; never throws for a non-zero exit, the caller
 * decides. A program still running at the limit is killed (its process group).
 */
export function run(
    cmd: string,
    args: string[],
    opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<CommandResult> {
    const started = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, {
            env: opts.env ?? process.env,
            cwd: opts.cwd,
            stdio: ["ignore", "pipe", "pipe"],
            detached: true,
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (c: Buffer) => out.push(c));
        child.stderr.on("data", (c: Buffer) => err.push(c));
        const timer = setTimeout(() => {
            try {
                if (child.pid) process.kill(-child.pid, "SIGKILL");
            } catch {
                // already gone
            }
        }, opts.timeoutMs);
        child.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            resolve({
                code: code ?? (signal ? 128 : -1),
                stdout: Buffer.concat(out).toString("utf8"),
                stderr: Buffer.concat(err).toString("utf8"),
                seconds: Number(process.hrtime.bigint() - started) / 1e9,
            });
        });
    });
}

/** Seconds since `start` (a process.hrtime.bigint() value). */
export function secondsSince(start: bigint): number {
    return Number(process.hrtime.bigint() - start) / 1e9;
}
