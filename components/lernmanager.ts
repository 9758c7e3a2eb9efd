import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { appEnvironment, publishedUrl, smokeStaticFile } from "../render/app";
import { StackConfig } from "../config/load";
import {
    ADMIN_PASSWORD_ENV,
    candidateScript,
    imageJanitorScripts,
    migrationScript,
    smokeTestScript,
} from "../render/deploy";
import { gunicornSettingsFrom, renderGunicornConf } from "../render/gunicorn";
import { hstsValue } from "../render/tls";
import { LAYOUT } from "../core/layout";
import { keptVolumeName, StackNames } from "../core/names";
import { AppImage } from "./appImage";
import { APP_HEALTHCHECK, APP_SYSCTLS, APP_WAIT_SECONDS, AppService } from "./appService";
import { BackupAgent, preDeployBackup } from "./backups";
import { DeployStep } from "./deploy";
import { Scheduler } from "./jobs";
import { Storage, storageOptions } from "./storage";
import { declareFront } from "./front";
import { pidsLimitStep } from "./pidsLimit";
import type { TlsAgent } from "./tls";
import { WebServer } from "./web";

export interface LernmanagerArgs {
    /** Validated configuration (config/load.ts `loadConfig`). */
    readonly config: StackConfig;
    /** Physical names derived from the stack (core/names.ts `stackNames`). */
    readonly names: StackNames;
    /** Stack name, written into every Docker object's label. */
    readonly stack: string;
    /** DOCKER_HOST (and TLS settings) of the provider, for the deploy steps' docker CLI (config/docker.ts). */
    readonly dockerEnv: Readonly<Record<string, string>>;
}

/** The component's type before it was renamed: the alias keeps existing stacks' resources (no replacement). */
export const OLD_COMPONENT_TYPE = "lernmanager:index:LernmanagerStack";
/** The image-prune step's name before it was renamed (its suffix after the component's name). */
export const OLD_PRUNE_SUFFIX = "-images";

/**
 * One Lernmanager installation (a component, one per Pulumi stack), created in this order: network and volumes; the images; a backup of
 * the database and the app's migrations (both once per new app image, in one-off containers); the
 * gunicorn container; nginx once the app is healthy; a smoke test through nginx.
 */
/** The school CA's fingerprint in the smoke test's output ("" when it printed none). */
export function caFingerprintIn(smokeOutput: string): string {
    return /^school CA sha256 ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})$/m.exec(smokeOutput)?.[1] ?? "";
}

export class Lernmanager extends pulumi.ComponentResource {
    public readonly storage: Storage;
    public readonly appImage: AppImage;
    public readonly backup: DeployStep;
    public readonly migration?: DeployStep;
    /** The new version run once without the `app` alias; the app container is replaced only once it was healthy. */
    public readonly candidate: DeployStep;
    public readonly app: AppService;
    /** Scheduled backups, off-host copies and the restore drill (components/backups.ts). */
    public readonly backups: BackupAgent;
    /** Runs the scheduled jobs (config `jobs`); absent when there are none. */
    public readonly scheduler?: Scheduler;
    public readonly web: WebServer;
    /** Keeps the certificate current (tls on). */
    public readonly tls?: TlsAgent;
    public readonly smokeTest: DeployStep;
    /** Docker's pids limit on each long-running container (the provider cannot set it). */
    public readonly pidsLimit: DeployStep;
    /** Prunes old image tags after each new app image (no delete: its replacement is harmless). */
    public readonly imagePrune: DeployStep;
    /** Removes the containers the image builds left behind, after each build. */
    public readonly buildLeftovers: DeployStep;
    /** Never replaced; its delete removes all of the stack's images, on destroy only, after the containers. */
    public readonly imageCleanup: DeployStep;
    /** Where the app answers (the host's address when published on 0.0.0.0). */
    public readonly url: string;
    /** tls internal: the school CA's SHA-256 fingerprint (AB:CD:…), for the teachers' handout. */
    public readonly schoolCaFingerprint?: pulumi.Output<string>;
    /** The admin password that replaced the app's default one (secret), unless `adminTable` is "". */
    public readonly adminPassword?: pulumi.Output<string>;

