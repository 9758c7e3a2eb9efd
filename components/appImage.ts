import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { stagedContext } from "../core/buildContext";
import { hashFolder, hashStrings } from "../core/contentHash";
import { CONTAINERS_DIR } from "../core/paths";
import { localImage } from "./hardening";

export interface AppImageArgs {
    /** Repository of the runtime image (tag = content hash), e.g. `lernmanager-dev-runtime`. */
    readonly runtimeRepository: string;
    /** Repository of the app image (tag = content hash), e.g. `lernmanager-dev-app`. */
    readonly appRepository: string;
    /** Base image with python3 and /bin/sh. Plain string: it is part of the content hash. */
    readonly baseImage: string;
    /** Debian packages the runtime image needs besides the base's (installed only when missing). @default [] */
    readonly osPackages?: readonly string[];
    /** Platform the images are built for, e.g. `linux/amd64` (the school server's, not this machine's). */
    readonly platform: string;
    /** Absolute path of the app source (the app image's build context). */
    readonly appSource: string;
    /** WSGI target `module:attribute`. */
    readonly wsgiApp: string;
    /** Init hook `module:function`, or undefined for none. */
    readonly initHook?: string;
    /** Folders inside the app that become volumes or are served by nginx. */
    readonly dataPath: string;
    readonly uploadsPath: string;
    readonly staticPath: string;
    /** Further persistent and scratch folders inside the app (volumes or tmpfs, owned by the app user). @default [] */
    readonly extraPaths?: readonly string[];
    /** SQLite file inside dataPath that /healthz reads. */
    readonly databaseFile: string;
    /** Text of gunicorn.conf.py (from renderGunicornConf). */
    readonly gunicornConf: string;
}

/**
 * The app's images, built locally and never pushed:
 * a runtime image (base Python + the stack's helpers, stdlib and site-packages compiled for -OO),
 * and the app image on top of it (requirements when the base lacks them, the app compiled for -OO,
 * non-root user, PYTHONOPTIMIZE=2). Tags are content hashes, so a preview shows a new tag exactly
 * when something that goes into the image changed; containers run the image id (`imageId`).
 */
export class AppImage extends pulumi.ComponentResource {
    /** The runtime image. */
    public readonly runtime: docker.Image;
    /** The app image. */
    public readonly image: docker.Image;
    /** Local image id (`sha256:...`) of the app image: what the container runs. */
    public readonly imageId: pulumi.Output<string>;
    /** `repository:tag` of the runtime image (the app build's FROM: pruning must keep it). */
    public readonly runtimeName: string;
    /** `repository:tag` of the app image. */
    public readonly imageName: string;
    /** Content hash of the app image's inputs; reported by /healthz as `version`. */
    public readonly version: string;

    constructor(name: string, args: AppImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lernmanager:app:AppImage", name, {}, opts);

        // Both images are built from staged copies (core/buildContext.ts): the provider's own context
        // digest then changes exactly when the tag does (no __pycache__, data folder or umask in it).
        const runtime = stagedContext(path.join(CONTAINERS_DIR, "runtime"));
        const runtimeDir = runtime.dir;
        const osPackages = (args.osPackages ?? []).join(" ");
        const runtimeTag = hashStrings(runtime.hash, args.baseImage, ...(osPackages ? [osPackages] : []));
        const runtimeName = `${args.runtimeRepository}:${runtimeTag}`;
        this.runtimeName = runtimeName;
        this.runtime = localImage(
            `${name}-runtime`,
            {
                imageName: runtimeName,
                context: runtimeDir,
                args: { BASE_IMAGE: args.baseImage, ...(osPackages ? { OS_PACKAGES: osPackages } : {}) },
                platform: args.platform,
            },
            { parent: this },
        );

        const appDockerfile = path.join(CONTAINERS_DIR, "app.Dockerfile");
        const buildArgs: Record<string, string> = {
            RUNTIME_IMAGE: runtimeName,
            DATA_PATH: args.dataPath,
            UPLOADS_PATH: args.uploadsPath,
            STATIC_PATH: args.staticPath,
            EXTRA_PATHS: (args.extraPaths ?? []).join(" "),
            WSGI_APP: args.wsgiApp,
            INIT_HOOK: args.initHook ?? "",
            DATABASE_FILE: args.databaseFile,
            GUNICORN_CONF: Buffer.from(args.gunicornConf, "utf8").toString("base64"),
        };
        const source = stagedContext(args.appSource, [
            args.dataPath,
            args.uploadsPath,
            "instance",
            ...(args.extraPaths ?? []),
        ]);
        this.version = hashStrings(
            runtimeTag,
            source.hash,
            hashFolder(CONTAINERS_DIR, ["runtime", "web"]),
            JSON.stringify(buildArgs),
        );
        buildArgs.APP_VERSION = this.version;
        this.imageName = `${args.appRepository}:${this.version}`;
        this.image = localImage(
            `${name}-app`,
            {
                imageName: this.imageName,
                context: source.dir,
                dockerfile: appDockerfile,
                args: buildArgs,
                platform: args.platform,
            },
            { parent: this, dependsOn: [this.runtime] },
        );
        this.imageId = this.image.repoDigest;

        this.registerOutputs({ imageId: this.imageId, imageName: this.imageName, version: this.version });
    }
}
