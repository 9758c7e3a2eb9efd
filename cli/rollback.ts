// `npm run rollback -- <stack> [--with-data]`: back to the previous app version without a rebuild.
// The previous image is the one the image janitor keeps (imageJanitorScripts keeps 2 tags per
// repository). The app containers are swapped the way an update does it, without downtime: a new
// container of the previous image with exactly the running one's settings starts beside it, joins
// the network alias, becomes healthy, and only then the old one stops gracefully (its drain, core/timings.ts).
// The scheduler and backup containers follow. --with-data then restores the backup taken before
// the deploy that is rolled back (cli/restore.sh: safety backup, writers stopped,
// restart), saying how many minutes of writes that discards. The next `pulumi up` deploys what the
// stack's config says again.
import { spawnSync } from "child_process";
import Docker from "dockerode";
import { ROLLBACK_LABEL } from "../render/deploy";
import { stackPrefix } from "../core/names";
import { TIMINGS } from "../core/timings";
import { previousImage as previousByTagTime } from "./previousImage";
import { containers, docker as cli, RUNTIME_DIR, stackArg } from "./stack";

// Made once the stack's engine is known (stackArg sets DOCKER_HOST): dockerode reads it when created.
let engine: Docker;
const say = (text: string) => process.stdout.write(`rollback: ${text}\n`);

/** The app image deployed before `current` (cli/previousImage.ts: by tag time, not creation time). */
function previousImage(stack: string, current: string): { ref: string; id: string } | undefined {
    const repo = `${stackPrefix("lernmanager", stack)}-app`;
    const images = cli(["image", "ls", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", repo])
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split(" "))
        .map(([ref, id]) => ({
            ref,
            id,
            lastTagTime: JSON.parse(
                cli(["image", "inspect", "--format", "{{json .Metadata.LastTagTime}}", ref]),
            ) as string,
        }));
    const found = previousByTagTime(images, current);
    return found && { ref: found.ref, id: found.id };
}

/** The environment for the new container: the previous image's own variables, the stack's on top. */
async function envFor(container: Docker.ContainerInspectInfo, image: string): Promise<string[]> {
    const current = new Set((await engine.getImage(container.Image).inspect()).Config.Env ?? []);
    const previous = (await engine.getImage(image).inspect()).Config.Env ?? [];
    const own = (container.Config.Env ?? []).filter((e) => !current.has(e));
    const names = new Set(own.map((e) => e.split("=")[0]));
    return [...previous.filter((e) => !names.has(e.split("=")[0])), ...own];
}

async function waitHealthy(c: Docker.Container, seconds: number): Promise<void> {
    for (let i = 0; i < seconds; i++) {
        const s = (await c.inspect()).State;
        if (s.Health?.Status === "healthy") return;
        if (!s.Running) throw new Error(`exited with ${s.ExitCode}`);
        await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`not healthy within ${seconds} s`);
}

/** Starts a copy of `name` on `image`, waits until healthy, then stops and removes `name`. */
async function swap(name: string, image: string, stopSeconds: number): Promise<string> {
    const info = await engine.getContainer(name).inspect();
    const nets = info.NetworkSettings.Networks ?? {};
    const endpoints = Object.fromEntries(
        Object.entries(nets).map(([net, e]) => [
            net,
            { Aliases: (e.Aliases ?? []).filter((a: string) => a === "app") },
        ]),
    );
    const base = info.Name.replace(/^\//, "").replace(/-[0-9a-f]{7}$/, "");
    const newName = `${base}-${Date.now().toString(16).slice(-7)}`;
    const created = await engine.createContainer({
        name: newName,
        Image: image,
        Env: await envFor(info, image),
        // Removed by the next deploy once its new containers are healthy (the smoke step).
        Labels: { ...info.Config.Labels, [ROLLBACK_LABEL]: new Date().toISOString() },
        Healthcheck: info.Config.Healthcheck,
        ...(info.Config.Labels?.["dev.lernmanager.role"] === "app"
            ? {}
            : { Entrypoint: info.Config.Entrypoint, Cmd: info.Config.Cmd }),
        HostConfig: info.HostConfig,
        NetworkingConfig:
            Object.keys(nets).length === 1 && info.HostConfig.NetworkMode !== "none"
                ? { EndpointsConfig: endpoints }
                : undefined,
    } as Docker.ContainerCreateOptions);
    await created.start();
    if (info.Config.Healthcheck) await waitHealthy(created, 180);
    const old = engine.getContainer(name);
    await old.stop({ t: stopSeconds }).catch(() => undefined);
    await old.remove().catch(() => undefined);
    return newName;
}

/** The backup taken before `version` was deployed (named `<db>-<time>-<version>.db`), with its time. */
function backupBefore(stack: string, version: string): { file: string; takenMs: number } | undefined {
    const backup = containers(stack, "backup")[0];
    if (!backup) return undefined;
    const list = cli(["exec", backup, "python3", "-OO", `${RUNTIME_DIR}/lm_backup.py`, "list", "--dir", "/backups"]);
    const file = list
        .split("\n")
        .map((l) => l.split("\t")[0])
        .filter((f) => f.endsWith(`-${version}.db`))
        .pop();
    const m = file && /-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)\d*Z-/.exec(file);
    return m ? { file: file!, takenMs: Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`) } : undefined;
}

async function main(): Promise<number> {
    const { stack, flags } = stackArg(process.argv.slice(2), "usage: npm run rollback -- <stack> [--with-data]");
    engine = new Docker();
    const apps = containers(stack, "app");
    if (apps.length === 0) throw new Error(`stack ${stack} has no running app container`);
    const current = await engine.getContainer(apps[0]).inspect();
    const version = (current.Config.Env ?? []).find((e) => e.startsWith("LM_APP_VERSION="))?.split("=")[1] ?? "?";
    const prev = previousImage(stack, current.Image);
    if (!prev) throw new Error(`no previous app image of stack ${stack} is kept: nothing to roll back to`);
    const data = flags.includes("--with-data") ? backupBefore(stack, version) : undefined;
    if (flags.includes("--with-data") && !data)
        throw new Error(`no backup taken before version ${version} was deployed`);
    say(`app ${version} -> ${prev.ref} (kept image, no rebuild)`);
    const started = Date.now();
    for (const name of apps) say(`app container ${name} -> ${await swap(name, prev.id, TIMINGS.appStopGraceSeconds)}`);
    for (const role of ["scheduler", "backup"])
        for (const name of containers(stack, role))
            say(`${role} container ${name} -> ${await swap(name, prev.id, 60)}`);
    say(`code rolled back in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (data) {
        const minutes = Math.round((Date.now() - data.takenMs) / 60000);
        say(
            `--with-data: restoring ${data.file}, taken before ${version} was deployed: this discards the last ${minutes} minute(s) of writes (a safety backup keeps them)`,
        );
        const r = spawnSync("bash", [`${__dirname}/restore.sh`, stack, data.file], { stdio: "inherit" });
        if (r.status !== 0) return 1;
    }
    say(
        `done. The next \`pulumi up -s ${stack}\` deploys the stack's config again (revert the app change first) and removes these containers.`,
    );
    return 0;
}

main().then(
    (code) => process.exit(code),
    (e) => {
        process.stderr.write(`rollback: ${(e as Error).message}\n`);
        process.exit(1);
    },
);
