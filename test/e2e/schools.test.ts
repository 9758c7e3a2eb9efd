/**
 * Two test schools side by side on one engine, created and destroyed by the school command's own
 * logic (school/schools.ts); only `up`/`destroy` are the realizer instead of the Pulumi CLI.
 */
import { createSchool, destroySchools, listSchools } from "../../school/schools";
import { isPortFreeOnLoopback } from "../../school/ports";
import { engineWorkspace } from "../support/engineWorkspace";
import { loginAttempt, request } from "../support/http";
import { docker } from "../support/realize";

jest.setTimeout(600000);

const ws = engineWorkspace((l) => process.stdout.write(`    [schools] ${l}\n`));
const deps = {
    workspace: ws,
    isPortFree: isPortFreeOnLoopback,
    now: () => new Date(),
    log: () => undefined,
    output: () => undefined,
};

async function objectsOf(stack: string) {
    const filters = { label: [`dev.lernmanager.stack=${stack}`] };
    const images: string[] = [];
    for (const repo of ["runtime", "app", "nginx"]) {
        for (const img of await docker.listImages({ filters: { reference: [`lernmanager-${stack}-${repo}`] } }))
            images.push(...(img.RepoTags ?? []));
    }
    return {
        containers: (await docker.listContainers({ all: true, filters })).map((c) => c.Names[0]).sort(),
        volumes: ((await docker.listVolumes({ filters })).Volumes ?? []).map((v) => v.Name).sort(),
        networks: (await docker.listNetworks({ filters })).map((n) => n.Name).sort(),
        images: images.sort(),
    };
}

afterAll(async () => {
    for (const stack of ws.realizations.keys())
        await ws.realizations
            .get(stack)
            ?.teardown()
            .catch(() => undefined);
});

test("two schools coexist; destroying one leaves the other untouched and nothing of its own behind", async () => {
    const berlin = await createSchool(deps, { name: "e2e-berlin", demoData: true });
    const hamburg = await createSchool(deps, { name: "e2e-hamburg", demoData: false });
    expect(berlin.port).not.toBe(hamburg.port);
    for (const school of [berlin, hamburg]) {
        expect((await request(school.port, "/healthz")).status).toBe(200);
        expect(school.url).toBe(`http://127.0.0.1:${school.port}/`);
    }
    expect((await listSchools(deps)).map((r) => r.name)).toEqual(["e2e-berlin", "e2e-hamburg"]);
    // Demo data only where asked for.
    const studentLogin = (port: number) => loginAttempt(port, "student01", "lernen");
    expect((await studentLogin(berlin.port)).location).toBe("/dashboard");
    expect((await studentLogin(hamburg.port)).status).toBe(401);

    const hamburgBefore = await objectsOf("school-e2e-hamburg");
    const berlinBefore = await objectsOf("school-e2e-berlin");
    // app, backups, nginx
    expect(berlinBefore.containers).toHaveLength(3);
    // data, uploads, static, cache, backups, nginx's spool and the persistent instance/reports
    expect(berlinBefore.volumes).toHaveLength(7);
    expect(berlinBefore.networks).toHaveLength(1);
    expect(berlinBefore.images.length).toBeGreaterThanOrEqual(3);
    const hamburgNginx = await docker.getContainer("lernmanager-school-e2e-hamburg-nginx").inspect();

    const result = await destroySchools(deps, { name: "e2e-berlin" });
    expect(result.destroyed).toEqual(["e2e-berlin"]);

    expect(await objectsOf("school-e2e-berlin")).toEqual({ containers: [], volumes: [], networks: [], images: [] });
    expect(await objectsOf("school-e2e-hamburg")).toEqual(hamburgBefore);
    const after = await docker.getContainer("lernmanager-school-e2e-hamburg-nginx").inspect();
    expect(after.State.StartedAt).toBe(hamburgNginx.State.StartedAt);
    expect((await request(hamburg.port, "/login")).status).toBe(200);
    expect((await listSchools(deps)).map((r) => r.name)).toEqual(["e2e-hamburg"]);

    await destroySchools(deps, { name: "e2e-hamburg" });
    expect(await objectsOf("school-e2e-hamburg")).toEqual({ containers: [], volumes: [], networks: [], images: [] });
});
