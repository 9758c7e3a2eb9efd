/** Runs wrk (bounded: its own duration, plus a hard kill) against 127.0.0.1 and reads its figures. */
import * as fs from "fs";
import { csrfToken, HTTPS_PORTS } from "../../test/support/http";
import * as os from "os";
import * as path from "path";
import { onCleanup } from "./docker";
import { run } from "./util";

export const WRK_SCRIPT = path.join(__dirname, "..", "wrk", "load.lua");
/** A request slower than this is a wrk "timeout" error (the uncached PDF under 32 connections is slow). */
export const WRK_TIMEOUT_SECONDS = 30;

export type WrkMode = "plain" | "cookie" | "write";

export interface WrkJob {
    readonly port: number;
    /** Path requested (in write mode: the read request; writes are POST /tasks/<id>/done). */
    readonly path: string;
    readonly connections: number;
    readonly seconds: number;
    readonly mode: WrkMode;
    /** Session cookies, one per simulated student (cookie and write modes). */
    readonly cookies?: readonly string[];
    /** Extra request headers (every workload sends a browser's Accept-Encoding). */
    readonly headers?: Readonly<Record<string, string>>;
    /** In write mode, one request in this many is a write. @default 4 */
    readonly writeEvery?: number;
}

export interface WrkErrors {
    readonly connect: number;
    readonly read: number;
    readonly write: number;
    /**
     * Answers that are not the page's: a status of 400 or more (wrk counts those) and, in cookie and
     * write modes, any other status than 200 (the app answers its errors with a 302 to / or the Referer).
     */
    readonly status: number;
    readonly timeout: number;
    readonly total: number;
}

export interface WrkResult {
    readonly requests: number;
    readonly seconds: number;
    readonly rps: number;
    readonly p50_ms: number;
    readonly p90_ms: number;
    readonly p99_ms: number;
    readonly mean_ms: number;
    readonly max_ms: number;
    /** Bytes received per response (headers included), as sent on the wire. */
    readonly bytesPerResponse: number;
    readonly errors: WrkErrors;
    readonly threads: number;
}

let scratchDir: string | undefined;
function scratch(): string {
    if (!scratchDir) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lmbench-"));
        scratchDir = dir;
        onCleanup(`scratch ${dir}`, async () => {
            fs.rmSync(dir, { recursive: true, force: true });
            scratchDir = undefined;
        });
    }
    return scratchDir;
}

/**
 * wrk threads: cookie and write modes use one connection per thread, so each connection keeps one
 * student's cookie for the whole run (wrk's Lua has no per-connection state); plain mode uses two
 * threads, one per core.
 */
export function threadsFor(job: Pick<WrkJob, "mode" | "connections">): number {
    return job.mode === "plain" ? Math.min(2, job.connections) : job.connections;
}

export async function runWrk(job: WrkJob): Promise<WrkResult> {
    const env: NodeJS.ProcessEnv = { ...process.env, LMBENCH_MODE: job.mode };
    if (job.mode !== "plain") {
        if (!job.cookies?.length) throw new Error(`wrk ${job.mode} mode needs cookies`);
        const file = path.join(scratch(), "cookies.txt");
        // One line per student: the cookie, a tab, the session's CSRF token (the writes send it).
        fs.writeFileSync(file, `${job.cookies.map((c) => `${c}\t${csrfToken(c) ?? ""}`).join("\n")}\n`);
        env.LMBENCH_COOKIES = file;
        env.LMBENCH_WRITE_EVERY = String(job.writeEvery ?? 4);
        // The Referer of the writes: the page they come from, same origin as the Host wrk sends.
        env.LMBENCH_ORIGIN = `${HTTPS_PORTS.has(job.port) ? "https" : "http"}://127.0.0.1:${job.port}`;
    }
    const seconds = Math.max(1, Math.round(job.seconds));
    const threads = threadsFor(job);
    const args = [
        "-t",
        String(threads),
        "-c",
        String(job.connections),
        "-d",
        `${seconds}s`,
        "--timeout",
        `${WRK_TIMEOUT_SECONDS}s`,
        "-s",
        WRK_SCRIPT,
    ];
    for (const [k, v] of Object.entries(job.headers ?? {})) args.push("-H", `${k}: ${v}`);
    args.push(`${HTTPS_PORTS.has(job.port) ? "https" : "http"}://127.0.0.1:${job.port}${job.path}`);
    const res = await run("wrk", args, { env, timeoutMs: (seconds + WRK_TIMEOUT_SECONDS + 15) * 1000 });
    const line = res.stdout.split("\n").find((l) => l.startsWith("LMBENCH_JSON "));
    if (res.code !== 0 || !line) {
        throw new Error(`wrk ${args.join(" ")} exited ${res.code}:\n${res.stdout}\n${res.stderr}`);
    }
    const j = JSON.parse(line.slice("LMBENCH_JSON ".length));
    const s = j.duration_us / 1e6;
    const errors = {
        connect: j.connect,
        read: j.read,
        write: j.write,
        status: j.status + (j.not_ok ?? 0),
        timeout: j.timeout,
        total: j.connect + j.read + j.write + j.status + (j.not_ok ?? 0) + j.timeout,
    };
    return {
        requests: j.requests,
        seconds: s,
        rps: s > 0 ? j.requests / s : 0,
        p50_ms: j.p50_us / 1000,
        p90_ms: j.p90_us / 1000,
        p99_ms: j.p99_us / 1000,
        mean_ms: j.mean_us / 1000,
        max_ms: j.max_us / 1000,
        bytesPerResponse: j.requests > 0 ? j.bytes / j.requests : 0,
        errors,
        threads,
    };
}
