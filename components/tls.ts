import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { stagedContext } from "../core/buildContext";
import { hashStrings } from "../core/contentHash";
import { LAYOUT } from "../core/layout";
import { CONTAINERS_DIR } from "../core/paths";
import type { TlsConfig } from "../config/tls";
import { REPLACE_ON_CHANGES } from "./web";
import { hardened, healthcheck, localImage } from "./hardening";

export interface TlsAgentArgs {
    /** Repository of the agent image (tag = content hash). */
    readonly repository: string;
    readonly containerName: string;
    readonly platform: string;
    readonly tls: TlsConfig;
    /** The host supports swap limits (config hostSwapLimit). @default true */
    readonly hostSwapLimit?: boolean;
    /** The stack's network (the ACME server reaches nginx by the domain's name, lego reaches out). */
    readonly network: pulumi.Input<string>;
    /** The TLS volume (read-write here, read-only in nginx). */
    readonly volume: pulumi.Input<string>;
    readonly labels: pulumi.Input<docker.types.input.ContainerLabel>[];
}

/** The agent's pids limit (components/pidsLimit.ts): a shell loop, openssl and lego need a few dozen. */
export const TLS_PIDS_LIMIT = 64;

/** Its health: the last check of the certificate succeeded (lm-tls health). */
export const TLS_AGENT_HEALTHCHECK = healthcheck(["CMD", "/usr/local/bin/lm-tls", "health"], {
    every: 30,
    timeout: 10,
    retries: 3,
    startPeriod: 120,
});

/**
 * The agent's settings (containers/tls/lm-tls.sh reads them from its environment), `NAME=value` each:
 * the mode, the names and addresses of the certificate, when to renew and how often to check, where
 * nginx answers, and the ACME server or the school's certificate and key (secret) when the mode has them.
 */
export function tlsAgentEnvs(tls: TlsConfig): string[] {
    const env: Record<string, string> = {
        LM_TLS_MODE: tls.mode,
        LM_TLS_NAMES: tls.names.join(" "),
        LM_TLS_ADDRESSES: tls.addresses.join(" "),
        LM_TLS_RENEW_DAYS: String(tls.renewDays),
        LM_TLS_CHECK_SECONDS: String(tls.checkHours * 3600),
        // Where the agent checks that nginx serves the challenge folder before an ACME order.
        LM_NGINX_URL: `http://nginx:${LAYOUT.nginxPort}`,
        ...(tls.acme
            ? {
                  LM_ACME_SERVER: tls.acme.server,
                  LM_ACME_EMAIL: tls.acme.email,
                  LM_ACME_CA_PEM: tls.acme.caCertificate,
              }
            : {}),
        ...(tls.files ? { LM_TLS_CERT_PEM: tls.files.certificate, LM_TLS_KEY_PEM: tls.files.key } : {}),
    };
    return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/**
 * The agent image's name and build arguments: the tag hashes the staged context's files (`contextHash`)
 * and the base image, so either change builds a new image.
 */
export function tlsAgentImage(repository: string, contextHash: string, agentImage: string) {
    return { imageName: `${repository}:${hashStrings(contextHash, agentImage)}`, args: { BASE_IMAGE: agentImage } };
}

/** The agent container's fields besides its name, image, network, volume and labels. */
export function tlsAgentFields(hostSwapLimit: boolean | undefined) {
    return {
        user: `${LAYOUT.tlsUid}:${LAYOUT.nginxUid}`,
        tmpfs: { "/tmp": "rw,nosuid,nodev,size=16m" },
        healthcheck: TLS_AGENT_HEALTHCHECK,
        // nginx needs only its certificate file (a placeholder at first), not a healthy agent:
        // an ACME order needs nginx to answer the challenge.
        wait: false,
        destroyGraceSeconds: 10,
        ...hardened({ memoryMb: 128, log: { maxSize: "1m", files: 3 }, swapLimit: hostSwapLimit }),
    };
}

/**
 * The TLS agent (containers/tls/lm-tls.sh): one small container that keeps the certificate in the TLS
 * volume current (acme: lego by HTTP-01; internal: a school CA; files: the school's certificate),
 * checking every `checkHours`. nginx loads a changed certificate with a graceful reload. Replacing
 * the agent changes nothing for nginx: the certificates, the ACME account and the CA stay in the volume.
 */
export class TlsAgent extends pulumi.ComponentResource {
    public readonly image: docker.Image;
    public readonly container: docker.Container;

    constructor(name: string, args: TlsAgentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lernmanager:web:TlsAgent", name, {}, opts);
        const { tls } = args;
        // Built from a staged copy (core/buildContext.ts): the provider's context digest follows the tag.
        const { dir: context, hash } = stagedContext(path.join(CONTAINERS_DIR, "tls"));
        this.image = localImage(
            `${name}-image`,
            { ...tlsAgentImage(args.repository, hash, tls.agentImage), context, platform: args.platform },
            { parent: this },
        );
        const envList = tlsAgentEnvs(tls);
        this.container = new docker.Container(
            name,
            {
                name: args.containerName,
                image: this.image.repoDigest,
                // The school's key (tls: files) is in it: secret in the state and in every diff.
                envs: tls.files ? pulumi.secret(envList) : envList,
                networksAdvanced: [{ name: args.network }],
                mounts: [{ type: "volume", source: args.volume, target: LAYOUT.tlsDir }],
                ...tlsAgentFields(args.hostSwapLimit),
                labels: [...args.labels, { label: "dev.lernmanager.role", value: "tls" }],
            },
            { parent: this, replaceOnChanges: [...REPLACE_ON_CHANGES], deleteBeforeReplace: true },
        );
        this.registerOutputs({ container: this.container.name });
    }
}
