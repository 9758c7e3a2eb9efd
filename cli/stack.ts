// What the operations scripts (`npm run backup|status|rollback`) know about a deployed stack: found on
// the Docker engine by the stack label (core/names.ts), through the docker CLI (DOCKER_HOST honoured),
// without the Pulumi CLI.
import { spawnSync } from "child_process";
import { STACK_LABEL } from "../core/names";

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

/** Parses the stack argument: exactly one, a plausible stack name. */
export function stackArg(argv: string[], usage: string): { stack: string; flags: string[] } {
    const positional = argv.filter((a) => !a.startsWith("--"));
    if (positional.length !== 1 || !/^[A-Za-z0-9_.-]+$/.test(positional[0])) {
        process.stderr.write(`${usage}\n`);
        process.exit(2);
    }
    return { stack: positional[0], flags: argv.filter((a) => a.startsWith("--")) };
}
