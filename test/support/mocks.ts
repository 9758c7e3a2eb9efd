import { createHash } from "crypto";
import { TEST_IMAGES } from "./baseImages";
import * as pulumi from "@pulumi/pulumi";

/** One resource the program registered, as Pulumi's mocks and a transformation saw it. */
export interface Registration {
    readonly type: string;
    readonly name: string;
    /** Inputs with every Output resolved (what the engine would receive). */
    readonly inputs: Record<string, any>;
    /** Top-level input names the engine received marked secret. */
    readonly secretInputs: string[];
    /** false for component resources. */
    readonly custom: boolean;
    /** Resource options, seen by a transformation (mocks do not see them). */
    readonly opts: {
        readonly dependsOn: string[];
        readonly parent?: string;
        readonly protect?: boolean;
        readonly retainOnDelete?: boolean;
        readonly replaceOnChanges?: string[];
        readonly deleteBeforeReplace?: boolean;
        /** The parent's full URN (the engine's URNs carry the parent's type chain). */
        readonly parentUrn?: string;
        /** The `aliases` option as the program gave it (an old URN, or a name and/or type). */
        readonly aliases?: AliasSpec[];
    };
    /** Input properties as the program passed them (Outputs unresolved), e.g. to check secretness. */
    readonly rawProps: Record<string, unknown>;
    /** Order of registration with the (mock) engine. */
    readonly order: number;
    /** The URN the engine gives it: stack, project, the parent's type chain, type and name. */
    readonly urn: string;
}

/** One entry of the `aliases` resource option, as far as the stand-in engine models it. */
export type AliasSpec = string | { readonly name?: string; readonly type?: string; readonly noParent?: boolean };

export interface ProgramRun {
    readonly registrations: Registration[];
    readonly outputs: Record<string, unknown>;
    /** Names of the stack outputs that are secret Outputs (encrypted in state, masked by the CLI). */
    readonly secretOutputs: string[];
    /** Registrations of one type, e.g. "docker:index/container:Container". */
    ofType(type: string): Registration[];
    /** The one custom (non-component) resource whose name ends with `suffix`. */
    named(suffix: string): Registration;
}

export interface RunOptions {
    readonly project?: string;
    readonly stack?: string;
    /**
     * What the mocked Image returns as `repoDigest` (the local image id a real build yields).
     * @default the image's own imageName, so a realizer can run the containers by tag
     */
    readonly imageId?: (imageName: string) => string;
    /** The value the mocked RandomPassword yields (its state). @default a fixed mock value */
    readonly secretKey?: string;
    /** What the deploy's smoke test printed (its Command's stdout). @default "" */
    readonly smokeOutput?: string;
}

const TYPES_WITH_NAMES = new Set([
    "docker:index/network:Network",
    "docker:index/volume:Volume",
    "docker:index/container:Container",
]);

/**
 * Runs the program (program.ts `main`) under Pulumi's mocks with the given config
 * (`{ "lernmanager:workers": "4", ... }`; Pulumi.yaml defaults are NOT applied under mocks, the
 * typed loader applies them). Records every registration with resolved inputs and options.
 */
export async function runProgram(config: Record<string, string>, options: RunOptions = {}): Promise<ProgramRun> {
    const project = options.project ?? "lernmanager";
    const stack = options.stack ?? "test";
    const imageId = options.imageId ?? ((name: string) => name);
    const registered: {
        type: string;
        name: string;
        inputs: Record<string, any>;
        secretInputs: string[];
        custom: boolean;
    }[] = [];
    const seen = new Map<string, { opts: Registration["opts"]; rawProps: Record<string, unknown> }>();

    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                const { inputs, secrets } = unwrapSecrets(args.inputs);
                registered.push({
                    type: args.type,
                    name: args.name,
                    inputs,
                    secretInputs: secrets,
                    custom: args.custom !== false,
                });
                const state: Record<string, unknown> = { ...inputs };
                if (args.type === "docker:index/image:Image") {
                    state.repoDigest = imageId(inputs.imageName);
                }
                if (TYPES_WITH_NAMES.has(args.type) && !inputs.name) {
                    // Pulumi auto-names: logical name plus a random suffix.
                    state.name = `${args.name}-a1b2c3d`;
                }
                if (args.type === "command:local:Command" && args.name.endsWith("-smoke")) {
                    state.stdout = options.smokeOutput ?? "";
                }
                if (args.type === "random:index/randomPassword:RandomPassword") {
                    // The secret key as chosen; any other password a stable value of its own (like state).
                    state.result = args.name.endsWith("-secret-key")
                        ? (options.secretKey ??
                          "mock-secret-key-0123456789abcdef0123456789abcdef0123456789abcdef01234567")
                        : `mockpw${createHash("sha256")
                              .update(`${args.name}:${options.secretKey ?? ""}`)
                              .digest("hex")
                              .slice(0, 26)}`;
                }
                return { id: `${args.name}-id`, state };
            },
            call(args) {
                return args.inputs;
            },
        },
        project,
        stack,
        false,
    );
    pulumi.runtime.setAllConfig(config);

    const fullUrnOf = async (r: pulumi.Resource): Promise<string> =>
        new Promise((resolve) => r.urn.apply((u) => resolve(u)));
    const urnOf = async (r: pulumi.Resource): Promise<string> => (await fullUrnOf(r)).split("::").pop()!;
    const pending: Promise<void>[] = [];
    const recorder: pulumi.ResourceTransformation = (args) => {
        const deps = args.opts.dependsOn;
        const depList = (Array.isArray(deps) ? deps : deps ? [deps] : []) as pulumi.Resource[];
        const entry = {
            opts: {
                dependsOn: [] as string[],
                parent: undefined as string | undefined,
                parentUrn: undefined as string | undefined,
                aliases: aliasSpecs(args.opts.aliases),
                protect: args.opts.protect as boolean | undefined,
                retainOnDelete: args.opts.retainOnDelete,
                replaceOnChanges: args.opts.replaceOnChanges,
                deleteBeforeReplace: (args.opts as pulumi.CustomResourceOptions).deleteBeforeReplace,
            },
            rawProps: args.props,
        };
        seen.set(`${args.type}::${args.name}`, entry); // a component and its child may share a name
        pending.push(
            (async () => {
                entry.opts.dependsOn.push(...(await Promise.all(depList.map(urnOf))));
                if (args.opts.parent) {
                    entry.opts.parentUrn = await fullUrnOf(args.opts.parent);
                    entry.opts.parent = entry.opts.parentUrn.split("::").pop();
                }
            })(),
        );
        return undefined;
    };

    // Loaded only now: no resource may exist before the mocks are in place.
    const { main } = await import("../../program");
    let out: ReturnType<typeof main>;
    try {
        out = main({ transformations: [recorder] });
    } catch (err) {
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
        throw Object.assign(err as Error, { registeredBeforeError: registered.length });
    }
    const outputs: Record<string, unknown> = {};
    const secretOutputs: string[] = [];
    await Promise.all(
        Object.entries(out).map(async ([key, value]) => {
            outputs[key] = await resolveDeep(value);
            if (pulumi.Output.isInstance(value) && (await pulumi.isSecret(value))) secretOutputs.push(key);
        }),
    );
    await Promise.all(pending);
    // Let the last registrations reach the mock monitor.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));

    const registrations: Registration[] = registered.map((r, order) => {
        const s = seen.get(`${r.type}::${r.name}`);
        const opts: Registration["opts"] = s?.opts ?? { dependsOn: [] };
        return { ...r, order, opts, rawProps: s?.rawProps ?? {}, urn: resourceUrn(stack, project, r, opts.parentUrn) };
    });
    return {
        registrations,
        outputs,
        secretOutputs,
        ofType: (type) => registrations.filter((r) => r.type === type),
        named: (suffix) => {
            const found = registrations.filter((r) => r.custom && r.name.endsWith(suffix));
            if (found.length !== 1) {
                throw new Error(
                    `expected one resource named *${suffix}, found ${found.map((f) => f.name).join(", ") || "none"}`,
                );
            }
            return found[0];
        },
    };
}

