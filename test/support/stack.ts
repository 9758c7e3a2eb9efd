import { randomBytes } from "crypto";
import Docker from "dockerode";
import { runProgram, testConfig, ProgramRun } from "./mocks";
import { docker, realize, Realization } from "./realize";
import { freePort } from "./http";

export interface LiveStack {
    readonly stack: string;
    readonly port: number;
    readonly run: ProgramRun;
    readonly realization: Realization;
    /** The SECRET_KEY chosen for this stack (what the RandomPassword's state would hold). */
    readonly secretKey: string;
    app(): Docker.Container;
    nginx(): Docker.Container;
    /** Output of a command run inside a container (throws on a non-zero exit unless allowed). */
    exec(container: Docker.Container, cmd: string[], opts?: { allowFail?: boolean; user?: string }): Promise<{ code: number; output: string }>;
    logs(container: Docker.Container): Promise<string>;
}

/**
 * Declares a stack under Pulumi's mocks with a test config (offline base images, a free
 * 127.0.0.1 port) and realizes it on the local Docker engine.
 */
export async function liveStack(stack: string, overrides: Record<string, string> = {}, secretKey?: string): Promise<LiveStack> {
    const port = Number(overrides["lernmanager:port"] ?? (await freePort()));
    const key = secretKey ?? randomBytes(32).toString("hex");
    const run = await runProgram(testConfig({ "lernmanager:port": String(port), ...overrides }), { stack, secretKey: key });
    const realization = await realize(run.registrations, { log: (l) => process.stdout.write(`    [${stack}] ${l}\n`) });
    const self: LiveStack = {
        stack,
        port,
        run,
        realization,
        secretKey: key,
        app: () => realization.container(`${stack}-app`),
        nginx: () => realization.container(`${stack}-nginx`),
        exec: (container, cmd, opts = {}) => execIn(container, cmd, opts),
        logs: async (container) => (await container.logs({ stdout: true, stderr: true })).toString("utf8"),
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
