/** What the backup e2e files share: the backup container's status, and the `npm run` ops scripts. */
import { spawnSync } from "child_process";
import type Docker from "dockerode";
import { PROJECT_DIR } from "../../core/paths";
import { execIn } from "./stack";

/** `lm_backupd.py --status` in the stack's backup container: its last line, parsed. */
export async function backupStatus(container: Docker.Container): Promise<any> {
    const { output } = await execIn(container, ["python3", "-OO", "/opt/lernmanager/lm_backupd.py", "--status"]);
    return JSON.parse(output.trim().split("\n").pop()!);
}

/** Polls the status until `ok(status)`, every 2 s, for at most `seconds`. */
export async function waitBackupStatus(
    container: () => Docker.Container,
    what: string,
    ok: (st: any) => boolean,
    seconds: number,
): Promise<any> {
    const deadline = Date.now() + seconds * 1000;
    let last: any;
    while (Date.now() < deadline) {
        last = await backupStatus(container());
        if (ok(last)) return last;
        await new Promise((r) => setTimeout(r, 2000));
    }
    throw new Error(`${what}: not within ${seconds} s; status ${JSON.stringify(last)}`);
}

/**
 * `npm run <script> -- <args>` (cli/<script>.ts) from the project folder: exit code and output.
 * Transpiled without ts-node's type check, which `tsc --noEmit -p .` does for the whole project:
 * on a busy 2-core machine it is most of each call's time (about 10 s of 12).
 */
export function opsScript(script: string, ...args: string[]): { code: number | null; out: string } {
    const r = spawnSync("npx", ["ts-node", `cli/${script}.ts`, ...args], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
        timeout: 300000,
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
}
