import { SchoolWorkspace } from "../../school/workspace";
import { runProgram, testConfig } from "./mocks";
import { realize, Realization } from "./realize";

/**
 * A SchoolWorkspace whose `up` and `destroy` are the realizer on the local Docker engine instead
 * of the Pulumi CLI: the test-school command's own logic runs unchanged against real containers.
 * The base images are the offline test images. Config is kept in memory per stack, like Pulumi.<stack>.yaml; `--path` list entries become the
 * JSON list Pulumi hands to a program.
 */
export function engineWorkspace(log: (line: string) => void = () => undefined): SchoolWorkspace & {
    realizations: Map<string, Realization>;
} {
    const configs = new Map<string, Record<string, string>>();
    const tags = new Map<string, Record<string, string>>();
    const outputs = new Map<string, Record<string, unknown>>();
    const realizations = new Map<string, Realization>();
    const configOf = (stack: string) => {
        const c = configs.get(stack);
        if (!c) throw new Error(`no stack ${stack}`);
        return c;
    };
    return {
        realizations,
        listStacks: async () => [...configs.keys()],
        createOrSelectStack: async (stack) => {
            if (!configs.has(stack)) configs.set(stack, {});
        },
        getAllConfig: async (stack) => ({ ...(configs.get(stack) ?? {}) }),
        setConfig: async (stack, key, value, options) => {
            const c = configOf(stack);
            const m = options?.path ? /^(.*)\[(\d+)\]$/.exec(key) : null;
            if (m) {
                const list: string[] = c[m[1]] ? JSON.parse(c[m[1]]) : [];
                list[Number(m[2])] = value;
                c[m[1]] = JSON.stringify(list);
            } else {
                c[key] = value;
            }
        },
        removeConfig: async (stack, key) => {
            delete configOf(stack)[key];
        },
        listTags: async (stack) => ({ ...(tags.get(stack) ?? {}) }),
        setTag: async (stack, key, value) => {
            tags.set(stack, { ...(tags.get(stack) ?? {}), [key]: value });
        },
        up: async (stack, onOutput) => {
            if (realizations.has(stack)) throw new Error("engineWorkspace: updating a realized stack is not mapped");
            // The offline base images stand in for the default ones (no registry here).
            const run = await runProgram(testConfig(configOf(stack)), { stack });
            const realization = await realize(run.registrations, { log: (l) => (onOutput(`${l}\n`), log(l)) });
            realizations.set(stack, realization);
            outputs.set(stack, run.outputs);
            return run.outputs;
        },
        destroy: async (stack) => {
            await realizations.get(stack)?.teardown();
            realizations.delete(stack);
            outputs.delete(stack);
        },
        removeStack: async (stack) => {
            configs.delete(stack);
            tags.delete(stack);
        },
        stackOutputs: async (stack) => outputs.get(stack) ?? {},
    };
}
