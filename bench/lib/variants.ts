/**
 * The four ways to serve the demo app, each started on 127.0.0.1 only:
 *   flask-dev  Flask's built-in server (threaded, as `flask run`) from the app image, in the process that ran init
 *   waitress   the demo app's run.py (init, then waitress with 32 threads), from the app image
 *   gunicorn   the app container exactly as declared, plus its port published (no nginx)
 *   stack      the whole declared stack (nginx -> gunicorn), realized as the program declares it
 *   stack-https the same stack with tls internal (a school CA made by the stack), driven over HTTPS
 * The two baselines reuse the declared app container's settings (memory limit, read-only root,
 * tmpfs, dropped capabilities, init, health check) and change only the command, the network and
 * the volumes, so the server is the only difference.
 */
import Docker from "dockerode";
import { ProgramRun } from "../../test/support/mocks";
import { containerCreateBody, realize, Realization } from "../../test/support/realize";
import { eventually, freePort, HTTPS_PORTS, request } from "../../test/support/http";
import { TEST_IMAGES } from "../../test/support/baseImages";
import { appContainerOf, declare, imagesOf, nginxContainerOf, realizable, Tune } from "./declare";
import { BENCH_LABEL, docker, OBJECT_PREFIX, onCleanup, removeContainer, STACK_PREFIX } from "./docker";
import { VariantName } from "./options";
import { log } from "./util";

export interface RunningVariant {
    readonly name: VariantName;
    /** Published on 127.0.0.1. */
    readonly port: number;
    /** The app container (logins run inside it). */
    readonly app: Docker.Container;
    /** Every container of the variant (memory is summed over them). */
    readonly containers: { role: string; container: Docker.Container }[];
    /** Seconds from "create" to answering /login. */
    readonly startSeconds: number;
    /** For the realized variants (gunicorn, stack): the declaration and what was created from it. */
    readonly declared?: ProgramRun;
    readonly realization?: Realization;
    stop(): Promise<void>;
}

const APP_PORT = 8000;

/** Adds a 127.0.0.1 port binding for the app's port to a create body. */
export function publish(body: Docker.ContainerCreateOptions, port: number): Docker.ContainerCreateOptions {
    return {
        ...body,
        ExposedPorts: { [`${APP_PORT}/tcp`]: {} },
        HostConfig: {
            ...body.HostConfig,
            PortBindings: { [`${APP_PORT}/tcp`]: [{ HostIp: "127.0.0.1", HostPort: String(port) }] },
        },
    };
}

/**
 * The declaration without nginx: its image and container, and whatever is created after them
 * (dependsOn, transitively: the smoke test through nginx), with the app container's port published.
 */
export function appOnly(run: ProgramRun, port: number): ProgramRun["registrations"] {
    const nginx = nginxContainerOf(run).name;
    const dropped = new Set([nginx, imagesOf(run).nginx.name]);
    const regs = realizable(run);
    for (let grew = true; grew;) {
        grew = false;
        for (const r of regs) {
            if (!dropped.has(r.name) && r.opts.dependsOn.some((d) => dropped.has(d))) {
                dropped.add(r.name);
                grew = true;
            }
        }
    }
    const app = appContainerOf(run).name;
    return regs
        .filter((r) => !dropped.has(r.name))
        .map((r) =>
            r.name === app
                ? {
                      ...r,
                      inputs: {
                          ...r.inputs,
                          ports: [{ internal: APP_PORT, external: port, ip: "127.0.0.1", protocol: "tcp" }],
                      },
                  }
                : r,
        );
}

