import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { JobSpec } from "../config/jobs";
import { LAYOUT } from "../core/layout";
import { appImageContainer, AppServiceArgs } from "./appService";
import { healthcheck } from "./hardening";

/**
 * The app container's arguments (`AppService.args`: image, environment, volumes, limits; the network,
 * joined without the app's alias; the steps it comes after, i.e. the migration; the labels) plus the jobs.
 */
export interface SchedulerArgs extends AppServiceArgs {
    /** The jobs (validated by config/load.ts); at least one. */
    readonly jobs: readonly JobSpec[];
    /** Where the app keeps its admin (config admin*): the scheduler puts back a recreated default password. */
    readonly adminGuard?: AdminGuardSpec;
}

/** lm_guard.py's arguments: the database file in the container and where the admin is kept. */
export interface AdminGuardSpec {
    readonly database: string;
    readonly table: string;
    readonly usernameColumn: string;
    readonly hashColumn: string;
    readonly username: string;
    readonly defaultPassword: string;
}

/**
 * The scheduler's health check (`lm_cron.py --health`): unhealthy when its loop has been silent for
 * 60 s, when the last run of a job in this container failed (until that job's next run succeeds),
 * or when it was superseded by a newer scheduler more than 10 minutes ago and still runs.
 * Durations under a minute, so the provider reads them back unchanged.
 */
export const SCHEDULER_HEALTHCHECK = healthcheck(
    ["CMD", "python3", "-OO", `${LAYOUT.runtimeDir}/lm_cron.py`, "--health"],
    {
        every: 10,
        timeout: 5,
        retries: 3,
        startPeriod: 30,
    },
);

/** Seconds a running job gets to finish when the scheduler is deleted (after a deploy). */
export const SCHEDULER_STOP_GRACE_SECONDS = 60;

/** The scheduler's entrypoint in the app image. */
export const SCHEDULER_ENTRYPOINT = ["python3", "-OO", `${LAYOUT.runtimeDir}/lm_cron.py`];

/** The scheduler's arguments: the jobs and the admin guard as JSON (a pure function of the config). */
export function schedulerCommand(jobs: readonly JobSpec[], adminGuard?: AdminGuardSpec): string[] {
    return [
        "--jobs",
        JSON.stringify(
            jobs.map((j) => ({
                name: j.name,
                schedule: j.schedule,
                command: j.command,
                timeZone: j.timeZone,
                nothingToDoExitCodes: j.nothingToDoExitCodes,
            })),
        ),
        ...(adminGuard ? ["--admin-guard", JSON.stringify(adminGuard)] : []),
    ];
}

/**
 * Runs the app's scheduled jobs: one container of the current app image with exactly the app
 * container's environment, volumes, tmpfs and hardening (`appContainerSpec`), running
 * containers/runtime/jobs/lm_cron.py. Auto-named and created before the old one is deleted
 * (`deleteBeforeReplace: false`): while both run during an update, the newer one owns the
 * schedule and the older one fires nothing more (a lock-guarded state file in the data volume).
 */
export class Scheduler extends pulumi.ComponentResource {
    public readonly container: docker.Container;

    constructor(name: string, args: SchedulerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lernmanager:app:Scheduler", name, {}, opts);
        if (args.jobs.length === 0) throw new Error("Scheduler: no jobs (create it only when `jobs` is non-empty)");

        this.container = appImageContainer(this, name, args, "scheduler", {
            entrypoints: SCHEDULER_ENTRYPOINT,
            command: schedulerCommand(args.jobs, args.adminGuard),
            networksAdvanced: [{ name: args.network }],
            healthcheck: SCHEDULER_HEALTHCHECK,
            wait: true,
            waitTimeout: 120,
            destroyGraceSeconds: SCHEDULER_STOP_GRACE_SECONDS,
        });

        this.registerOutputs({ container: this.container.name });
    }
}
