import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { SCRATCH_TMPFS } from "../render/deploy";
import { LAYOUT } from "../core/layout";
import { TIMINGS } from "../core/timings";
import { REPLACE_ON_CHANGES } from "./web";
import { hardened, healthcheck } from "./hardening";

export interface AppServiceArgs {
    /** Image id the container runs (AppImage.imageId). */
    readonly image: pulumi.Input<string>;
    /** Name of the stack's private network. */
    readonly network: pulumi.Input<string>;
    /** Volume names. */
    readonly volumes: {
        readonly data: pulumi.Input<string>;
        readonly uploads: pulumi.Input<string>;
        readonly static: pulumi.Input<string>;
        readonly cache: pulumi.Input<string>;
    };
    /** Folders inside the app that the data and uploads volumes are mounted on. */
    readonly dataPath: string;
    readonly uploadsPath: string;
    /** Further persistent folders inside the app and the volumes they live on. @default [] */
    readonly persistent?: readonly { readonly path: string; readonly volume: pulumi.Input<string> }[];
    /** Folders inside the app on a tmpfs (scratch space). @default [] */
    readonly scratchPaths?: readonly string[];
    /** The app's environment besides SECRET_KEY (render/app.ts `appEnvironment`). */
    readonly env: Readonly<Record<string, string>>;
    /** SECRET_KEY (secret; kept in the stack's state). */
    readonly secretKey: pulumi.Input<string>;
    /** Memory limit in MiB. @default 1024 */
    readonly memoryMb?: number;
    /** The host supports swap limits (config hostSwapLimit). @default true */
    readonly hostSwapLimit?: boolean;
    /** Resources the container is created after (the deploy steps before it). @default [] */
    readonly after?: pulumi.Resource[];
    /** Labels on the container. */
    readonly labels: pulumi.Input<docker.types.input.ContainerLabel>[];
}

/**
 * The part of the app container's spec that every container running the app's code gets the same:
 * the image, the environment (SECRET_KEY included, secret), the volumes and tmpfs, the hardening
 * (read-only root, no capabilities, no-new-privileges), the limits and the log rotation.
 */
export function appContainerSpec(args: AppServiceArgs) {
    const envs = pulumi
        .output(args.secretKey)
        .apply((key) => [`SECRET_KEY=${key}`, ...Object.entries(args.env).map(([k, v]) => `${k}=${v}`)]);
    return {
        image: args.image,
        envs: pulumi.secret(envs),
        mounts: [
            { type: "volume", source: args.volumes.data, target: `${LAYOUT.appDir}/${args.dataPath}` },
            { type: "volume", source: args.volumes.uploads, target: `${LAYOUT.appDir}/${args.uploadsPath}` },
            { type: "volume", source: args.volumes.static, target: LAYOUT.staticDir },
            { type: "volume", source: args.volumes.cache, target: LAYOUT.cacheDir },
            ...(args.persistent ?? []).map((p) => ({
                type: "volume",
                source: p.volume,
                target: `${LAYOUT.appDir}/${p.path}`,
            })),
        ],
        tmpfs: appTmpfs(args.scratchPaths ?? []),
        ...hardened({
            memoryMb: args.memoryMb ?? 1024,
            swapLimit: args.hostSwapLimit,
        }),
    } satisfies docker.ContainerArgs;
}

/**
 * The app's health check: /healthz through Python (slim images have no curl).
 * interval 5 s, timeout 4 s, 3 retries, 60 s start period (init may create the schema).
 * Durations as the provider reads them back (Go's time.Duration.String(): 60 s is "1m0s"), so a
 * second `up` sees no change.
 */
export const APP_HEALTHCHECK = healthcheck(["CMD", "python3", `${LAYOUT.runtimeDir}/healthcheck.py`], {
    every: 5,
    timeout: 4,
    retries: 3,
    startPeriod: 60,
});

/** The app container's tmpfs mounts: /tmp and the app's scratch folders. */
export function appTmpfs(scratchPaths: readonly string[]): Record<string, string> {
    return {
        "/tmp": "rw,nosuid,nodev,size=256m,mode=1777",
        ...Object.fromEntries(scratchPaths.map((p) => [`${LAYOUT.appDir}/${p}`, SCRATCH_TMPFS])),
    };
}

/**
 * Options of every container running the app's image (app, scheduler, backups): auto-named, the new
 * one created before the old one is deleted, replaced on the fields the provider neither replaces
 * nor updates (components/web.ts REPLACE_ON_CHANGES).
 */
export function createBeforeDelete(parent: pulumi.Resource, after?: pulumi.Resource[]): pulumi.CustomResourceOptions {
    return { parent, dependsOn: after, replaceOnChanges: [...REPLACE_ON_CHANGES], deleteBeforeReplace: false };
}

/**
 * A container of the app's image (app, scheduler, backups): `appContainerSpec`, then its own fields
 * (which may replace the spec's), its role label, created before the old one is deleted.
 */
export function appImageContainer(
    parent: pulumi.Resource,
    name: string,
    args: AppServiceArgs,
    role: string,
    fields: Omit<docker.ContainerArgs, "image" | "labels">,
    after?: pulumi.Resource[],
): docker.Container {
    return new docker.Container(
        name,
        {
            ...appContainerSpec(args),
            ...fields,
            labels: [...args.labels, { label: "dev.lernmanager.role", value: role }],
        },
        createBeforeDelete(parent, after ?? args.after),
    );
}

/**
 * Seconds the app container gets after SIGTERM before it is killed: gunicorn's graceful stop, its
 * linger before exit and a margin (core/timings.ts `appStopGraceSeconds`).
 */
export const APP_STOP_GRACE_SECONDS = TIMINGS.appStopGraceSeconds;

/**
 * Kernel settings of the app container's network namespace. With SYN cookies off, a listener that
 * gunicorn has shrunk to `listen(0)` while stopping drops a second simultaneous connection attempt
 * instead of answering it with a cookie, so no connection is admitted after the plug that stops
 * admission (containers/runtime/app/lm_drain.py). Only nginx can reach the app: there is no SYN flood to fend off.
 */
export const APP_SYSCTLS = { "net.ipv4.tcp_syncookies": "0" } as const;

/** Seconds a new app container (and the deploy's candidate run of it) may take to become healthy. */
export const APP_WAIT_SECONDS = 180;

/**
 * The gunicorn app container. It has no fixed name (Pulumi adds a suffix), so a replacement is
 * created and healthy before the old container is deleted; both answer the network alias `app`.
 * `wait: true` makes the deploy wait for the health check: a crash-looping app fails the deploy.
 */
export class AppService extends pulumi.ComponentResource {
    public readonly container: docker.Container;
    /** The arguments it was created with: the scheduler runs with the same (components/jobs.ts). */
    public readonly args: AppServiceArgs;

    constructor(name: string, args: AppServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lernmanager:app:AppService", name, {}, opts);
        this.args = args;

        this.container = appImageContainer(this, name, args, "app", {
            networksAdvanced: [{ name: args.network, aliases: [LAYOUT.appAlias] }],
            sysctls: APP_SYSCTLS,
            healthcheck: APP_HEALTHCHECK,
            wait: true,
            waitTimeout: APP_WAIT_SECONDS,
            destroyGraceSeconds: APP_STOP_GRACE_SECONDS,
        });

        this.registerOutputs({ container: this.container.name });
    }
}
