/**
 * The program as declared: runs lib/program.ts under Pulumi's mocks (test/support/mocks.ts) for a
 * bench stack and builds its images exactly the way the real-engine tests do (test/support/realize.ts).
 */
import { createHash, randomBytes } from "crypto";
import { ProgramRun, Registration, runProgram, testConfig } from "../../test/support/mocks";
import { buildImage } from "../../test/support/realize";
import { STACK_PREFIX } from "./docker";
import { log, secondsSince } from "./util";

const IMAGE = "docker:index/image:Image";
const CONTAINER = "docker:index/container:Container";

/** One SECRET_KEY for every variant of a run, so a session cookie means the same everywhere. */
export const BENCH_SECRET = randomBytes(32).toString("hex");

/**
 * An experiment on the generated configs without editing lib/: exact text replacements (every
 * occurrence) in the
 * rendered nginx.conf and gunicorn.conf.py (`--tune file.json`, for before/after figures).
 */
export interface Tune {
    readonly nginx?: [string, string][];
    readonly gunicorn?: [string, string][];
    /** Extra Pulumi config, e.g. {"lernmanager:workers": "3"}. */
    readonly config?: Record<string, string>;
}

let activeTune: Tune | undefined;
export function setTune(tune: Tune | undefined): void {
    activeTune = tune;
}

function patchArg(run: ProgramRun, reg: Registration, arg: string, replacements?: [string, string][]): void {
    if (!replacements?.length) return;
    const args = reg.inputs.build.args as Record<string, string>;
    let text = Buffer.from(args[arg], "base64").toString("utf8");
    for (const [from, to] of replacements) {
        const count = text.split(from).length - 1;
        if (count === 0) throw new Error(`tune: "${from}" does not occur in ${arg}`);
        text = text.split(from).join(to);
    }
    args[arg] = Buffer.from(text, "utf8").toString("base64");
    const tag = createHash("sha256").update(text).digest("hex").slice(0, 8);
    const old = String(reg.inputs.imageName);
    const renamed = `${old.split(":")[0]}:tuned-${tag}`;
    // Whatever runs the image (containers, deploy steps) names it by its tag under the mocks.
    const rename = (v: unknown): unknown => {
        if (v === old) return renamed;
        if (Array.isArray(v)) return v.map(rename);
        if (v && typeof v === "object") {
            for (const [k, x] of Object.entries(v)) (v as Record<string, unknown>)[k] = rename(x);
        }
        return v;
    };
    for (const r of run.registrations) rename(r.inputs);
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Declares stack `bench-<suffix>` with the test config (offline base images) and the given port.
 * Declarations run one at a time: Pulumi's mocks are global to the process.
 */
export function declare(
    stack: string,
    port: number,
    overrides: Record<string, string> = {},
    tune: Tune | undefined = activeTune,
): Promise<ProgramRun> {
    const next = queue.then(() => declareNow(stack, port, overrides, tune));
    queue = next.catch(() => undefined);
    return next;
}

async function declareNow(
    stack: string,
    port: number,
    overrides: Record<string, string>,
    tune: Tune | undefined,
): Promise<ProgramRun> {
    if (!stack.startsWith(STACK_PREFIX)) throw new Error(`bench stacks are named ${STACK_PREFIX}*, not ${stack}`);
    const run = await runProgram(testConfig({ "lernmanager:port": String(port), ...tune?.config, ...overrides }), {
        stack,
        secretKey: BENCH_SECRET,
    });
    if (tune) {
        const images = imagesOf(run);
        patchArg(run, images.nginx, "NGINX_CONF", tune.nginx);
        patchArg(run, images.app, "GUNICORN_CONF", tune.gunicorn);
    }
    return run;
}

/**
 * The registrations to realize. A second declaration in the same process also registers Pulumi's
 * default Docker provider (a provider, not a Docker object): it is left out.
 */
export function realizable(run: ProgramRun): Registration[] {
    return run.registrations.filter((r) => !r.type.startsWith("pulumi:providers:"));
}

export interface DeclaredImages {
    readonly runtime: Registration;
    readonly app: Registration;
    readonly nginx: Registration;
}

export function imagesOf(run: ProgramRun): DeclaredImages {
    const images = run.ofType(IMAGE);
    const pick = (suffix: string) => {
        const found = images.filter((r) => r.name.endsWith(suffix));
        if (found.length !== 1) throw new Error(`expected one image *${suffix}`);
        return found[0];
    };
    return { runtime: pick("-image-runtime"), app: pick("-image-app"), nginx: pick("-nginx-image") };
}

function containerOf(run: ProgramRun, suffix: string): Registration {
    const found = run.ofType(CONTAINER).filter((r) => r.name.endsWith(suffix));
    if (found.length !== 1) throw new Error(`expected one container *${suffix}`);
    return found[0];
}

export const appContainerOf = (run: ProgramRun): Registration => containerOf(run, "-app");
export const nginxContainerOf = (run: ProgramRun): Registration => containerOf(run, "-nginx");

export interface BuiltImages {
    readonly ids: { runtime: string; app: string; nginx: string };
    readonly names: { runtime: string; app: string; nginx: string };
    /** Seconds the three builds took (with Docker's layer cache as it is). */
    readonly seconds: number;
}

/** Builds the runtime, app and nginx images of a declaration (the layer cache is used). */
export async function buildDeclared(run: ProgramRun): Promise<BuiltImages> {
    const regs = imagesOf(run);
    const started = process.hrtime.bigint();
    const quiet = (line: string) => log(line);
    const runtime = await buildImage(regs.runtime, quiet);
    const app = await buildImage(regs.app, quiet);
    const nginx = await buildImage(regs.nginx, quiet);
    return {
        ids: { runtime, app, nginx },
        names: {
            runtime: regs.runtime.inputs.imageName,
            app: regs.app.inputs.imageName,
            nginx: regs.nginx.inputs.imageName,
        },
        seconds: secondsSince(started),
    };
}
