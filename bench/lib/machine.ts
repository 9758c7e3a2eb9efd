/** Facts about the machine and the software a result was measured with. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { docker, runOnce } from "./docker";
import { run } from "./util";

const PROJECT_DIR = path.join(__dirname, "..", "..");

const VERSIONS_PY = `
import importlib.metadata as m, json, platform
out = {"python": platform.python_version()}
for name in ("gunicorn", "flask", "werkzeug", "jinja2", "waitress", "reportlab", "flask-caching"):
    try:
        out[name] = m.version(name)
    except m.PackageNotFoundError:
        out[name] = None
print(json.dumps(out))
`;

function osName(): string {
    try {
        const text = fs.readFileSync("/etc/os-release", "utf8");
        return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? "unknown";
    } catch {
        return "unknown";
    }
}

async function git(args: string[]): Promise<string> {
    const r = await run("git", args, { timeoutMs: 15000, cwd: PROJECT_DIR });
    return r.code === 0 ? r.stdout.trim() : "";
}

/** Machine, OS, Docker, tool versions and the state of the work tree. */
export async function machineFacts(images: { app: string; nginx: string }): Promise<Record<string, unknown>> {
    const info = await docker.info();
    const version = await docker.version();
    const py = await runOnce(images.app, ["python3", "-c", VERSIONS_PY]);
    const nginx = await runOnce(images.nginx, ["nginx", "-v"]);
    const wrk = await run("wrk", ["-v"], { timeoutMs: 10000 });
    const dirty = (await git(["status", "--porcelain"])).split("\n").filter(Boolean);
    return {
        cores: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? "unknown",
        memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
        os: osName(),
        kernel: os.release(),
        docker: {
            version: version.Version,
            apiVersion: version.ApiVersion,
            storageDriver: info.Driver,
            cgroupVersion: info.CgroupVersion,
            loggingDriver: info.LoggingDriver,
        },
        nginx: /nginx\/([\d.]+)/.exec(nginx.output)?.[1] ?? nginx.output.trim(),
        ...(JSON.parse(py.output.trim().split("\n").pop() ?? "{}") as Record<string, string>),
        node: process.version,
        wrk: /wrk ([^\s]+)/.exec(`${wrk.stdout}${wrk.stderr}`)?.[1] ?? "unknown",
        date: new Date().toISOString(),
        git: { head: await git(["rev-parse", "--short", "HEAD"]), uncommitted: dirty },
        notes: [
            "wrk runs on the same 2 cores as the servers (no CPU pinning).",
            "Published ports go through Docker's userland proxy (docker-proxy) on 127.0.0.1, for every variant alike.",
            "Another developer runs short e2e test bursts on this machine at the same time: every run records " +
                "the cores used by other work (samples[].cpu.foreignCores); runs above the limit are repeated and " +
                "left out of the medians (samples[].disturbed).",
        ],
    };
}
