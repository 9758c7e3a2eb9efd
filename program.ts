import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DestroyGuard, Lernmanager } from "./components";
import { stackFile, withBaseStack } from "./config/baseStack";
import { loadConfig } from "./config/load";
import { dockerEndpoint } from "./config/docker";
import { stackNames } from "./core/names";
import { PROJECT_DIR } from "./core/paths";

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
    /** tls internal: the school CA's SHA-256 fingerprint, for the teachers' handout. */
    readonly schoolCaFingerprint?: pulumi.Output<string>;
}

/**
 * The whole program: read and validate config first (a ConfigError stops it before any resource
 * exists), then declare the stack. Tests call this after `pulumi.runtime.setMocks`.
 */
export function main(opts?: pulumi.ComponentResourceOptions): ProgramOutputs {
    const project = pulumi.getProject();
    const stack = pulumi.getStack();
    const given = pulumi.runtime.allConfig();
    const own = new Set(Object.keys(stackFile(PROJECT_DIR, stack) ?? given));
    const raw = withBaseStack(given, project, PROJECT_DIR, own);
    const config = loadConfig(raw, { project, projectDir: PROJECT_DIR });
    const endpoint = dockerEndpoint(raw, process.env);
    const names = stackNames(project, stack, config.dataHostPath);
    // An explicit provider: the whole stack targets one endpoint, and the deploy steps' docker CLI the same.
    const provider = new docker.Provider(
        `${names.prefix}-docker`,
        { host: endpoint.host, certPath: endpoint.certPath },
        opts,
    );
    const deployment = new Lernmanager(
        names.prefix,
        { config, names, stack, dockerEnv: endpoint.env },
        { ...opts, providers: [provider] },
    );
    // Created last, deleted first: while protectData is on, `pulumi destroy` removes nothing.
    new DestroyGuard(
        `${names.prefix}-destroy-guard`,
        { protectData: config.protectData, stack, after: [deployment] },
        opts,
    );
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
        ...(deployment.schoolCaFingerprint ? { schoolCaFingerprint: deployment.schoolCaFingerprint } : {}),
    };
}
