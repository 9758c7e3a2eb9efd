// `npm run backup -- <stack>`: a backup now (database + uploads), the off-host copies and the restore
// drill, in the stack's backup container (containers/runtime/backups/lm_backupd.py --now). Exit 1 when a step failed.
// `npm run backup -- init-target <stack> <folder>`: sets a copy folder on the stack's Docker host up
// once, on purpose (its marker): a folder without it is refused, so the empty mount point of an
// unmounted disk never receives the copies.
import { spawnSync } from "child_process";
import { backupContainer, docker, RUNTIME_DIR, stackArg } from "./stack";
import { oneOffRunFlags } from "./oneOff";

const argv = process.argv.slice(2);
try {
    if (argv[0] === "init-target") {
        const usage = "usage: npm run backup -- init-target <stack> </absolute/host/folder>";
        const [stack, folder] = argv.slice(1);
        if (!stack || !folder || !folder.startsWith("/") || argv.length !== 3 || !/^[A-Za-z0-9_.-]+$/.test(stack)) {
            process.stderr.write(`${usage}\n`);
            process.exit(2);
        }
        // Over the stack's own Docker engine (DOCKER_HOST): the folder is on that host. The backup
        // container's image, as the backups' user, without network; a missing folder is never created.
        const image = docker(["inspect", "--format", "{{.Image}}", backupContainer(stack)]).trim();
        const r = spawnSync(
            "docker",
            [
                "run",
                ...oneOffRunFlags(stack, "init-target"),
                "--mount",
                `type=bind,source=${folder},target=/target`,
                "--entrypoint",
                "python3",
                image,
                "-OO",
                `${RUNTIME_DIR}/lm_backupd.py`,
                "--init-target",
                "/target",
                "--label",
                folder,
            ],
            { stdio: "inherit" },
        );
        process.exit(r.status ?? 1);
    }
    const { stack } = stackArg(argv, "usage: npm run backup -- <stack> | init-target <stack> <folder>");
    const name = backupContainer(stack);
    const r = spawnSync("docker", ["exec", name, "python3", "-OO", `${RUNTIME_DIR}/lm_backupd.py`, "--now"], {
        stdio: "inherit",
    });
    process.exit(r.status ?? 1);
} catch (e) {
    process.stderr.write(`backup: ${(e as Error).message}\n`);
    process.exit(2);
}
