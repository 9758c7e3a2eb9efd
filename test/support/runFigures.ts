import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR } from "../../core/paths";
import { POOLED_MIN_NGINX_VERSION } from "../../render/upstream";
import { TEST_IMAGES } from "./baseImages";
import type { QueuedFigure } from "./figures";
import { APP_KEYS } from "../../config/app";
import { nginxAtLeast } from "./nginxCheck";

/**
 * The file of one test run's figures: bench/results/runs/<started>-<commit>.json. A run is one
 * `npm test` (scripts/test.sh sets LM_RUN_ID for both its lanes) or one jest process (its start
 * time). Nothing from another run is merged into it.
 */
export const RUNS_DIR = process.env.LM_RUNS_DIR ?? path.join(PROJECT_DIR, "bench", "results", "runs");

const output = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: "utf8", cwd: PROJECT_DIR, timeout: 60000 });
    return r.status === 0 ? `${r.stdout}${r.stderr}`.trim() : "unknown";
};

function runStarted(): string {
    if (process.env.LM_RUN_ID) return process.env.LM_RUN_ID;
    const started = new Date(Date.now() - process.uptime() * 1000);
    return `${started.toISOString().slice(0, 19).replace(/:/g, "-")}Z`;
}

export function runFile(): string {
    const commit = process.env.LM_RUN_COMMIT ?? output("git", ["rev-parse", "HEAD"]);
    return path.join(RUNS_DIR, `${runStarted()}-${commit.slice(0, 12)}.json`);
}

const DEFAULT_APP_QUEUE: string = APP_KEYS.appQueue.default;

/** What a reader needs to weigh a figure: which code, when, where, with which nginx. */
export function runFacts(): Record<string, unknown> {
    const nginx = output("docker", ["run", "--rm", "--network", "none", TEST_IMAGES.nginx, "nginx", "-v"]);
    const changed = output("git", ["status", "--porcelain", "--untracked-files=no"]);
    return {
        started: runStarted(),
        // scripts/test.sh notes HEAD at the start; a lone jest run reads it at its first figure.
        commit: process.env.LM_RUN_COMMIT ?? output("git", ["rev-parse", "HEAD"]),
        // Figures of a working tree with changes do not belong to the commit alone.
        uncommittedChanges: changed === "unknown" ? "unknown" : changed !== "",
        ci: process.env.CI === "true",
        // The form a stack with the default appQueue runs (a test may set another: pooledUpstream.test.ts).
        appQueue: DEFAULT_APP_QUEUE,
        nginx: {
            image: TEST_IMAGES.nginx,
            version: nginx,
            upstream:
                nginx === "unknown"
                    ? "unknown"
                    : DEFAULT_APP_QUEUE === "per-worker" && nginxAtLeast(nginx, POOLED_MIN_NGINX_VERSION)
                      ? "pooled"
                      : "per-request",
        },
        machine: {
            cores: os.cpus().length,
            memoryGiB: Math.round(os.totalmem() / 2 ** 30),
            kernel: os.release(),
            node: process.version,
            docker: output("docker", ["version", "--format", "{{.Server.Version}}"]),
        },
    };
}

/** Adds figures of passed tests to this run's file (two lanes may write at once: a lock folder). */
export function writePassedFigures(figures: readonly QueuedFigure[]): string {
    const file = runFile();
    fs.mkdirSync(RUNS_DIR, { recursive: true });
    const lock = `${file}.lock`;
    const until = Date.now() + 30000;
    for (;;) {
        try {
            fs.mkdirSync(lock);
            break;
        } catch {
            if (Date.now() > until) throw new Error(`${lock} is held for 30 s: remove it if no test runs`);
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        }
    }
    try {
        const data = fs.existsSync(file)
            ? JSON.parse(fs.readFileSync(file, "utf8"))
            : { run: runFacts(), figures: {} as Record<string, unknown> };
        for (const f of figures) {
            data.figures[f.name] = {
                ...f.figure,
                test: `${path.relative(PROJECT_DIR, f.file)} › ${f.test}`,
                passed: true,
                at: new Date().toISOString(),
            };
        }
        fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(data, null, 2)}\n`);
        fs.renameSync(`${file}.tmp`, file);
        return file;
    } finally {
        fs.rmdirSync(lock);
    }
}
