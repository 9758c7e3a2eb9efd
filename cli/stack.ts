// What the operations scripts (`npm run backup|status|rollback`) know about a deployed stack: found on
// the Docker engine the stack is deployed to (its docker:host, as the provider uses it) by the stack
// label (core/names.ts), through the docker CLI, without the Pulumi CLI.
import { spawnSync } from "child_process";
import { stackFileConfig } from "../config/baseStack";
import { type DockerEndpoint, dockerEndpoint } from "../config/docker";
import { STACK_LABEL } from "../core/names";
import { PROJECT_DIR } from "../core/paths";

export const RUNTIME_DIR = "/opt/lernmanager";

/** Runs the docker CLI; returns stdout, or throws with its stderr. */
export function docker(args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
    const r = spawnSync("docker", args, { encoding: "utf8", input: opts.input, maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0 && !opts.allowFail) {
        throw new Error(
            `docker ${args.slice(0, 3).join(" ")} ...: ${(r.stderr || r.stdout || String(r.error)).trim()}`,
        );
    }
    return r.stdout ?? "";
}

/** The running containers of a stack with a role (app, backup, scheduler, ...), newest first. */
export function containers(stack: string, role: string, all = false): string[] {
    return docker([
        "ps",
        ...(all ? ["-a"] : []),
        "--filter",
        `label=${STACK_LABEL}=${stack}`,
        "--filter",
        `label=dev.lernmanager.role=${role}`,
        "--format",
        "{{.Names}}",
    ])
        .split("\n")
        .filter(Boolean);
}

export interface ContainerFacts {
    readonly name: string;
    readonly image: string;
    readonly health: string;
    readonly running: boolean;
    readonly startedAt: string;
    /** LM_APP_VERSION from its environment (the app version the image was built for). */
    readonly version: string;
}

export function inspect(name: string): ContainerFacts {
    const [info] = JSON.parse(docker(["inspect", name]));
    const env: string[] = info.Config.Env ?? [];
    return {
        name,
        image: info.Image,
        health: info.State.Health?.Status ?? (info.State.Running ? "running" : info.State.Status),
        running: info.State.Running,
        startedAt: info.State.StartedAt,
        version: (env.find((e) => e.startsWith("LM_APP_VERSION=")) ?? "=unknown").split("=")[1],
    };
}

/** The one backup container of a stack (an error naming the stack when there is none). */
export function backupContainer(stack: string): string {
    const found = containers(stack, "backup");
    if (found.length === 0)
        throw new Error(
            `no running backup container of stack ${stack} (label ${STACK_LABEL}=${stack}, role backup): deploy it with \`pulumi up -s ${stack}\``,
        );
    return found[0];
}

/**
 * The Docker engine a stack is deployed to, as the provider finds it: the docker:host (and
 * docker:certPath) of the stack's own Pulumi.<stack>.yaml, else $DOCKER_HOST, else the local socket.
 */
export function stackEngine(
    stack: string,
    projectDir = PROJECT_DIR,
    env = process.env,
): DockerEndpoint & { from: string } {
    const raw = stackFileConfig(projectDir, stack) ?? {};
    const endpoint = dockerEndpoint(raw, env);
    const from = raw["docker:host"]
        ? `docker:host of Pulumi.${stack}.yaml`
        : env.DOCKER_HOST
          ? "$DOCKER_HOST"
          : `the local engine: no docker:host in Pulumi.${stack}.yaml`;
    return { ...endpoint, from };
}

/**
 * Parses the stack argument (exactly one, a plausible stack name; --help prints the usage and
 * touches nothing), then points every docker CLI this process starts at the stack's engine and
 * says which one on stderr.
 */
export function stackArg(argv: string[], usage: string): { stack: string; flags: string[] } {
    if (argv.includes("--help") || argv.includes("-h")) {
        process.stdout.write(`${usage}\n`);
        process.exit(0);
    }
    const positional = argv.filter((a) => !a.startsWith("--"));
    if (positional.length !== 1 || !/^[A-Za-z0-9_.-]+$/.test(positional[0])) {
        process.stderr.write(`${usage}\n`);
        process.exit(2);
    }
    const engine = stackEngine(positional[0]);
    Object.assign(process.env, engine.env);
    process.stderr.write(`Docker host: ${engine.host} (${engine.from})\n`);
    return { stack: positional[0], flags: argv.filter((a) => a.startsWith("--")) };
}