/**
 * The URN the engine generates (PE deployment.go `generateURN`, sdk resource/urn.go `NewURN`):
 * `urn:pulumi:<stack>::<project>::<parent's qualified type>$<type>::<name>` (no parent: just the type).
 */
export function resourceUrn(stack: string, project: string, r: { type: string; name: string }, parentUrn?: string) {
    const parentType = parentUrn ? parentUrn.split("::")[2] : "";
    return `urn:pulumi:${stack}::${project}::${parentType ? `${parentType}$` : ""}${r.type}::${r.name}`;
}

/** The `aliases` option, plain: an old URN, or a name and/or type (a parent, project or stack alias is not modeled). */
function aliasSpecs(given: unknown): AliasSpec[] | undefined {
    if (!Array.isArray(given) || given.length === 0) return undefined;
    return given.map((a) => {
        if (typeof a === "string") return a;
        const { name, type, noParent, ...rest } = a as Record<string, unknown>;
        if (Object.keys(rest).length)
            throw new Error(`alias fields ${Object.keys(rest).join(", ")} are not modeled by the stand-in engine`);
        if ((name !== undefined && typeof name !== "string") || (type !== undefined && typeof type !== "string"))
            throw new Error("an alias's name and type must be plain strings in this program");
        return { name, type, noParent: noParent === true ? true : undefined } as AliasSpec;
    });
}

/** Pulumi's wire marker of a secret value. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

export function unwrapSecrets(inputs: Record<string, any>): { inputs: Record<string, any>; secrets: string[] } {
    const secrets: string[] = [];
    const unwrap = (v: any): any => {
        if (Array.isArray(v)) return v.map(unwrap);
        if (v && typeof v === "object") {
            if (v[SIG_KEY] === SECRET_SIG) return unwrap(v.value);
            return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
        }
        return v;
    };
    const out: Record<string, any> = {};
    for (const [k, v] of Object.entries(inputs ?? {})) {
        if (v && typeof v === "object" && v[SIG_KEY] === SECRET_SIG) secrets.push(k);
        out[k] = unwrap(v);
    }
    return { inputs: out, secrets };
}

async function resolveDeep(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        return resolveDeep(await new Promise((resolve) => (value as pulumi.Output<unknown>).apply(resolve)));
    }
    if (Array.isArray(value)) return Promise.all(value.map(resolveDeep));
    if (value && typeof value === "object") {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) out[k] = await resolveDeep(v);
        return out;
    }
    return value;
}

/** The config of a throwaway test stack: the demo app, offline base images, a given port. */
export function testConfig(overrides: Record<string, string> = {}): Record<string, string> {
    const base: Record<string, string> = {
        "lernmanager:appSource": "demo-app",
        "lernmanager:pythonImage": TEST_IMAGES.python,
        "lernmanager:nginxImage": TEST_IMAGES.nginx,
        // The demo app's contract (as in Pulumi.dev.yaml).
        "lernmanager:databaseFile": "lernmanager.db",
        // Copies in the tests are plain unless a test sets recipients (disasterCopies.test.ts does).
        "lernmanager:backupEncryptTo": "none",
        "lernmanager:scratchPaths": '["instance/tmp"]',
        "lernmanager:persistentPaths": '["instance/reports"]',
        // The demo app keeps its admin in `users` (the real app: `admin`).
        "lernmanager:adminTable": "users",
    };
    return { ...base, ...overrides };
}
