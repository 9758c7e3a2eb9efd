import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { projectRelative } from "../core/paths";

/**
 * The limits of one container (memory in MiB, no swap; open files). Its pids limit is set by a deploy
 * step (components/pidsLimit.ts): the provider has no field for it.
 */
export interface HardeningLimits {
    readonly memoryMb: number;
    /** The host supports swap limits (config hostSwapLimit). @default true */
    readonly swapLimit?: boolean;
    /** Open files (nofile ulimit); the Docker default when absent. */
    readonly openFiles?: number;
    /** Log rotation: size of one json-file log and how many are kept. @default 10m × 5 */
    readonly log?: { readonly maxSize: string; readonly files: number };
}

/**
 * What every container of the stack gets (app, scheduler, backups, nginx, TLS agent): a read-only
 * root, Docker's init as PID 1, restart unless stopped, no capabilities, no-new-privileges, a memory
 * limit without swap, rotated json-file logs. No nproc ulimit: the kernel counts it per user across
 * the whole host, and uid 10001 runs the app, scheduler and backups of every stack, so one stack's
 * processes would use up another's; the pids limit is per container (components/pidsLimit.ts).
 */
export function hardened(limits: HardeningLimits) {
    const log = limits.log ?? { maxSize: "10m", files: 5 };
    return {
        readOnly: true,
        init: true,
        restart: "unless-stopped",
        capabilities: { drops: ["ALL"] },
        securityOpts: ["no-new-privileges:true"],
        memory: limits.memoryMb,
        // Declared (no swap): the provider reads memory_swap back, and Docker would otherwise set twice
        // the memory and refuse a later raise beyond it. On a host without
        // swap-limit support Docker stores -1 whatever is asked (moby verifyPlatformContainerResources)
        // and the provider reads -1 back: declaring -1 there is what keeps the next `up` from an update.
        memorySwap: limits.swapLimit === false ? -1 : limits.memoryMb,
        ...(limits.openFiles ? { ulimits: [{ name: "nofile", soft: limits.openFiles, hard: limits.openFiles }] } : {}),
        logDriver: "json-file",
        logOpts: { "max-size": log.maxSize, "max-file": String(log.files) },
    } satisfies Partial<docker.ContainerArgs>;
}

/**
 * A health check with its durations written as the provider reads them back (Go's
 * time.Duration.String(): 60 s is "1m0s"), so a second `up` sees no change.
 */
export function healthcheck(
    tests: string[],
    t: { readonly every: number; readonly timeout: number; readonly retries: number; readonly startPeriod: number },
): docker.types.input.ContainerHealthcheck {
    return {
        tests,
        interval: goDuration(t.every),
        timeout: goDuration(t.timeout),
        retries: t.retries,
        startPeriod: goDuration(t.startPeriod),
    };
}

/** Whole seconds as Go's time.Duration.String() writes them: 5 → "5s", 60 → "1m0s", 125 → "2m5s". */
export function goDuration(seconds: number): string {
    if (!Number.isInteger(seconds) || seconds < 0) throw new Error(`goDuration: ${seconds} is not whole seconds`);
    const m = Math.floor(seconds / 60);
    const s = seconds % 60;
    if (m >= 60) return `${Math.floor(m / 60)}h${m % 60}m${s}s`;
    return m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** An image built on the Docker host from a folder of the project (or the app's source), never pushed. */
export interface LocalImageArgs {
    /** `repository:tag`; the tag is a content hash of everything the build reads. */
    readonly imageName: string;
    /** Absolute build context folder. */
    readonly context: string;
    /** Absolute Dockerfile path. @default `<context>/Dockerfile` */
    readonly dockerfile?: string;
    readonly args: Record<string, pulumi.Input<string>>;
    /** The school server's platform, e.g. linux/amd64. */
    readonly platform: string;
}

/**
 * The one way the stack builds an image: the classic builder (the engines here have no buildx),
 * paths relative to the project folder (two checkouts declare the same inputs), no push.
 */
export function localImage(name: string, args: LocalImageArgs, opts: pulumi.CustomResourceOptions): docker.Image {
    return new docker.Image(
        name,
        {
            imageName: args.imageName,
            skipPush: true,
            build: {
                context: projectRelative(args.context),
                dockerfile: projectRelative(args.dockerfile ?? path.join(args.context, "Dockerfile")),
                args: args.args,
                builderVersion: "BuilderV1",
                platform: args.platform,
            },
        },
        opts,
    );
}
