import type { SchoolWorkspace } from "../../school/workspace";

export interface FakeStack {
    config: Record<string, string>;
    tags: Record<string, string>;
    outputs: Record<string, unknown>;
}

/**
 * An in-memory SchoolWorkspace. Every call is recorded as "<method> <stack> [details]"; `up` derives
 * the `url` output from the port config like the program does.
 */
export class FakeWorkspace implements SchoolWorkspace {
    readonly calls: string[] = [];
    readonly stacks = new Map<string, FakeStack>();
    failUp?: string;
    failDestroy = new Set<string>();

    addStack(name: string, config: Record<string, string> = {}, extra: Partial<FakeStack> = {}): this {
        this.stacks.set(name, { config: { ...config }, tags: extra.tags ?? {}, outputs: extra.outputs ?? {} });
        return this;
    }
    addSchool(name: string, opts: { port?: number; createdAt?: string; protect?: boolean; url?: string } = {}): this {
        const config: Record<string, string> = {
            "lernmanager:appSource": "demo-app",
            "lernmanager:bindAddress": "127.0.0.1",
        };
        if (opts.port !== undefined) config["lernmanager:port"] = String(opts.port);
        if (opts.createdAt !== undefined) config["lernmanager:createdAt"] = opts.createdAt;
        config["lernmanager:protectData"] = opts.protect ? "true" : "false";
        return this.addStack(`school-${name}`, config, { outputs: opts.url ? { url: opts.url } : {} });
    }
    private get(stack: string): FakeStack {
        const s = this.stacks.get(stack);
        if (!s) throw new Error(`error: no stack named '${stack}' found`);
        return s;
    }
    /** Only the calls that change something. */
    get mutations(): string[] {
        return this.calls.filter((c) => !/^(listStacks|getAllConfig|listTags|stackOutputs)\b/.test(c));
    }

    async listStacks() {
        this.calls.push("listStacks");
        return [...this.stacks.keys()];
    }
    async createOrSelectStack(stack: string) {
        this.calls.push(`createOrSelectStack ${stack}`);
        if (!this.stacks.has(stack)) this.addStack(stack);
    }
    async getAllConfig(stack: string) {
        this.calls.push(`getAllConfig ${stack}`);
        return { ...this.get(stack).config };
    }
    async setConfig(stack: string, key: string, value: string, options?: { path?: boolean }) {
        this.calls.push(`setConfig ${stack} ${key}${options?.path ? " --path" : ""} ${value}`);
        const s = this.get(stack);
        const m = /^(.*)\[(\d+)\]$/.exec(key);
        if (options?.path && m) {
            const list = s.config[m[1]] ? (JSON.parse(s.config[m[1]]) as string[]) : [];
            list[Number(m[2])] = value;
            s.config[m[1]] = JSON.stringify(list);
        } else {
            s.config[key] = value;
        }
    }
    async removeConfig(stack: string, key: string) {
        this.calls.push(`removeConfig ${stack} ${key}`);
        delete this.get(stack).config[key];
    }
    async listTags(stack: string) {
        this.calls.push(`listTags ${stack}`);
        return { ...this.get(stack).tags };
    }
    async setTag(stack: string, key: string, value: string) {
        this.calls.push(`setTag ${stack} ${key} ${value}`);
        this.get(stack).tags[key] = value;
    }
    async up(stack: string, onOutput: (chunk: string) => void) {
        this.calls.push(`up ${stack}`);
        const s = this.get(stack);
        onOutput(`Updating (${stack})\n`);
        if (this.failUp) throw new Error(`code: 255\n stdout: Updating\n stderr: error: ${this.failUp}\n err?: \n`);
        s.outputs = { url: `http://127.0.0.1:${s.config["lernmanager:port"]}/` };
        return { ...s.outputs };
    }
    async destroy(stack: string, onOutput: (chunk: string) => void) {
        this.calls.push(`destroy ${stack}`);
        this.get(stack);
        onOutput(`Destroying (${stack})\n`);
        if (this.failDestroy.has(stack)) throw new Error(`code: 255\n stderr: error: cannot reach the Docker host\n`);
    }
    async removeStack(stack: string) {
        this.calls.push(`removeStack ${stack}`);
        this.get(stack);
        this.stacks.delete(stack);
    }
    async stackOutputs(stack: string) {
        this.calls.push(`stackOutputs ${stack}`);
        return { ...this.get(stack).outputs };
    }
}
