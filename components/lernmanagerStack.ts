import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "../lib/config";
import { renderGunicornConf } from "../lib/gunicornConf";
import { StackNames } from "../lib/names";
import { renderNginxConf } from "../lib/nginxConf";
import { AppImage } from "./appImage";
import { AppService } from "./appService";
import { Storage } from "./storage";
import { WebServer } from "./webServer";

export interface LernmanagerStackArgs {
    /** Validated configuration (lib/config.ts `loadConfig`). */
    readonly config: StackConfig;
    /** Physical names derived from the stack (lib/names.ts `stackNames`). */
    readonly names: StackNames;
    /** Stack name, written into every Docker object's label. */
    readonly stack: string;
}

/**
 * One Lernmanager deployment: network and volumes, the app image and gunicorn container, and the
 * nginx image and container in front of it, created in that order.
 */
export class LernmanagerStack extends pulumi.ComponentResource {
    public readonly storage: Storage;
    public readonly appImage: AppImage;
    public readonly app: AppService;
    public readonly web: WebServer;
    /** Where the app answers (the host's address when published on 0.0.0.0). */
    public readonly url: string;

    constructor(name: string, args: LernmanagerStackArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lernmanager:index:LernmanagerStack", name, {}, opts);
        const { config, names } = args;
        const labels = [{ label: names.label, value: args.stack }];

        this.storage = new Storage(
            `${name}-storage`,
            { names, stack: args.stack, protectData: config.protectData },
            { parent: this },
        );

        this.appImage = new AppImage(
            `${name}-image`,
            {
                runtimeRepository: names.images.runtime,
                appRepository: names.images.app,
                baseImage: config.pythonImage,
                appSource: config.appSource,
                wsgiApp: config.wsgiApp.spec,
                initHook: config.initHook?.spec,
                dataPath: config.dataPath,
                uploadsPath: config.uploadsPath,
                staticPath: config.staticPath,
                databaseFile: config.databaseFile,
                gunicornConf: renderGunicornConf({ workers: config.workers, threads: config.threads }),
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
                env: config.appEnv,
                uploadLimitMb: config.uploadLimitMb,
                downloadsPrefix: config.downloadsPrefix,
                memoryMb: config.appMemoryMb,
                pidsLimit: config.pidsLimit,
                labels,
            },
            { parent: this },
        );

        this.web = new WebServer(
            `${name}-nginx`,
            {
                repository: names.images.nginx,
                containerName: names.nginxContainer,
                baseImage: config.nginxImage,
                nginxConf: renderNginxConf({
                    staticUrl: config.staticUrl,
                    downloadsPrefix: config.downloadsPrefix,
                    uploadLimitMb: config.uploadLimitMb,
                    loginPath: config.loginPath,
                    loginRatePerMinute: config.loginRatePerMinute,
                }),
                network: this.storage.network.name,
                volumes: { static: this.storage.static.name, uploads: this.storage.uploads.name },
                bindAddress: config.bindAddress,
                port: config.port,
                app: this.app.container,
                memoryMb: config.nginxMemoryMb,
                pidsLimit: config.pidsLimit,
                labels,
            },
            { parent: this },
        );

        const host = config.bindAddress === "0.0.0.0" ? "localhost" : config.bindAddress;
        this.url = config.port === 80 ? `http://${host}/` : `http://${host}:${config.port}/`;
        this.registerOutputs({ url: this.url, appVersion: this.appImage.version });
    }
}
