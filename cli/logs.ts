// `npm run logs -- <stack> [--since 1h] [--tail N] [--follow]`: the logs of the stack's app, nginx and
// scheduler containers in one stream, each line prefixed with its container's role, in time order
// (--follow: as they come). Talks to the engine docker:host names (no Pulumi CLI needed).
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { stackFile, stackFileConfig, withBaseStack } from "../config/baseStack";
import { dockerEndpoint } from "../config/docker";
import { STACK_LABEL } from "../core/names";
import { PROJECT_DIR } from "../core/paths";

const USAGE = "usage: npm run logs -- <stack> [--since 1h] [--tail 200] [--follow]";

function run(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn("docker", args, { env, stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.on("error", reject);
        child.on("close", (code) =>
            code === 0 ? resolve(out) : reject(new Error(`docker ${args[0]} exited ${code}`)),
        );
    });
}

/** Splits `docker logs --timestamps` output into lines keyed by their timestamp. */
export function stamped(role: string, text: string): { at: string; line: string }[] {
    return text
        .split("\n")
        .filter(Boolean)
        .map((l) => ({ at: l.slice(0, l.indexOf(" ")), line: `${role.padEnd(9)} | ${l}` }));
}

async function main(argv: string[]): Promise<number> {
    const stack = argv[0];
    const opt = (name: string) => {
        const i = argv.indexOf(name);
        return i > 0 ? argv[i + 1] : undefined;
    };
    if (argv.includes("--help") || argv.includes("-h")) {
        console.log(USAGE);
        return 0;
    }
    if (!stack || stack.startsWith("--")) {
        console.log(USAGE);
        return 1;
    }
    const project = (YAML.parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as { name: string })
        .name;
    const own = stackFileConfig(PROJECT_DIR, stack) ?? {};
    const raw = withBaseStack(own, project, PROJECT_DIR, new Set(Object.keys(stackFile(PROJECT_DIR, stack) ?? {})));
    const endpoint = dockerEndpoint(raw, process.env);
    const env = { ...process.env, ...endpoint.env };
    process.stderr.write(`Docker host: ${endpoint.host}\n`);
    const ps = await run(
        [
            "ps",
            "--filter",
            `label=${STACK_LABEL}=${stack}`,
            "--format",
            '{{.Names}}\t{{.Label "dev.lernmanager.role"}}',
        ],
        env,
    );
    const containers = ps
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\t") as [string, string])
        .filter(([, role]) => ["app", "nginx", "scheduler"].includes(role));
    if (!containers.length) {
        console.error(
            `logs: no running container of stack ${stack} on ${env.DOCKER_HOST} (\`pulumi up -s ${stack}\` first?)`,
        );
        return 1;
    }
    const args = [
        "logs",
        "--timestamps",
        "--since",
        opt("--since") ?? "1h",
        ...(opt("--tail") ? ["--tail", opt("--tail")!] : []),
    ];
    if (argv.includes("--follow")) {
        for (const [name, role] of containers) {
            const child = spawn("docker", [...args, "--follow", name], { env });
            for (const stream of [child.stdout, child.stderr])
                stream.on("data", (d: Buffer) => stamped(role, d.toString()).forEach((s) => console.log(s.line)));
        }
        return new Promise<number>(() => undefined); // until Ctrl-C
    }
    const all: { at: string; line: string }[] = [];
    for (const [name, role] of containers) {
        const out = await new Promise<string>((resolve, reject) => {
            const child = spawn("docker", [...args, name], { env });
            let text = "";
            child.stdout.on("data", (d: Buffer) => (text += d.toString()));
            child.stderr.on("data", (d: Buffer) => (text += d.toString()));
            child.on("error", reject);
            child.on("close", () => resolve(text));
        });
        all.push(...stamped(role, out));
    }
    all.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)).forEach((s) => console.log(s.line));
    return 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (err: unknown) => {
            console.error(`logs: ${(err as Error).message}`);
            process.exitCode = 1;
        },
    );
}
