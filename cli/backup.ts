// `npm run backup -- <stack>`: a backup now (database + uploads), the off-host copies and the restore
// drill, in the stack's backup container (containers/runtime/backups/lm_backupd.py --now). Exit 1 when a step failed.
import { spawnSync } from "child_process";
import { backupContainer, RUNTIME_DIR, stackArg } from "./stack";

const { stack } = stackArg(process.argv.slice(2), "usage: npm run backup -- <stack>");
try {
    const name = backupContainer(stack);
    const r = spawnSync("docker", ["exec", name, "python3", "-OO", `${RUNTIME_DIR}/lm_backupd.py`, "--now"], {
        stdio: "inherit",
    });
    process.exit(r.status ?? 1);
} catch (e) {
    process.stderr.write(`backup: ${(e as Error).message}\n`);
    process.exit(2);
}
