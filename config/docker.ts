import { ConfigError } from "./error";

/** The Docker engine the provider and the deploy steps' docker CLI both talk to. */
export interface DockerEndpoint {
    /** Endpoint given to the provider as `host`, e.g. ssh://admin@school-server. */
    readonly host: string;
    /** Folder with ca.pem, cert.pem, key.pem for a TLS tcp:// endpoint (`docker:certPath`), if any. */
    readonly certPath?: string;
    /** The same endpoint for the docker CLI of the deploy steps. */
    readonly env: Readonly<Record<string, string>>;
}

/** Where the Docker provider goes when `docker:host` is unset (kreuzwerker's default). */
export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/** Provider settings the docker CLI has no environment variable for: refused with their fix. */
const CLI_CANNOT_FOLLOW: Record<string, string> = {
    "docker:sshOpts":
        "the deploy steps' docker CLI takes ssh options only from ~/.ssh/config. Fix: put them in a Host block of ~/.ssh/config and `pulumi config rm docker:sshOpts`",
    "docker:caMaterial":
        "the docker CLI reads TLS files from a folder. Fix: `pulumi config set docker:certPath <folder with ca.pem, cert.pem, key.pem>` and `pulumi config rm docker:caMaterial`",
    "docker:certMaterial":
        "the docker CLI reads TLS files from a folder. Fix: `pulumi config set docker:certPath <folder>` and `pulumi config rm docker:certMaterial`",
    "docker:keyMaterial":
        "the docker CLI reads TLS files from a folder. Fix: `pulumi config set docker:certPath <folder>` and `pulumi config rm docker:keyMaterial`",
};

/**
 * One endpoint for both sides, so the steps never act on another engine than the provider's. The provider is explicit (program.ts), so it
 * reads none of the `docker:*` keys itself: its host is `docker:host`, else $DOCKER_HOST, else the
 * local socket, and the deploy steps get exactly that as DOCKER_HOST — which also overrides a
 * `docker context` the CLI would otherwise follow and the provider would not. A TLS folder
 * (`docker:certPath`) goes to both (DOCKER_CERT_PATH + DOCKER_TLS_VERIFY=1); settings the CLI cannot
 * follow are a config error rather than a silent mismatch.
 */
export function dockerEndpoint(raw: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv): DockerEndpoint {
    const problems = Object.keys(CLI_CANNOT_FOLLOW)
        .filter((key) => raw[key])
        .map((key) => `${key} is set, but ${CLI_CANNOT_FOLLOW[key]}.`);
    if (problems.length) throw new ConfigError(problems);
    const host = raw["docker:host"] || env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
    const certPath = raw["docker:certPath"] || undefined;
    return {
        host,
        certPath,
        env: { DOCKER_HOST: host, ...(certPath ? { DOCKER_CERT_PATH: certPath, DOCKER_TLS_VERIFY: "1" } : {}) },
    };
}
