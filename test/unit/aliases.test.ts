/**
 * Renames keep existing stacks: the stand-in engine's alias rules (test/support/engineAliases.ts,
 * from pulumi/pulumi step_generator.go) and the program's renames under them.
 */
import { matchOlds } from "../support/engineAliases";
import { runProgram, testConfig } from "../support/mocks";
import { beforeRenames, withoutAliases } from "../support/renames";

const urn = (chain: string, name: string) => `urn:pulumi:prod::lernmanager::${chain}::${name}`;

describe("the engine's alias rules", () => {
    const olds = new Set([
        urn("my:index:Old", "site"),
        urn("my:index:Old$my:step:Step", "site-images"),
        urn("my:index:Old$my:step:Step$command:local:Command", "site-images"),
        urn("my:index:Old$docker:index/container:Container", "site-app"),
    ]);
    const component = { type: "my:index:New", name: "site", urn: urn("my:index:New", "site") };
    const step = {
        type: "my:step:Step",
        name: "site-prune",
        urn: urn("my:index:New$my:step:Step", "site-prune"),
        parentUrn: component.urn,
    };
    const command = {
        type: "command:local:Command",
        name: "site-prune",
        urn: urn("my:index:New$my:step:Step$command:local:Command", "site-prune"),
        parentUrn: step.urn,
    };
    const app = {
        type: "docker:index/container:Container",
        name: "site-app",
        urn: urn("my:index:New$docker:index/container:Container", "site-app"),
        parentUrn: component.urn,
    };

    test("a type alias on a component carries its children; a name alias on a child and its own child follow", () => {
        const found = matchOlds(
            [
                { ...component, aliases: [{ type: "my:index:Old" }] },
                { ...step, aliases: [{ name: "site-images" }] },
                command,
                app,
            ],
            olds,
        );
        expect([...found.values()]).toEqual([...olds]);
    });

    test("without the aliases nothing under the component is found: all of it would be created anew and the old deleted", () => {
        const found = matchOlds([component, step, command, app], olds);
        expect([...found.values()]).toEqual([undefined, undefined, undefined, undefined]);
    });

    test("an alias to an old URN another resource of the program already claimed is an error", () => {
        const twin = {
            ...app,
            name: "site-app2",
            urn: urn("my:index:New$docker:index/container:Container", "site-app2"),
        };
        expect(() =>
            matchOlds(
                [
                    { ...component, aliases: [{ type: "my:index:Old" }] },
                    app,
                    { ...twin, aliases: [urn("my:index:Old$docker:index/container:Container", "site-app")] },
                ],
                olds,
            ),
        ).toThrow(/already is/);
    });

    test("an alias given as a full URN is used as it is", () => {
        const found = matchOlds(
            [{ ...app, aliases: [urn("my:index:Old$docker:index/container:Container", "site-app")] }],
            olds,
        );
        expect(found.get(app.urn)).toBe(urn("my:index:Old$docker:index/container:Container", "site-app"));
    });
});

describe("the program's renames keep an existing stack's resources", () => {
    const goals = (regs: Awaited<ReturnType<typeof runProgram>>["registrations"]) =>
        regs.map((r) => ({ ...r, parentUrn: r.opts.parentUrn, aliases: r.opts.aliases }));

    test("every resource of a stack the old version made is found again, by URN or alias", async () => {
        const now = (await runProgram(testConfig({}), { stack: "prod" })).registrations;
        const before = beforeRenames(now);
        expect(before.map((r) => r.urn)).not.toEqual(now.map((r) => r.urn));
        const found = matchOlds(goals(now), new Set(before.map((r) => r.urn)));
        expect(now.map((r) => found.get(r.urn))).toEqual(before.map((r) => r.urn));
        expect(now.find((r) => r.name.endsWith("-image-prune") && r.custom)?.urn).toMatch(
            /::lernmanager:index:Lernmanager\$lernmanager:deploy:DeployStep\$command:local:Command::lernmanager-prod-image-prune$/,
        );
    });

    test("without the aliases every resource under the component would be new (the control)", async () => {
        const now = (await runProgram(testConfig({}), { stack: "prod" })).registrations;
        const before = beforeRenames(now);
        const found = matchOlds(goals(withoutAliases(now)), new Set(before.map((r) => r.urn)));
        const lost = now.filter((r) => !found.get(r.urn)).map((r) => r.name);
        // Only the provider, the destroy guard and its command stand outside the component.
        const kept = now.filter((r) => found.get(r.urn)).map((r) => r.type);
        expect(kept.sort()).toEqual([
            "command:local:Command",
            "lernmanager:deploy:DestroyGuard",
            "pulumi:providers:docker",
        ]);
        expect(lost.length).toBe(now.length - 3);
    });
});
