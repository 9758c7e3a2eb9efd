import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { SCRATCH_TMPFS } from "../lib/deploySteps";
import { LAYOUT } from "../lib/layout";

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
    /** The app's environment besides SECRET_KEY (lib/appEnv.ts `appEnvironment`). */
    readonly env: Readonly<Record<string, string>>;
    /** SECRET_KEY (secret; kept in the stack's state). */
    readonly secretKey: pulumi.Input<string>;
    /** Memory limit in MiB. @default 1024 */
    readonly memoryMb?: number;
    /** nproc limit of the container user (the provider has no pids-limit field). @default 512 */
    readonly pidsLimit?: number;
    /** Resources the container is created after (the deploy steps before it). @default [] */
    readonly after?: pulumi.Resource[];
    /** Labels on the container. */
    readonly labels: pulumi.Input<docker.types.input.ContainerLabel>[];
}

/**
 * The app's health check: /healthz through Python (slim images have no curl).
 * interval 5 s, timeout 4 s, 3 retries, 60 s start period (init may create the schema).
 */
export const APP_HEALTHCHECK: docker.types.input.ContainerHealthcheck = {
    tests: ["CMD", "python3", `${LAYOUT.runtimeDir}/healthcheck.py`],
    interval: "5s",
    timeout: "4s",
    retries: 3,
    startPeriod: "60s",
};

/** The app container's tmpfs mounts: /tmp and the app's scratch folders. */
export function appTmpfs(scratchPaths: readonly string[]): Record<string, string> {
    return {
        "/tmp": "rw,nosuid,nodev,size=256m,mode=1777",
        ...Object.fromEntries(scratchPaths.map((p) => [`${LAYOUT.appDir}/${p}`, SCRATCH_TMPFS])),
    };
}

/** Seconds in-flight requests get after SIGTERM: gunicorn's graceful_timeout (30) plus margin. */
export const APP_STOP_GRACE_SECONDS = 40;

/**
 * Kernel settings of the app container's network namespace. With SYN cookies off, a listener that
 * gunicorn has shrunk to `listen(0)` while stopping drops a second simultaneous connection attempt
 * instead of answering it with a cookie, so no connection is admitted after the plug that stops
 * admission (files/runtime/lm_drain.py). Only nginx can reach the app: there is no SYN flood to fend off.
 */
export const APP_SYSCTLS = { "net.ipv4.tcp_syncookies": "0" } as const;

/**
 * The gunicorn app container. It has no fixed name (Pulumi adds a suffix), so a replacement is
 * created and healthy before the old container is deleted; both answer the network alias `app`.
 * `wait: true` makes the deploy wait for the health check: a crash-looping app fails the deploy.
 */
export class AppService extends pulumi.ComponentResource {
    public readonly container: docker.Container;

    constructor(name: string, args: AppServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lernmanager:app:AppService", name, {}, opts);

        const envs = pulumi
            .output(args.secretKey)
            .apply((key) => [`SECRET_KEY=${key}`, ...Object.entries(args.env).map(([k, v]) => `${k}=${v}`)]);

        this.container = new docker.Container(
            name,
            {
                image: args.image,
                envs: pulumi.secret(envs),
                networksAdvanced: [{ name: args.network, aliases: [LAYOUT.appAlias] }],
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
                readOnly: true,
                tmpfs: appTmpfs(args.scratchPaths ?? []),
                sysctls: APP_SYSCTLS,
                init: true,
                restart: "unless-stopped",
                healthcheck: APP_HEALTHCHECK,
                wait: true,
                waitTimeout: 180,
                destroyGraceSeconds: APP_STOP_GRACE_SECONDS,
                capabilities: { drops: ["ALL"] },
                securityOpts: ["no-new-privileges:true"],
                memory: args.memoryMb ?? 1024,
                ulimits: [{ name: "nproc", soft: args.pidsLimit ?? 512, hard: args.pidsLimit ?? 512 }],
                logDriver: "json-file",
                logOpts: { "max-size": "10m", "max-file": "5" },
                labels: [...args.labels, { label: "dev.lernmanager.role", value: "app" }],
            },
            { parent: this, dependsOn: args.after, replaceOnChanges: ["healthcheck"], deleteBeforeReplace: false },
        );

        this.registerOutputs({ container: this.container.name });
    }
}
