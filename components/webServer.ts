import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { hashFolder, hashStrings } from "../lib/contentHash";
import { LAYOUT } from "../lib/layout";
import { FILES_DIR, projectRelative } from "../lib/paths";

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
    readonly volumes: { readonly static: pulumi.Input<string>; readonly uploads: pulumi.Input<string> };
    /** Host address and port nginx is published on. */
    readonly bindAddress: pulumi.Input<string>;
    readonly port: pulumi.Input<number>;
    /** The app container: nginx is created only once it is healthy. */
    readonly app: docker.Container;
    /** Memory limit in MiB (uploads are buffered in its /tmp tmpfs, which counts). @default 512 */
    readonly memoryMb?: number;
    /** nproc limit of the container user. @default 512 */
    readonly pidsLimit?: number;
    readonly labels: pulumi.Input<docker.types.input.ContainerLabel>[];
}

/**
 * nginx's health check: itself (/nginx-health) and the app through it (/healthz), in bash.
 * interval 5 s, timeout 6 s, 3 retries, 20 s start period.
 */
export const NGINX_HEALTHCHECK: docker.types.input.ContainerHealthcheck = {
    tests: ["CMD", "/bin/bash", "/etc/nginx/lernmanager/healthcheck.sh"],
    interval: "5s",
    timeout: "6s",
    retries: 3,
    startPeriod: "20s",
};

/**
 * Container fields kreuzwerker v4.5.0 marks neither ForceNew nor updates in `ContainerUpdate`: a
 * change would show in every diff and never reach the container, so it replaces the container.
 * Their values must be written as the provider reads them back (durations: test/support/engineRules.ts).
 */
export const REPLACE_ON_CHANGES = ["healthcheck", "tmpfs", "init"] as const;

/** Kernel settings of nginx's own network namespace. */
export const NGINX_SYSCTLS = { "net.ipv4.tcp_tw_reuse": "1" } as const;

/** The only container that publishes a port. */
export class WebServer extends pulumi.ComponentResource {
    public readonly image: docker.Image;
    public readonly container: docker.Container;

    constructor(name: string, args: WebServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lernmanager:web:WebServer", name, {}, opts);

        const context = path.join(FILES_DIR, "nginx");
        const tag = hashStrings(hashFolder(context), args.baseImage, args.nginxConf, args.nginxConfPerRequest);
        this.image = new docker.Image(
            `${name}-image`,
            {
                imageName: `${args.repository}:${tag}`,
                skipPush: true,
                build: {
                    context: projectRelative(context),
                    dockerfile: projectRelative(path.join(context, "Dockerfile")),
                    args: {
                        BASE_IMAGE: args.baseImage,
                        NGINX_CONF: Buffer.from(args.nginxConf, "utf8").toString("base64"),
                        NGINX_CONF_PER_REQUEST: Buffer.from(args.nginxConfPerRequest, "utf8").toString("base64"),
                    },
                    builderVersion: "BuilderV1",
                    platform: args.platform,
                },
            },
            { parent: this },
        );

        this.container = new docker.Container(
            name,
            {
                name: args.containerName,
                image: this.image.repoDigest,
                networksAdvanced: [{ name: args.network, aliases: ["nginx"] }],
                ports: [{ internal: LAYOUT.nginxPort, external: args.port, ip: args.bindAddress, protocol: "tcp" }],
                mounts: [
                    { type: "volume", source: args.volumes.static, target: LAYOUT.staticDir, readOnly: true },
                    { type: "volume", source: args.volumes.uploads, target: LAYOUT.nginxUploadsDir, readOnly: true },
                ],
                readOnly: true,
                tmpfs: { "/tmp": "rw,nosuid,nodev,size=512m,mode=1777" },
                // nginx opens a new connection to gunicorn per request and closes it first, leaving a
                // TIME_WAIT socket for 60 s; without reuse, ~14,000 of them exhaust the source ports
                // and throughput drops to a third (bench/results/tuning.md).
                sysctls: NGINX_SYSCTLS,
                init: true,
                restart: "unless-stopped",
                healthcheck: NGINX_HEALTHCHECK,
                wait: true,
                waitTimeout: 90,
                destroyGraceSeconds: 20,
                capabilities: { drops: ["ALL"] },
                securityOpts: ["no-new-privileges:true"],
                memory: args.memoryMb ?? 512,
                // Declared (no swap): Docker would set twice the first memory, refuse a raise beyond it
                // and the provider would read it back as a diff (issue 12, finding 6).
                memorySwap: args.memoryMb ?? 512,
                ulimits: [
                    { name: "nproc", soft: args.pidsLimit ?? 512, hard: args.pidsLimit ?? 512 },
                    { name: "nofile", soft: 8192, hard: 8192 },
                ],
                logDriver: "json-file",
                logOpts: { "max-size": "10m", "max-file": "5" },
                labels: [...args.labels, { label: "dev.lernmanager.role", value: "nginx" }],
            },
            {
                parent: this,
                dependsOn: [args.app],
                // Fields the provider neither replaces nor updates in place (issue 12, finding 7).
                replaceOnChanges: [...REPLACE_ON_CHANGES],
                // A fixed name and a published port cannot exist twice: stop the old one first.
                deleteBeforeReplace: true,
            },
        );

        this.registerOutputs({ container: this.container.name });
    }
}
