/**
 * The program as declared: runs program.ts under Pulumi's mocks (test/support/mocks.ts) for a
 * bench stack and builds its images exactly the way the real-engine tests do (test/support/realize.ts).
 */
import { randomBytes } from "crypto";
import { ProgramRun, Registration, runProgram, testConfig } from "../../test/support/mocks";
import { buildImage } from "../../test/support/realize";
import { imageJanitorScripts } from "../../render/deploy";
import { STACK_PREFIX } from "./docker";
import { applyTune, imagesOf, Tune } from "./tunes";
import { log, run as runCommand, secondsSince } from "./util";

const CONTAINER = "docker:index/container:Container";

export { imagesOf, type DeclaredImages, type Tune } from "./tunes";

/** One SECRET_KEY for every variant of a run, so a session cookie means the same everywhere. */
export const BENCH_SECRET = randomBytes(32).toString("hex");

let activeTune: Tune | undefined;
/** The tune every later declaration applies (bench/run.ts `--tune`), or none. */
export function setTune(tune: Tune | undefined): void {
    activeTune = tune;
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
    const config = testConfig({ "lernmanager:port": String(port), ...tune?.config, ...overrides });
    const run = await runProgram(config, { stack, secretKey: BENCH_SECRET });
    if (tune) applyTune(run, config, tune);
    return run;
}

/**
 * The registrations to realize. A second declaration in the same process also registers Pulumi's
 * default Docker provider (a provider, not a Docker object): it is left out.
 */
export function realizable(run: ProgramRun): Registration[] {
    return run.registrations.filter((r) => !r.type.startsWith("pulumi:providers:"));
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
    // The builds leave a container per step that ran (the provider never sets Remove); the
    // program's own build-leftovers step removes them after a deploy, so the benchmark does too.
    const janitor = imageJanitorScripts({ repositories: [], keep: 1 });
    const cleaned = await runCommand("bash", ["-c", janitor.buildLeftovers], {
        timeoutMs: 120000,
        env: { ...process.env, LM_BUILT: [runtime, app, nginx].join(" ") },
    });
    log(cleaned.stdout.trim());
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
