import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR } from "../../core/paths";
import Docker from "dockerode";
import { runProgram, testConfig, ProgramRun, Registration } from "./mocks";
import { docker, realize, Realization } from "./realize";
import { freePort } from "./http";

export interface LiveStack {
    readonly stack: string;
    readonly port: number;
    /** Config the stack was declared with besides the test defaults. */
    readonly overrides: Record<string, string>;
    /** Environment the test added to some containers (`withTestEnv`), also in every `redeclare`. */
    readonly testEnv: TestEnv;
    readonly run: ProgramRun;
    readonly realization: Realization;
    /** The SECRET_KEY chosen for this stack (what the RandomPassword's state would hold). */
    readonly secretKey: string;
    app(): Docker.Container;
    nginx(): Docker.Container;
    /** Output of a command run inside a container (throws on a non-zero exit unless allowed). */
    exec(
        container: Docker.Container,
        cmd: string[],
        opts?: { allowFail?: boolean; user?: string },
    ): Promise<{ code: number; output: string }>;
    logs(container: Docker.Container): Promise<string>;
}

/**
 * Environment a test adds to containers, by the end of their logical name (e.g. `-scheduler`):
 * test-only knobs the runtime scripts read (the scheduler's LM_CRON_CLOCK, the backup loop's
 * LM_BACKUPD_SPEED) that no config key sets, so a real stack never gets them.
 */
export type TestEnv = Readonly<Record<string, readonly string[]>>;

/** The run with `env` appended to the declared environment of the containers it names. */
export function withTestEnv(run: ProgramRun, env: TestEnv): ProgramRun {
    if (Object.keys(env).length === 0) return run;
    const isContainer = (r: Registration) => r.type === "docker:index/container:Container";
    for (const suffix of Object.keys(env)) {
        if (!run.registrations.some((r) => isContainer(r) && r.name.endsWith(suffix)))
            throw new Error(`withTestEnv: no container named *${suffix}`);
    }
    const registrations = run.registrations.map((r) => {
        const added = Object.entries(env)
            .filter(([suffix]) => isContainer(r) && r.name.endsWith(suffix))
            .flatMap(([, e]) => e);
        return added.length ? { ...r, inputs: { ...r.inputs, envs: [...(r.inputs.envs ?? []), ...added] } } : r;
    });
    const same = (r: Registration) => registrations[run.registrations.indexOf(r)];
    return {
        ...run,
        registrations,
        ofType: (type) => run.ofType(type).map(same),
        named: (suffix) => same(run.named(suffix)),
    };
}

/**
 * Declares a stack under Pulumi's mocks with a test config (offline base images, a free
 * 127.0.0.1 port) and realizes it on the local Docker engine; `testEnv` is added to the
 * containers it names.
 */
export async function liveStack(
    stack: string,
    overrides: Record<string, string> = {},
    secretKey?: string,
    log: (line: string) => void = (l) => process.stdout.write(`    [${stack}] ${l}\n`),
    testEnv: TestEnv = {},
): Promise<LiveStack> {
    const port = Number(overrides["lernmanager:port"] ?? (await freePort()));
    const key = secretKey ?? randomBytes(32).toString("hex");
    const declared = await runProgram(testConfig({ "lernmanager:port": String(port), ...overrides }), {
        stack,
        secretKey: key,
    });
    const run = withTestEnv(declared, testEnv);
    const realization = await realize(run.registrations, { log });
    const self: LiveStack = {
        stack,
        port,
        overrides,
        testEnv,
        run,
        realization,
        secretKey: key,
        app: () => realization.container(`${stack}-app`),
        nginx: () => realization.container(`${stack}-nginx`),
        exec: (container, cmd, opts = {}) => execIn(container, cmd, opts),
        logs: (container) => containerLogs(container),
    };
    return self;
}

export async function execIn(
    container: Docker.Container,
    cmd: string[],
    opts: { allowFail?: boolean; user?: string } = {},
): Promise<{ code: number; output: string }> {
    const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, User: opts.user });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
        const sink = { write: (c: Buffer) => chunks.push(c) } as unknown as NodeJS.WritableStream;
        docker.modem.demuxStream(stream, sink, sink);
        stream.on("end", () => resolve());
        stream.on("error", reject);
    });
    const info = await exec.inspect();
    const output = Buffer.concat(chunks).toString("utf8");
    const code = info.ExitCode ?? -1;
    if (code !== 0 && !opts.allowFail) throw new Error(`${cmd.join(" ")} exited ${code}: ${output}`);
    return { code, output };
}

/** Processes of a container read from /proc (minimal images have no ps). */
export interface Proc {
    pid: number;
    ppid: number;
    uid: number;
    threads: number;
    cmd: string;
}

const PS = `
import json, os
out = []
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode().strip()
        st = dict(l.split(":\\t", 1) for l in open(f"/proc/{pid}/status").read().splitlines() if ":\\t" in l)
        out.append({"pid": int(pid), "ppid": int(st["PPid"]), "uid": int(st["Uid"].split()[0]), "threads": int(st["Threads"]), "cmd": cmd})
    except OSError:
        pass
print(json.dumps(out))
`;

export async function processes(container: Docker.Container): Promise<Proc[]> {
    const { output } = await execIn(container, ["python3", "-c", PS]);
    return JSON.parse(output.trim().split("\n").pop()!);
}

/** gunicorn's master and its workers in the app container. */
export async function gunicornProcesses(container: Docker.Container): Promise<{ master: Proc; workers: Proc[] }> {
    const procs = (await processes(container)).filter((p) => p.cmd.includes("gunicorn"));
    const pids = new Set(procs.map((p) => p.pid));
    const masters = procs.filter((p) => !pids.has(p.ppid));
    if (masters.length !== 1) throw new Error(`expected one gunicorn master, found ${JSON.stringify(procs)}`);
    return { master: masters[0], workers: procs.filter((p) => p.ppid === masters[0].pid) };
}

/** stdout + stderr of a container as text (Docker's 8-byte frame headers removed). */
export async function containerLogs(container: Docker.Container): Promise<string> {
    const raw = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    const parts: Buffer[] = [];
    let i = 0;
    while (i + 8 <= raw.length) {
        const size = raw.readUInt32BE(i + 4);
        parts.push(raw.subarray(i + 8, i + 8 + size));
        i += 8 + size;
    }
    return Buffer.concat(parts).toString("utf8");
}

/** A scratch copy of demo-app/ to change between deploys; `remove()` deletes it. */
export function copyOfDemoApp(): { dir: string; remove(): void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-app-copy-"));
    fs.cpSync(path.join(PROJECT_DIR, "demo-app"), dir, { recursive: true });
    return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The program run again for the same live stack (same port, same secret, same overrides, same
 * test environment), plus changes.
 */
export async function redeclare(s: LiveStack, changes: Record<string, string> = {}): Promise<ProgramRun> {
    const run = await runProgram(testConfig({ ...s.overrides, "lernmanager:port": String(s.port), ...changes }), {
        stack: s.stack,
        secretKey: s.secretKey,
    });
    return withTestEnv(run, s.testEnv);
}
