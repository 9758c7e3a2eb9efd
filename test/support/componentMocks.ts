// One component declared under Pulumi's mocks, without the program (test/support/mocks.ts
// `runProgram` runs all of it): fast enough for a mutation run per mutant.
import * as pulumi from "@pulumi/pulumi";
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
}

/**
 * Sets Pulumi's mocks, calls `declare` with a transformation to pass to the component (its children's
 * options are seen through it), and returns every resource registered, components included.
 * An Image's `repoDigest` is its imageName with "@digest" appended.
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
                return { id: `${args.name}-id`, state };
            },
            call: (args) => args.inputs,
        },
        "lernmanager",
        "unit",
        false,
    );
    declare([
        (args) => {
            options.set(`${args.type}::${args.name}`, args.opts);
            return undefined;
        },
    ]);
    // Let the registrations (and their resolved inputs) reach the mock monitor.
    for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
    return registered.map((r) => ({ ...r, opts: options.get(`${r.type}::${r.name}`) ?? {} }));
}
