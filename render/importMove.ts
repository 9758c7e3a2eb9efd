// Switching a stack from Docker's own volumes to dataHostPath (`npm run import -- <stack>
// --from-plain-volumes`): the bound volumes have names of their own (core/names.ts boundSuffix), so
// the data is copied over from the plain volumes, which are left as they were for the teacher to
// remove once the stack serves from the disk.
import type { StackConfig } from "../config/types";
import { STACK_LABEL, stackNames } from "../core/names";
import { ImportError, ImportTarget, importTargets, backupsTarget, ensureVolumes, run } from "./importVolumes";

/** The stack's plain volumes as an import's source. */
export interface PlainVolumes {
    readonly kind: "volumes";
    /** data, uploads, then the persistent folders: the plain volumes, in importTargets' order. */
    readonly targets: ImportTarget[];
    readonly backups: ImportTarget;
    /** The image the reading helper runs (the stack's pythonImage). */
    readonly pythonImage: string;
}

/** The plain volumes of the stack (its names without dataHostPath); refuses without dataHostPath. */
export function plainVolumesSource(
    config: Pick<StackConfig, "dataPath" | "uploadsPath" | "persistentPaths" | "dataHostPath" | "pythonImage">,
    project: string,
    stack: string,
): PlainVolumes {
    if (!config.dataHostPath)
        throw new ImportError(
            "--from-plain-volumes copies the stack's Docker volumes into the ones bound to dataHostPath, and dataHostPath is not set. " +
                "Fix: `pulumi config set dataHostPath /srv/lernmanager` first (docs/backups.md)",
        );
    const plain = { ...config, dataHostPath: undefined };
    const names = stackNames(project, stack);
    return {
        kind: "volumes",
        targets: importTargets(plain, names, stack),
        backups: backupsTarget(plain, names, stack),
        pythonImage: config.pythonImage,
    };
}

/**
 * The plain backups volume's files into the bound one, as they are (`cp -a`: owners, modes and the
 * hard links between the uploads snapshots kept), beside whatever the bound one holds already.
 */
export async function copyBackups(
    stack: string,
    pythonImage: string,
    from: ImportTarget,
    to: ImportTarget,
    env: Readonly<Record<string, string>>,
): Promise<{ from: string; to: string; files: number }> {
    await ensureVolumes([to], env);
    const copied = await run(
        "docker",
        [
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            "0:0",
            "--label",
            `${STACK_LABEL}=${stack}`,
            "--mount",
            `type=volume,source=${from.volume},target=/from,readonly`,
            "--mount",
            `type=volume,source=${to.volume},target=/to`,
            pythonImage,
            "sh",
            "-c",
            "cp -a /from/. /to/ && chown 10001:10001 /to && chmod 700 /to && find /from -type f | wc -l",
        ],
        env,
    );
    if (copied.code !== 0)
        throw new ImportError(`copying ${from.volume} into ${to.volume} failed: ${copied.stderr.trim()}`);
    return { from: from.volume, to: to.volume, files: Number(copied.stdout.trim()) };
}