async function realized(
    name: VariantName,
    stack: string,
    regs: (run: ProgramRun, port: number) => ProgramRun["registrations"],
    tune?: Tune | null,
    https = false,
): Promise<RunningVariant> {
    const httpPort = await freePort();
    // HTTPS: the measured port is the HTTPS one (wrk and `request` speak TLS on it).
    const port = https ? await freePort() : httpPort;
    const config: Record<string, string> = https
        ? {
              "lernmanager:tls": "internal",
              "lernmanager:domain": "bench.lernmanager.test",
              "lernmanager:httpsPort": String(port),
              "lernmanager:tlsImage": TEST_IMAGES.tls,
          }
        : {};
    if (https) HTTPS_PORTS.add(port);
    const run = await declare(stack, httpPort, config, tune ?? undefined);
    const started = Date.now();
    const realization: Realization = await realize(regs(run, port), { log: (l) => log(`[${stack}] ${l}`) });
    const stop = onCleanup(`stack ${stack}`, () => realization.teardown());
    await eventually(60, async () => (await request(port, "/login")).status === 200, `${name} answers /login`);
    const containers = [{ role: "app", container: realization.container(`${stack}-app`) }];
    if (name !== "gunicorn") containers.push({ role: "nginx", container: realization.container(`${stack}-nginx`) });
    return {
        name,
        port,
        app: containers[0].container,
        containers,
        startSeconds: (Date.now() - started) / 1000,
        declared: run,
        realization,
        stop,
    };
}

/** A baseline server in a container made from the declared app container with another command. */
async function baseline(
    name: VariantName,
    appImageId: string,
    command: string[],
    env: string[],
): Promise<RunningVariant> {
    const port = await freePort();
    const run = await declare(`${STACK_PREFIX}baseline`, port);
    const declared = containerCreateBody(appContainerOf(run), appImageId, `${OBJECT_PREFIX}${name}`);
    const body = publish(
        {
            ...declared,
            Entrypoint: command,
            Env: [...(declared.Env ?? []), ...env],
            Labels: { [BENCH_LABEL]: name },
            NetworkingConfig: undefined,
            HostConfig: {
                ...declared.HostConfig,
                NetworkMode: "bridge",
                // Anonymous volumes where the declared container has named ones (removed with it).
                Mounts: undefined,
                Binds: undefined,
            },
            Volumes: { "/app/data": {}, "/app/instance/uploads": {}, "/var/cache/lernmanager": {}, "/srv/static": {} },
        },
        port,
    );
    await removeContainer(body.name!);
    const started = Date.now();
    const container = await docker.createContainer(body);
    const stop = onCleanup(`container ${body.name}`, () => removeContainer(container.id));
    await container.start();
    await eventually(90, async () => (await request(port, "/login")).status === 200, `${name} answers /login`);
    log(`started ${body.name} on 127.0.0.1:${port}`);
    return {
        name,
        port,
        app: container,
        containers: [{ role: "app", container }],
        startSeconds: (Date.now() - started) / 1000,
        stop,
    };
}

/**
 * Starts one variant; `appImageId` is the declared app image (built beforehand). `as` starts a
 * realized variant under another stack name with its own tune (null: none), for A/B comparisons.
 */
export async function startVariant(
    name: VariantName,
    appImageId: string,
    as?: { stack: string; tune: Tune | null },
): Promise<RunningVariant> {
    log(`starting variant ${name}${as ? ` as ${as.stack}` : ""}`);
    switch (name) {
        case "flask-dev":
            return baseline(
                name,
                appImageId,
                // Flask's development server (threaded, as `flask run`), in the process that ran the
                // init hook: the app's analytics writer runs there, as under waitress and gunicorn.
                [
                    "python3",
                    "-c",
                    'from app import app, init_app; init_app(); app.run(host="0.0.0.0", port=8000, threaded=True)',
                ],
                [],
            );
        case "waitress":
            return baseline(name, appImageId, ["python3", "run.py"], ["HOST=0.0.0.0", `PORT=${APP_PORT}`]);
        case "gunicorn":
            return realized(name, as?.stack ?? `${STACK_PREFIX}gunicorn`, appOnly, as?.tune);
        case "stack":
            return realized(name, as?.stack ?? `${STACK_PREFIX}stack`, (run) => realizable(run), as?.tune);
        case "stack-https":
            return realized(name, as?.stack ?? `${STACK_PREFIX}https`, (run) => realizable(run), as?.tune, true);
    }
}
