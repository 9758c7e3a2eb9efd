import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync } from "child_process";
import { PROJECT_DIR } from "../../core/paths";

/**
 * Figures the reliability tests measure (failed requests, recovery seconds, lost writes), collected
 * into bench/results/reliability-<date>.json with machine facts, one file per day and run.
 */
const FILE = path.join(
    PROJECT_DIR,
    "bench",
    "results",
    `reliability-${process.env.LM_RELIABILITY_DATE ?? new Date().toISOString().slice(0, 10)}.json`,
);

export function recordFigure(name: string, figure: Record<string, unknown>): void {
    fs.mkdirSync(path.dirname(FILE), { recursive: true });
    const existing = fs.existsSync(FILE)
        ? JSON.parse(fs.readFileSync(FILE, "utf8"))
        : { machine: machineFacts(), figures: {} };
    existing.figures[name] = { ...figure, at: new Date().toISOString() };
    existing.machine = machineFacts();
    fs.writeFileSync(FILE, `${JSON.stringify(existing, null, 2)}\n`);
}

function machineFacts(): Record<string, unknown> {
    const version = (cmd: string, args: string[]) => {
        try {
            return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
                .trim()
                .split("\n")[0];
        } catch {
            return "unknown";
        }
    };
    return {
        cores: os.cpus().length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        kernel: os.release(),
        node: process.version,
        docker: version("docker", ["version", "--format", "{{.Server.Version}}"]),
        ci: process.env.CI === "true",
    };
}
