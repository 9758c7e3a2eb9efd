import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { LernmanagerStack } from "../components";
import { loadConfig } from "./config";
import { stackNames } from "./names";
import { PROJECT_DIR } from "./paths";

/** What index.ts exports. */
export interface ProgramOutputs {
    readonly url: string;
    readonly appVersion: string;
    readonly appImage: string;
    readonly appContainer: pulumi.Output<string>;
    readonly nginxContainer: pulumi.Output<string>;
    readonly volumes: Record<string, pulumi.Output<string>>;
    /** The generated admin password (secret); undefined when `adminTable` is "". */
    readonly adminPassword?: pulumi.Output<string>;
}

/**
 * The whole program: read and validate config first (a ConfigError stops it before any resource
 * exists), then declare the stack. Tests call this after `pulumi.runtime.setMocks`.
 */
export function main(opts?: pulumi.ComponentResourceOptions): ProgramOutputs {
    const project = pulumi.getProject();
    const stack = pulumi.getStack();
    const config = loadConfig(pulumi.runtime.allConfig(), { project, projectDir: PROJECT_DIR });
    const names = stackNames(project, stack);
    // An explicit provider: the whole stack targets `docker:host` (local engine when unset), and the
    // deploy steps get the same host as DOCKER_HOST.
    const provider = new docker.Provider(`${names.prefix}-docker`, { host: config.dockerHost }, opts);
    const deployment = new LernmanagerStack(names.prefix, { config, names, stack }, { ...opts, providers: [provider] });
    return {
        url: deployment.url,
        appVersion: deployment.appImage.version,
        appImage: deployment.appImage.imageName,
        appContainer: deployment.app.container.name,
        nginxContainer: deployment.web.container.name,
        volumes: {
            data: deployment.storage.data.name,
            uploads: deployment.storage.uploads.name,
            static: deployment.storage.static.name,
            cache: deployment.storage.cache.name,
            backups: deployment.storage.backups.name,
        },
        ...(deployment.adminPassword ? { adminPassword: deployment.adminPassword } : {}),
    };
}
