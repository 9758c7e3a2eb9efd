// The stack's own keys: the base stack it builds on, when a test school was created, and the
// Docker endpoint (the provider's docker:host) the deploy steps get too.
import type { KeyReader } from "./reader";
import type { KeySpec } from "./spec";

export const STACK_KEYS = {
    baseStack: {
        kind: "string",
        default: "",
        description:
            "Stack whose Pulumi.<name>.yaml gives every key this stack does not set itself (e.g. prod for a school stack schule-<name>: its own file keeps only the school's settings); secrets and docker:* keys are not taken over.",
    },
    createdAt: {
        kind: "string",
        format: "isoTime",
        default: "",
        description: "When a test school was created (ISO 8601, set by `npm run school`); informational.",
    },
} as const satisfies Record<string, KeySpec>;

export type StackKey = keyof typeof STACK_KEYS;

export interface StackInfo {
    /** `docker:host` (the Docker provider's key), also handed to the deploy steps as DOCKER_HOST. */
    readonly dockerHost?: string;
    /** ISO 8601 creation time of a test school, or undefined. */
    readonly createdAt?: string;
}

/** @param dockerHost the `docker:host` value (another namespace: the provider reads it too). */
export function readStack(r: KeyReader<StackKey>, dockerHost: string | undefined): StackInfo {
    if (dockerHost && !/^(unix|tcp|ssh|npipe):\/\/\S+$/.test(dockerHost)) {
        r.problems.push(
            `docker:host = ${JSON.stringify(dockerHost)}: must be a Docker endpoint like ssh://admin@school-server or ` +
                `unix:///var/run/docker.sock. Fix: \`pulumi config set docker:host ssh://user@host\``,
        );
    }
    return { dockerHost: dockerHost || undefined, createdAt: r.text("createdAt") || undefined };
}
