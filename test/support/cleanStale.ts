import Docker from "dockerode";

/**
 * Removes what an interrupted earlier run of the real-engine suite left behind: every container,
 * network and volume whose stack label names a test stack (`e2e-*`, `school-e2e-*`). Nothing else
 * on the engine is touched. `LM_E2E_STALE` (a regular expression) narrows it, so that two
 * developers' runs on one engine leave each other's stacks alone, e.g. `LM_E2E_STALE='^e2e-jobs'`.
 */
export default async function cleanStale(): Promise<void> {
    const docker = new Docker();
    const pattern = new RegExp(process.env.LM_E2E_STALE || "^(school-)?e2e-");
    const isTest = (labels: Record<string, string> | undefined) =>
        pattern.test(labels?.["dev.lernmanager.stack"] ?? "");
    for (const c of await docker.listContainers({ all: true, filters: { label: ["dev.lernmanager.stack"] } })) {
        if (isTest(c.Labels))
            await docker
                .getContainer(c.Id)
                .remove({ force: true })
                .catch(() => undefined);
    }
    for (const n of await docker.listNetworks({ filters: { label: ["dev.lernmanager.stack"] } })) {
        if (isTest(n.Labels))
            await docker
                .getNetwork(n.Id)
                .remove()
                .catch(() => undefined);
    }
    for (const v of (await docker.listVolumes({ filters: { label: ["dev.lernmanager.stack"] } })).Volumes ?? []) {
        if (isTest(v.Labels))
            await docker
                .getVolume(v.Name)
                .remove()
                .catch(() => undefined);
    }
}
