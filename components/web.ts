import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { stagedContext } from "../core/buildContext";
import { hashStrings } from "../core/contentHash";
import { LAYOUT } from "../core/layout";
import { CONTAINERS_DIR } from "../core/paths";
import { TLS_PATHS } from "../render/tls";
import { hardened, healthcheck, localImage } from "./hardening";

export interface WebServerArgs {
    /** Repository of the nginx image (tag = content hash). */
    readonly repository: string;
    /** Fixed container name (derived from the stack). */
    readonly containerName: string;
    /** Base nginx image (Debian-based). Plain string: part of the content hash. */
    readonly baseImage: string;
    /** Platform the image is built for, e.g. `linux/amd64`. */
    readonly platform: string;
    /** Text of nginx.conf with a keep-alive pool to the app (renderNginxConfs().pooled), for nginx >= 1.27.3. */
    readonly nginxConf: string;
    /** Text of nginx.conf for an older nginx (renderNginxConfs()["per-request"]); the image picks one. */
    readonly nginxConfPerRequest: string;
    /** Name of the stack's private network. */
    readonly network: pulumi.Input<string>;
    /** Static volume (mounted read-only) and uploads volume (read-only, for X-Accel-Redirect). */
    readonly volumes: {
        readonly static: pulumi.Input<string>;
        readonly uploads: pulumi.Input<string>;
        /** Request bodies and large answers on their way (read-write). */
        readonly spool: pulumi.Input<string>;
    };
    /** Host address and port nginx is published on. */
    readonly bindAddress: pulumi.Input<string>;
    readonly port: pulumi.Input<number>;
    /** The app container: nginx is created only once it is healthy. */
    readonly app: docker.Container;
    /** Memory limit in MiB (uploads wait on the spool volume, not in memory). @default 512 */
    readonly memoryMb?: number;
    /** The host supports swap limits (config hostSwapLimit). @default true */
    readonly hostSwapLimit?: boolean;
    readonly labels: pulumi.Input<docker.types.input.ContainerLabel>[];
    /** HTTPS: the TLS volume (read-only), the host port, the names the ACME server reaches nginx by. */
    readonly tls?: {
        readonly volume: pulumi.Input<string>;
        readonly port: pulumi.Input<number>;
        /** Network aliases on the stack network (domain and extra names). */
        readonly aliases: readonly string[];
        /** Created first: it writes the certificate nginx starts with. */
        readonly agent: docker.Container;
    };
    /**
     * The grading service's token (gradingServiceToken), when /grading/ forwards to it: start.sh
     * writes it into a file only nginx reads. Secret in the state, never in the image.
     */
    readonly gradingToken?: string;
}

/**
 * nginx's health check: itself (/nginx-health) and the app through it (/healthz), in bash.
 * interval 5 s, timeout 6 s, 3 retries, 20 s start period.
 */
export const NGINX_HEALTHCHECK = healthcheck(["CMD", "/bin/bash", "/etc/nginx/lernmanager/healthcheck.sh"], {
    every: 5,
    timeout: 6,
    retries: 3,
    startPeriod: 20,
});

/**
 * Container fields kreuzwerker v4.5.0 marks neither ForceNew nor updates in `ContainerUpdate`: a
 * change would show in every diff and never reach the container, so it replaces the container.
 * Their values must be written as the provider reads them back (durations: test/support/engineRules.ts).
 */
export const REPLACE_ON_CHANGES = ["healthcheck", "tmpfs", "init"] as const;

/** Kernel settings of nginx's own network namespace. */
export const NGINX_SYSCTLS = { "net.ipv4.tcp_tw_reuse": "1" } as const;

/** nginx's environment: the TLS files' places, the grading token (then the whole list is secret). */
function webEnvs(tls: boolean, gradingToken: string | undefined): { envs?: pulumi.Input<string[]> } {
    const envs = tls
        ? [`LM_TLS_CERT=${TLS_PATHS.certificate}`, `LM_TLS_KEY=${TLS_PATHS.key}`, `LM_TLS_PORT=${LAYOUT.nginxTlsPort}`]
        : [];
    if (gradingToken) return { envs: pulumi.secret([...envs, `LM_GRADING_TOKEN=${gradingToken}`]) };
    return envs.length > 0 ? { envs } : {};
}

