import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { pidsLimitScript } from "../render/pidsLimit";
import { DeployStep } from "./deploy";
import { TLS_PIDS_LIMIT } from "./tls";

/** The stack's long-running containers by their role label (absent: the stack has none of it). */
export type StackContainers = Readonly<Record<string, { readonly container: docker.Container } | undefined>>;

/**
 * The per-container pids limit as a deploy step (render/pidsLimit.ts): after every container
 * exists, and again whenever one of them is replaced (a new container id) or a limit changes,
 * it runs `docker update --pids-limit` on each of them: `pidsLimit` (config) on each, the TLS agent's
 * own on the TLS agent. Docker keeps the limit in the container's HostConfig across restarts, and
 * the provider's in-place updates (memory, restart policy) leave it alone. A container runs without
 * it only between its creation and this step.
 */
export function pidsLimitStep(
    name: string,
    args: {
        readonly label: string;
        readonly stack: string;
        readonly pidsLimit: number;
        readonly dockerEnv: Readonly<Record<string, string>>;
    },
    containers: StackContainers,
    parent: pulumi.Resource,
): DeployStep {
    const present = Object.entries(containers).flatMap(([role, c]) => (c ? [{ role, container: c.container }] : []));
    const limits = Object.fromEntries(
        present.map(({ role }) => [role, role === "tls" ? TLS_PIDS_LIMIT : args.pidsLimit]),
    );
    return new DeployStep(
        name,
        {
            script: pidsLimitScript({ label: args.label, stack: args.stack, limits }),
            environment: args.dockerEnv,
            triggers: [JSON.stringify(limits), ...present.map((c) => c.container.id)],
            after: present.map((c) => c.container),
        },
        { parent },
    );
}
