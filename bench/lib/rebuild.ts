/**
 * Build times and image sizes.
 * - code change: the three declared images (runtime, app, nginx) built again after one line of
 *   app.py changed, with Docker's layer cache as a deploy finds it (dependency layers cached);
 * - clean: the same three with --no-cache (nothing reused but the base images, which are local).
 * Both use the docker CLI with the classic builder (the program declares BuilderV1), on a copy of
 * the demo app in a temporary folder, under stacks bench-rebuild / bench-clean; the images they
 * tag are removed afterwards.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Registration } from "../../test/support/mocks";
import { declare, DeclaredImages, imagesOf } from "./declare";
import { docker, onCleanup, removeImage, STACK_PREFIX } from "./docker";
import { ImageSizes, RebuildFigures } from "./results";
import { log, round, run } from "./util";

const DEMO_APP = path.join(__dirname, "..", "..", "demo-app");
const ORDER = ["runtime", "app", "nginx"] as const;

/** `docker build` of one declared image; returns seconds. */
async function cliBuild(reg: Registration, noCache: boolean): Promise<number> {
    const b = reg.inputs.build as { context: string; dockerfile: string; args?: Record<string, string> };
    const args = ["build", "-q", "--rm", "--force-rm", "-t", reg.inputs.imageName, "-f", b.dockerfile];
    if (noCache) args.push("--no-cache");
    for (const [k, v] of Object.entries(b.args ?? {})) args.push("--build-arg", `${k}=${v}`);
    args.push(b.context);
    const r = await run("docker", args, { timeoutMs: 15 * 60 * 1000, env: { ...process.env, DOCKER_BUILDKIT: "0" } });
    if (r.code !== 0) throw new Error(`docker build of ${reg.inputs.imageName} failed:\n${r.stderr.slice(-3000)}`);
    return r.seconds;
}

async function buildAll(
    images: DeclaredImages,
    noCache: boolean,
): Promise<{ total: number; each: Record<string, number> }> {
    const each: Record<string, number> = {};
    let total = 0;
    for (const kind of ORDER) {
        const reg = images[kind];
        onCleanup(`image ${reg.inputs.imageName}`, () => removeImage(reg.inputs.imageName));
        each[kind] = round(await cliBuild(reg, noCache), 2);
        total += each[kind];
    }
    return { total: round(total, 2), each };
}

/** Copy of the demo app without local state (what the image build would leave out anyway). */
function copyApp(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lmbench-app-"));
    onCleanup(`folder ${dir}`, async () => fs.rmSync(dir, { recursive: true, force: true }));
    fs.cpSync(DEMO_APP, dir, {
        recursive: true,
        filter: (src) => !/^(data|instance)(\/|$)|(^|\/)__pycache__(\/|$)/.test(path.relative(DEMO_APP, src)),
    });
    return dir;
}

/**
 * `quick`: no build of the unchanged app first (the figure then includes whatever the cache lacked),
 * and no clean build.
 */
export async function measureRebuild(quick: boolean): Promise<RebuildFigures> {
    const app = copyApp();
    const config = { "lernmanager:appSource": app };
    if (!quick) {
        // The cache as a deploy finds it: everything the unchanged app needs is built once.
        const warm = await buildAll(imagesOf(await declare(`${STACK_PREFIX}rebuild`, 8080, config)), false);
        log(`rebuild: unchanged app built in ${warm.total} s (cache warm-up)`);
    }
    // One line of app code changes.
    const appPy = path.join(app, "app.py");
    fs.appendFileSync(appPy, `BENCH_REBUILD_MARK = "${new Date().toISOString()}"\n`);
    const changed = await buildAll(imagesOf(await declare(`${STACK_PREFIX}rebuild`, 8080, config)), false);
    log(`rebuild: after a one-line change of app.py: ${changed.total} s ${JSON.stringify(changed.each)}`);
    let clean: { total: number; each: Record<string, number> } | null = null;
    if (!quick) {
        clean = await buildAll(imagesOf(await declare(`${STACK_PREFIX}clean`, 8080, config)), true);
        log(`rebuild: clean (--no-cache): ${clean.total} s ${JSON.stringify(clean.each)}`);
    }
    return {
        codeChangeSeconds: changed.total,
        codeChangePerImage: changed.each,
        cleanSeconds: clean?.total ?? null,
        cleanPerImage: clean?.each ?? null,
        method:
            "docker build (classic builder, as declared) of runtime + app + nginx with the declared build args; " +
            "code change = one line appended to app.py after a build of the unchanged app; clean = --no-cache.",
    };
}

/** Sizes of the images a deploy builds, their bases, and the image without bytecode. */
export async function imageSizes(names: Record<string, string>): Promise<ImageSizes> {
    const out: Record<string, { name: string; mb: number }> = {};
    for (const [key, name] of Object.entries(names)) {
        const info = await docker.getImage(name).inspect();
        out[key] = { name, mb: round(info.Size / 1e6, 1) };
    }
    return out;
}