/** The only container that publishes a port. */
export class WebServer extends pulumi.ComponentResource {
    public readonly image: docker.Image;
    public readonly container: docker.Container;

    constructor(name: string, args: WebServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lernmanager:web:WebServer", name, {}, opts);

        const tls = args.tls;
        // Built from a staged copy (core/buildContext.ts): the provider's context digest follows the tag.
        const { dir: context, hash } = stagedContext(path.join(CONTAINERS_DIR, "web"));
        const tag = hashStrings(hash, args.baseImage, args.nginxConf, args.nginxConfPerRequest);
        this.image = localImage(
            `${name}-image`,
            {
                imageName: `${args.repository}:${tag}`,
                context,
                args: {
                    BASE_IMAGE: args.baseImage,
                    NGINX_CONF: Buffer.from(args.nginxConf, "utf8").toString("base64"),
                    NGINX_CONF_PER_REQUEST: Buffer.from(args.nginxConfPerRequest, "utf8").toString("base64"),
                },
                platform: args.platform,
            },
            { parent: this },
        );

        this.container = new docker.Container(
            name,
            {
                name: args.containerName,
                image: this.image.repoDigest,
                networksAdvanced: [{ name: args.network, aliases: ["nginx", ...(tls?.aliases ?? [])] }],
                ports: [
                    { internal: LAYOUT.nginxPort, external: args.port, ip: args.bindAddress, protocol: "tcp" },
                    ...(tls
                        ? [{ internal: LAYOUT.nginxTlsPort, external: tls.port, ip: args.bindAddress, protocol: "tcp" }]
                        : []),
                ],
                mounts: [
                    { type: "volume", source: args.volumes.static, target: LAYOUT.staticDir, readOnly: true },
                    { type: "volume", source: args.volumes.uploads, target: LAYOUT.nginxUploadsDir, readOnly: true },
                    { type: "volume", source: args.volumes.spool, target: LAYOUT.nginxSpoolDir },
                    ...(tls ? [{ type: "volume", source: tls.volume, target: LAYOUT.tlsDir, readOnly: true }] : []),
                ],
                // start.sh waits for the certificate; healthcheck.sh checks HTTPS and reloads a renewed one.
                // (No envs without TLS or grading: an empty list would be a diff on existing stacks.)
                ...webEnvs(tls !== undefined, args.gradingToken),
                // The pid file, the certificate's checksum and nginx's unused temp folders: request bodies
                // wait on the spool volume, not here (a tmpfs counts against the memory limit).
                tmpfs: { "/tmp": "rw,nosuid,nodev,noexec,size=16m,mode=1777" },
                // nginx opens a new connection to gunicorn per request and closes it first, leaving a
                // TIME_WAIT socket for 60 s; without reuse, ~14,000 of them exhaust the source ports
                // and throughput drops to a third (bench/results/tuning.md).
                sysctls: NGINX_SYSCTLS,
                healthcheck: NGINX_HEALTHCHECK,
                wait: true,
                waitTimeout: 90,
                destroyGraceSeconds: 20,
                ...hardened({
                    memoryMb: args.memoryMb ?? 512,
                    openFiles: 8192,
                    swapLimit: args.hostSwapLimit,
                }),
                labels: [...args.labels, { label: "dev.lernmanager.role", value: "nginx" }],
            },
            {
                parent: this,
                dependsOn: [args.app, ...(tls ? [tls.agent] : [])],
                // Fields the provider neither replaces nor updates in place: a change would show in the diff
                // while the running container kept the old value.
                replaceOnChanges: [...REPLACE_ON_CHANGES],
                // A fixed name and a published port cannot exist twice: stop the old one first.
                deleteBeforeReplace: true,
            },
        );

        this.registerOutputs({ container: this.container.name });
    }
}
