import { stackFileConfig } from "../../config/baseStack";
import { PROJECT_DIR } from "../../core/paths";
import { runProgram } from "./mocks";

/** One declared resource as the engine would compare it: URN, inputs and the options that change a plan. */
export interface DeclaredResource {
    readonly urn: string;
    readonly inputs: Record<string, unknown>;
    readonly secretInputs: string[];
    readonly opts: Record<string, unknown>;
}

/**
 * The graph a stack file declares, as `pulumi preview` would diff it against the state: every
 * resource's URN, resolved inputs and plan-changing options, sorted by URN. The prod file names the
 * real app beside the project (../lernmanager), which a test machine lacks: its app source is
 * swapped for the demo app, the one input that then differs from a school's.
 */
export async function declaredGraph(stack: "dev" | "prod"): Promise<DeclaredResource[]> {
    const config = stackFileConfig(PROJECT_DIR, stack)!;
    if (stack === "prod") config["lernmanager:appSource"] = "demo-app";
    const run = await runProgram(config, { stack });
    return run.registrations
        .map((r) => ({
            urn: r.urn,
            inputs: r.inputs,
            secretInputs: [...r.secretInputs].sort(),
            opts: Object.fromEntries(
                Object.entries({
                    ...r.opts,
                    parent: undefined,
                    dependsOn: [...r.opts.dependsOn].sort(),
                }).filter(([, v]) => v !== undefined),
            ),
        }))
        .sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
}

const IMAGE_TAG = /\b(lernmanager-[a-z0-9-]+-(?:runtime|app|nginx|tls)):[0-9a-f]{12}\b/g;

/**
 * The graph with what only says where an image's files live left out: image tags (content
 * hashes), APP_VERSION, build contexts and Dockerfile paths, and the comments of the generated
 * gunicorn.conf.py and nginx.conf baked into the images (they name source files). Moving files then keeps it equal, while a changed
 * URN, option or any other input shows.
 */
export function withoutFileLocations(graph: DeclaredResource[]): DeclaredResource[] {
    const walk = (v: unknown, key?: string): unknown => {
        if (typeof v === "string") {
            if (key === "APP_VERSION" || key === "LM_VERSION") return "<content hash>";
            if (key === "context" || key === "dockerfile") return "<build file>";
            if (key && /_CONF(_[A-Z_]+)?$/.test(key))
                return Buffer.from(v, "base64")
                    .toString("utf8")
                    .split("\n")
                    .filter((l) => !l.trimStart().startsWith("#"))
                    .join("\n");
            return v.replace(IMAGE_TAG, "$1:<content hash>");
        }
        if (Array.isArray(v)) return v.map((x) => walk(x));
        if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
        return v;
    };
    return graph.map((r) => ({ ...r, inputs: walk(r.inputs) as Record<string, unknown> }));
}
