// One component declared under Pulumi's mocks, without the program (test/support/mocks.ts
// `runProgram` runs all of it): fast enough for a mutation run per mutant.
import * as pulumi from "@pulumi/pulumi";
import * as pulumiRuntime from "@pulumi/pulumi/runtime/resource";
import { unwrapSecrets } from "./mocks";

/** A child resource of the component, as the mock engine received it. */
export interface Declared {
    readonly type: string;
    readonly name: string;
    /** Inputs with every Output resolved. */
    readonly inputs: Record<string, any>;
    /** Top-level input names the engine received marked secret. */
    readonly secretInputs: string[];
    /** The options the component gave it (seen by a transformation). */
    readonly opts: pulumi.CustomResourceOptions;
    /** A component's outputs (`registerOutputs`, kept in its state), resolved; undefined for the rest. */
    readonly outputs?: Record<string, unknown>;
}

/**
 * Sets Pulumi's mocks, calls `declare` with a transformation to pass to the component (its children's
 * options are seen through it), and returns every resource registered, components included.
 * An Image's `repoDigest` is its imageName with "@digest" appended; a Container without a name
 * gets its logical name plus a suffix, as Pulumi auto-names it.
 */
export async function declareUnderMocks(
    declare: (transformations: pulumi.ResourceTransformation[]) => void,
): Promise<Declared[]> {
    const registered: Omit<Declared, "opts">[] = [];
    const options = new Map<string, pulumi.CustomResourceOptions>();
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                const { inputs, secrets } = unwrapSecrets(args.inputs);
                registered.push({ type: args.type, name: args.name, inputs, secretInputs: secrets });
                const state: Record<string, unknown> = { ...inputs };
                if (args.type === "docker:index/image:Image") state.repoDigest = `${inputs.imageName}@digest`;
                if (args.type === "docker:index/container:Container" && !inputs.name)
                    state.name = `${args.name}-a1b2c3d`;
                return { id: `${args.name}-id`, state };
            },
            call: (args) => args.inputs,
        },
        "lernmanager",
        "unit",
        false,
    );
    // The mock monitor keeps a component's outputs to itself: they are seen on their way to it.
    const registerOutputs = jest.spyOn(pulumiRuntime, "registerResourceOutputs");
    let calls: [pulumi.Resource, unknown][];
    try {
        declare([
            (args) => {
                options.set(`${args.type}::${args.name}`, args.opts);
                return undefined;
            },
        ]);
        // Let the registrations (and their resolved inputs) reach the mock monitor.
        for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
        calls = registerOutputs.mock.calls.map(([res, given]) => [res, given]);
    } finally {
        registerOutputs.mockRestore();
    }
    // Keyed by type and name, as the registrations are (a URN ends with `<type chain>::<name>`).
    const outputs = new Map<string, Record<string, unknown>>();
    for (const [component, given] of calls) {
        const urn = await new Promise<string>((r) => component.urn.apply(r));
        const [typeChain, name] = urn.split("::").slice(-2);
        const resolved: Record<string, unknown> = {};
        for (const [k, v] of Object.entries((given ?? {}) as Record<string, unknown>))
            resolved[k] = pulumi.Output.isInstance(v) ? await new Promise((r) => v.apply(r)) : v;
        outputs.set(`${typeChain.split("$").pop()}::${name}`, resolved);
    }
    return registered.map((r) => ({
        ...r,
        opts: options.get(`${r.type}::${r.name}`) ?? {},
        outputs: outputs.get(`${r.type}::${r.name}`),
    }));
}
