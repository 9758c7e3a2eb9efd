import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";

/** Receives the Pulumi CLI's output while an operation runs (stdout and stderr, chunk by chunk). */
export type OutputSink = (chunk: string) => void;

/**
 * The part of the Automation API the school command uses. `schools.ts` only talks to this
 * interface, so tests inject a fake and never need the Pulumi CLI; `localSchoolWorkspace` below
 * backs it with a real `LocalWorkspace` on the project folder.
 *
 * Stack names are the names `listStacks` returns (short names such as `school-berlin`).
 * Config keys are full keys (`lernmanager:port`), values plain strings as `pulumi config` shows them
 * (structured values JSON-encoded).
 */
export interface SchoolWorkspace {
    /** Names of all stacks of the project. */
    listStacks(): Promise<string[]>;
    /** Creates the stack, or selects it when it exists. */
    createOrSelectStack(stack: string): Promise<void>;
    /** Every config value of the stack, keyed by full key. Empty when the stack has no config. */
    getAllConfig(stack: string): Promise<Record<string, string>>;
    /** `pulumi config set [--path] <key> <value>`. */
    setConfig(stack: string, key: string, value: string, options?: { readonly path?: boolean }): Promise<void>;
    /** `pulumi config rm <key>`. */
    removeConfig(stack: string, key: string): Promise<void>;
    /** The stack's tags (kept by the state backend, unlike Pulumi.<stack>.yaml). */
    listTags(stack: string): Promise<Record<string, string>>;
    setTag(stack: string, key: string, value: string): Promise<void>;
    /** `pulumi up` with its output streamed to `onOutput`; resolves to the stack outputs. */
    up(stack: string, onOutput: OutputSink): Promise<Record<string, unknown>>;
    /** `pulumi destroy` with its output streamed to `onOutput`. */
    destroy(stack: string, onOutput: OutputSink): Promise<void>;
    /** `pulumi stack rm` (also deletes Pulumi.<stack>.yaml). */
    removeStack(stack: string): Promise<void>;
    /** Outputs of the last update; empty when the stack was never deployed. */
    stackOutputs(stack: string): Promise<Record<string, unknown>>;
}

const plainValues = <T extends { value: V }, V>(map: Record<string, T>): Record<string, V> =>
    Object.fromEntries(Object.entries(map).map(([k, v]) => [k, v.value]));

/** A `SchoolWorkspace` on the real Pulumi CLI: `LocalWorkspace.create({ workDir })`. */
export async function localSchoolWorkspace(workDir: string): Promise<SchoolWorkspace> {
    const ws = await LocalWorkspace.create({ workDir });
    const stacks = new Map<string, Stack>();
    const stackFor = async (name: string): Promise<Stack> => {
        let stack = stacks.get(name);
        if (!stack) {
            stack = await Stack.select(name, ws);
            stacks.set(name, stack);
        }
        return stack;
    };
    return {
        listStacks: async () => (await ws.listStacks()).map((s) => s.name),
        createOrSelectStack: async (name) => {
            stacks.set(name, await Stack.createOrSelect(name, ws));
        },
        getAllConfig: async (name) => plainValues(await ws.getAllConfig(name)),
        setConfig: (name, key, value, options) => ws.setConfig(name, key, { value }, options?.path),
        removeConfig: (name, key) => ws.removeConfig(name, key),
        listTags: (name) => ws.listTags(name),
        setTag: (name, key, value) => ws.setTag(name, key, value),
        up: async (name, onOutput) => {
            const result = await (await stackFor(name)).up({ onOutput, onError: onOutput });
            return plainValues(result.outputs);
        },
        destroy: async (name, onOutput) => {
            await (await stackFor(name)).destroy({ onOutput, onError: onOutput });
        },
        removeStack: async (name) => {
            await ws.removeStack(name);
            stacks.delete(name);
        },
        stackOutputs: async (name) => plainValues(await ws.stackOutputs(name)),
    };
}
