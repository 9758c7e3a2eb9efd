import { STACK_LABEL } from "../core/names";

/**
 * The flags of a one-off container an ops command starts on the stack's engine: removed when done,
 * no network, a read-only root, the app's uid, no capabilities and no privilege gain, labelled
 * with the stack and what it is for (so that status and the test sweeps can tell it apart).
 */
export function oneOffRunFlags(stack: string, role: string): string[] {
    return [
        "--rm",
        "--network",
        "none",
        "--read-only",
        "--user",
        "10001:10001",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges:true",
        "--label",
        `${STACK_LABEL}=${stack}`,
        "--label",
        `dev.lernmanager.role=${role}`,
    ];
}