    constructor(name: string, args: LernmanagerArgs, opts?: pulumi.ComponentResourceOptions) {
        // Renamed from LernmanagerStack: the alias (inherited by every child) keeps the existing resources.
        super("lernmanager:index:Lernmanager", name, {}, { ...opts, aliases: [{ type: OLD_COMPONENT_TYPE }] });
        const { config, names } = args;
        const labels = [{ label: names.label, value: args.stack }];
        const step = { prefix: names.prefix, stack: args.stack, label: names.label };

        this.storage = new Storage(
            `${name}-storage`,
            { names, stack: args.stack, ...storageOptions(config) },
            { parent: this },
        );

        this.appImage = new AppImage(
            `${name}-image`,
            {
                runtimeRepository: names.images.runtime,
                appRepository: names.images.app,
                baseImage: config.pythonImage,
                // tzdata: the app's local dates need the zone's data (a slim base may lack it);
                // openssh-client: the sftp client of the backup copies; age encrypts the copies
                // before they leave the backup container. Each installed only when the base lacks it.
                osPackages: [
                    "tzdata",
                    ...(config.backups.sftpTargets.length > 0 ? ["openssh-client"] : []),
                    ...(config.backups.encryptTo.length > 0 ? ["age"] : []),
                ],
                platform: config.platform,
                appSource: config.appSource,
                wsgiApp: config.wsgiApp.spec,
                initHook: config.initHook?.spec,
                dataPath: config.dataPath,
                uploadsPath: config.uploadsPath,
                staticPath: config.staticPath,
                extraPaths: [...config.persistentPaths, ...config.scratchPaths],
                databaseFile: config.databaseFile,
                gunicornConf: renderGunicornConf(gunicornSettingsFrom(config)),
            },
            { parent: this },
        );

        // Generated once, kept in the stack's state: identical across deploys, secret everywhere.
        const secretKey = new random.RandomPassword(
            `${name}-secret-key`,
            { length: 64, special: false },
            { parent: this },
        );
        // Replaces the app's well-known default admin password on a fresh database (lm_admin.py).
        const adminPassword = config.adminPassword
            ? new random.RandomPassword(`${name}-admin-password`, { length: 24, special: false }, { parent: this })
            : undefined;
        this.adminPassword = adminPassword ? pulumi.secret(adminPassword.result) : undefined;
        const env = appEnvironment(config);
        const stepEnv: Record<string, pulumi.Input<string>> = {
            LM_IMAGE: this.appImage.imageId,
            LM_VERSION: this.appImage.version,
            ...args.dockerEnv,
        };
        const onNewImage = [this.appImage.imageId];

        const janitor = imageJanitorScripts({ repositories: Object.values(names.images), keep: 2 });
        this.imageCleanup = new DeployStep(
            `${name}-image-cleanup`,
            { script: "true", deleteScript: janitor.destroy, environment: args.dockerEnv, triggers: [], after: [] },
            { parent: this },
        );

        this.backup = new DeployStep(
            `${name}-backup`,
            {
                ...preDeployBackup(config, names, step),
                environment: stepEnv,
                triggers: onNewImage,
                after: [this.storage.data, this.storage.backups],
            },
            { parent: this },
        );

        // The one-off containers of the new image (the migrate step, the candidate) mount and get
        // what the app container does.
        const appRunMounts = [
            this.storage.network,
            this.storage.data,
            this.storage.uploads,
            this.storage.cache,
            ...this.storage.persistent.map((p) => p.volume),
        ];
        const appRun = {
            ...step,
            network: names.network,
            dataVolume: names.volumes.data,
            uploadsVolume: names.volumes.uploads,
            cacheVolume: names.volumes.cache,
            dataPath: config.dataPath,
            uploadsPath: config.uploadsPath,
            persistent: config.persistentPaths.map((p) => ({ path: p, volume: keptVolumeName(names, p) })),
            scratchPaths: config.scratchPaths,
            envNames: ["SECRET_KEY", ...Object.keys(env)],
        };
        if (config.initHook || config.migrateCommand || config.migrations || config.adminPassword) {
            this.migration = new DeployStep(
                `${name}-migrate`,
                {
                    script: migrationScript({
                        ...appRun,
                        command: config.migrateCommand,
                        initHook: config.initHook !== undefined,
                        migrations: config.migrations,
                        adminPassword: config.adminPassword && {
                            ...config.adminPassword,
                            databasePath: `${LAYOUT.appDir}/${config.dataPath}/${config.databaseFile}`,
                        },
                    }),
                    environment: pulumi.secret(
                        pulumi.all([secretKey.result, adminPassword?.result]).apply(([key, admin]) => ({
                            ...stepEnv,
                            ...env,
                            SECRET_KEY: key,
                            ...(admin === undefined ? {} : { [ADMIN_PASSWORD_ENV]: admin }),
                        })),
                    ),
                    triggers: onNewImage,
                    after: [this.backup.command, ...appRunMounts],
                },
                { parent: this },
            );
        }

        // The new version must become healthy before the app container is replaced (render/deploy.ts
        // candidateScript): a container that fails the provider's health wait would stay under the
        // alias `app`, and the next `up` would delete the old, healthy one first.
        const health = APP_HEALTHCHECK as {
            tests: string[];
            interval: string;
            timeout: string;
            retries: number;
            startPeriod: string;
        };
        this.candidate = new DeployStep(
            `${name}-candidate`,
            {
                script: candidateScript({
                    ...appRun,
                    health: {
                        command: health.tests.slice(1).join(" "),
                        interval: health.interval,
                        timeout: health.timeout,
                        retries: health.retries,
                        startPeriod: health.startPeriod,
                    },
                    timeoutSeconds: APP_WAIT_SECONDS,
                    memoryMb: config.appMemoryMb,
                    sysctls: APP_SYSCTLS,
                }),
                environment: pulumi.secret(secretKey.result.apply((key) => ({ ...stepEnv, ...env, SECRET_KEY: key }))),
                triggers: onNewImage,
                after: [(this.migration ?? this.backup).command, ...appRunMounts],
            },
            { parent: this },
        );

        this.app = new AppService(
            `${name}-app`,
            {
                image: this.appImage.imageId,
                network: this.storage.network.name,
                volumes: {
                    data: this.storage.data.name,
                    uploads: this.storage.uploads.name,
                    static: this.storage.static.name,
                    cache: this.storage.cache.name,
                },
                dataPath: config.dataPath,
                uploadsPath: config.uploadsPath,
                persistent: this.storage.persistent.map((p) => ({ path: p.path, volume: p.volume.name })),
                scratchPaths: config.scratchPaths,
                env,
                secretKey: secretKey.result,
                memoryMb: config.appMemoryMb,
                hostSwapLimit: config.hostSwapLimit,
                // After the image clean-up too: on destroy it goes after the containers that use the images.
                after: [this.candidate.command, this.imageCleanup.command],
                labels,
            },
            { parent: this },
        );

        // The jobs run with exactly the app container's image, environment, volumes and hardening;
        // the scheduler also puts back a default admin password the app's init recreated (lm_guard.py).
        if (config.jobs.length > 0) {
            const admin = config.adminPassword;
            this.scheduler = new Scheduler(
                `${name}-scheduler`,
                {
                    ...this.app.args,
                    jobs: config.jobs,
                    adminGuard: admin && {
                        database: `${LAYOUT.appDir}/${config.dataPath}/${config.databaseFile}`,
                        table: admin.table,
                        usernameColumn: admin.usernameColumn,
                        hashColumn: admin.hashColumn,
                        username: admin.username,
                        defaultPassword: admin.defaultPassword,
                    },
                },
                { parent: this },
            );
        }

        this.backups = new BackupAgent(
            `${name}-backups`,
            { app: this.app.args, backupsVolume: this.storage.backups.name, config, after: [this.app.container] },
            { parent: this },
        );

        ({ tls: this.tls, web: this.web } = declareFront(name, {
            config,
            names,
            storage: this.storage,
            app: this.app.container,
            labels,
            parent: this,
        }));

        this.pidsLimit = pidsLimitStep(
            `${name}-pids-limit`,
            { ...step, pidsLimit: config.pidsLimit, dockerEnv: args.dockerEnv },
            { app: this.app, scheduler: this.scheduler, backup: this.backups, nginx: this.web, tls: this.tls },
            this,
        );

        const built = [
            this.appImage.runtime,
            this.appImage.image,
            this.web.image,
            ...(this.tls ? [this.tls.image] : []),
        ];
        // The same triggers as the janitor before issue 12, so that on an existing stack the first `up`
        // updates it (dropping the old delete from its state) instead of replacing it; renamed from
        // `${name}-images` with an alias (its command, named like it, inherits the alias).
        this.imagePrune = new DeployStep(
            `${name}-image-prune`,
            {
                script: janitor.prune,
                environment: {
                    ...args.dockerEnv,
                    LM_KEEP_REFS: `${this.appImage.runtimeName} ${this.appImage.imageName}`,
                },
                triggers: [this.appImage.imageId],
                // After every image build of the deploy, not only the app's: the engine runs independent
                // steps in parallel, and a `docker rmi` of an old tag can take a cached layer an nginx
                // or TLS build is just reusing ("failed to get digest" / "No such image").
                after: built,
            },
            { parent: this, aliases: [{ name: `${name}${OLD_PRUNE_SUFFIX}` }] },
        );
        this.buildLeftovers = new DeployStep(
            `${name}-build-leftovers`,
            {
                script: janitor.buildLeftovers,
                environment: pulumi
                    .all(built.map((i) => i.repoDigest))
                    .apply((ids) => ({ ...args.dockerEnv, LM_BUILT: ids.join(" ") })),
                triggers: built.map((i) => i.repoDigest),
                after: built,
            },
            { parent: this },
        );

        this.smokeTest = new DeployStep(
            `${name}-smoke`,
            {
                script: smokeTestScript({
                    ...step,
                    network: names.network,
                    page: "/",
                    staticFile: smokeStaticFile(config) ?? "/nginx-health",
                    tlsVolume: this.tls ? names.volumes.tls : undefined,
                    hsts: this.tls ? hstsValue(config.tls) : undefined,
                }),
                environment: stepEnv,
                triggers: [
                    this.appImage.imageId,
                    this.web.image.repoDigest,
                    this.app.container.id,
                    this.web.container.id,
                    ...(this.tls ? [this.tls.container.id] : []),
                ],
                after: [this.web.container, this.app.container],
            },
            { parent: this },
        );

        // tls internal: the school CA's SHA-256 fingerprint, as the smoke test read it from the TLS volume.
        this.schoolCaFingerprint =
            config.tls.mode === "internal"
                ? this.smokeTest.stdout.apply((out) => caFingerprintIn(out ?? ""))
                : undefined;
        this.url = publishedUrl(config);
        this.registerOutputs({ url: this.url, appVersion: this.appImage.version });
    }
}
