/**
 * The stand-in engine reads a volume's driver and options back as the Docker provider does
 * (test/support/engineRules.ts VOLUME_READ_BACK, from kreuzwerker v4.5.0 resource_docker_volume.go
 * and moby volume/service/store.go), on the real engine; and the program's fix it calls for: bound
 * volumes (dataHostPath) have names of their own. Each `rule:` test fails when the stand-in drops
 * the rule; the `program:` test fails on the program before its fix.
 */
import { randomBytes } from "crypto";
import { stackNames } from "../../core/names";
import { diffResource, LifecycleEngine, readBackVolume } from "../support/lifecycle";
import { Registration, runProgram, testConfig } from "../support/mocks";
import { docker } from "../support/realize";

const VOLUME = "docker:index/volume:Volume";
const tag = randomBytes(3).toString("hex");
const made: string[] = [];

afterAll(async () => {
    const filters = { label: [`lm-unit-vrb=${tag}`] };
    for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
        await docker
            .getVolume(v.Name)
            .remove()
            .catch(() => undefined);
    for (const name of made)
        await docker
            .getVolume(name)
            .remove()
            .catch(() => undefined);
});

const BIND = { type: "none", o: "bind", device: "/srv/lm-unit/data" };

function volume(name: string, bound: boolean): Registration {
    return {
        type: VOLUME,
        name: `v-${name}`,
        urn: `urn:pulumi:test::lernmanager::${VOLUME}::v-${name}`,
        inputs: {
            name,
            labels: [{ label: "lm-unit-vrb", value: tag }],
            ...(bound ? { driver: "local", driverOpts: BIND } : {}),
        },
        secretInputs: [],
        custom: true,
        opts: { dependsOn: [] },
        rawProps: {},
        order: 0,
    };
}

/** Two `up`s of the same declaration on a volume that `before` made first; the second's report. */
async function secondUp(name: string, before: "plain" | "bound" | "none", bound: boolean) {
    if (before !== "none")
        await docker.createVolume({
            Name: name,
            Labels: { "lm-unit-vrb": tag },
            ...(before === "bound" ? { Driver: "local", DriverOpts: BIND } : {}),
        });
    const engine = new LifecycleEngine();
    await engine.up([volume(name, bound)]);
    return engine.up([volume(name, bound)]);
}

describe("a volume's driver and options as the provider reads them back", () => {
    test("rule: the state holds Docker's driver and options, not the declared ones", () => {
        const declared = volume("x", true).inputs;
        expect(
            readBackVolume(declared, { Driver: "local", Labels: { "lm-unit-vrb": tag }, Options: null as any }),
        ).toEqual({
            labels: declared.labels,
            driver: "local",
            driverOpts: {},
        });
        const olds = { ...declared, ...readBackVolume(declared, { Driver: "local", Labels: {}, Options: BIND }) };
        expect(diffResource(volume("x", false), olds, volume("x", false).inputs)).toMatchObject({
            kind: "replace",
            fields: expect.arrayContaining(["driverOpts"]),
        });
    });

    test("rule: a bound volume declared where a plain one of that name exists is replaced by every next up", async () => {
        const report = await secondUp(`lm-unit-vrb-${tag}-a`, "plain", true);
        expect(report.replaces).toEqual([{ name: `v-lm-unit-vrb-${tag}-a`, fields: ["driverOpts"] }]);
    });

    test("rule: a plain volume declared where a bound one of that name exists is replaced too", async () => {
        const report = await secondUp(`lm-unit-vrb-${tag}-b`, "bound", false);
        expect(report.replaces).toEqual([{ name: `v-lm-unit-vrb-${tag}-b`, fields: ["driverOpts"] }]);
    });

    test("rule: a volume created as declared, bound or plain, shows no change", async () => {
        for (const [suffix, bound] of [
            ["c", true],
            ["d", false],
        ] as const) {
            made.push(`lm-unit-vrb-${tag}-${suffix}`);
            const report = await secondUp(`lm-unit-vrb-${tag}-${suffix}`, "none", bound);
            expect({ replaces: report.replaces, updates: report.updates, creates: report.creates }).toEqual({
                replaces: [],
                updates: [],
                creates: [],
            });
        }
    });
});

describe("program: switching a stack to dataHostPath", () => {
    const stack = `ut-vrb-${tag}`;
    const volumes = async (overrides: Record<string, string> = {}) =>
        (await runProgram(testConfig(overrides), { stack, secretKey: "k" })).registrations.filter(
            (r) => r.type === VOLUME,
        );
    afterAll(async () => {
        const filters = { label: [`dev.lernmanager.stack=${stack}`] };
        for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
            await docker
                .getVolume(v.Name)
                .remove()
                .catch(() => undefined);
    });

    test("creates bound volumes of their own names and leaves nothing to replace on the next up", async () => {
        const hostPath = { "lernmanager:dataHostPath": `/srv/lm-unit-${tag}` };
        const bound = stackNames("lernmanager", stack, hostPath["lernmanager:dataHostPath"]);
        const plain = stackNames("lernmanager", stack);

        const engine = new LifecycleEngine();
        await engine.up(await volumes());
        const on = await engine.up(await volumes(hostPath));
        expect(on.replaces.map((r) => r.name).sort()).toEqual(
            [
                `lernmanager-${stack}-storage-backups`,
                `lernmanager-${stack}-storage-data`,
                `lernmanager-${stack}-storage-keep-instance-reports`,
                `lernmanager-${stack}-storage-uploads`,
            ].sort(),
        );
        const data = await docker.getVolume(bound.volumes.data).inspect();
        expect(data.Options).toEqual({ type: "none", o: "bind", device: `/srv/lm-unit-${tag}/data` });
        const again = await engine.up(await volumes(hostPath));
        expect({ replaces: again.replaces, updates: again.updates, creates: again.creates }).toEqual({
            replaces: [],
            updates: [],
            creates: [],
        });
        // Own names for the bound ones; the volumes that stay Docker's keep theirs.
        expect(bound.volumes.data).toMatch(new RegExp(`^${plain.volumes.data}-bound-[0-9a-f]{6}$`));
        expect(bound.volumes.static).toBe(plain.volumes.static);
    });
});
