/**
 * Cold start: from the Engine API's container start to the first 200 on /login, for the declared app
 * container, with the image as built (-OO bytecode precompiled) and with an image derived from it
 * in which every *.opt-2.pyc is deleted (what the app image would be without the precompile step).
 *
 * It runs on the realized gunicorn variant (declared network, volumes and deploy steps, so the
 * database exists, as it does when a deploy replaces the app container): each repetition creates a
 * fresh container with the declared settings and a published port, starts it and polls /login
 * every 10 ms. The two images alternate, so drift hits both alike.
 * The page cache is warm (the image was just used); nothing is dropped, the machine is shared.
 */
import { spawnSync } from "child_process";
import Docker from "dockerode";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { freePort, request } from "../../test/support/http";
import { containerCreateBody } from "../../test/support/realize";
import { appContainerOf } from "./declare";
import { BENCH_LABEL, docker, OBJECT_PREFIX, onCleanup, removeContainer, removeImage, runOnce } from "./docker";
import { ColdStartFigures } from "./results";
import { publish, RunningVariant } from "./variants";
import { log, median, round, secondsSince, sleep } from "./util";

export const NO_BYTECODE_REPO = `${OBJECT_PREFIX}nobytecode`;

const DOCKERFILE = `ARG APP_IMAGE
FROM \${APP_IMAGE}
USER root
RUN find / -xdev -name '*.opt-2.pyc' -delete
USER 10001:10001
`;

/** Builds `lmbench-nobytecode:<tag>` from the app image (same entrypoint, env and user). */
export async function buildNoBytecodeImage(appImage: string): Promise<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lmbench-nopyc-"));
    try {
        fs.writeFileSync(path.join(dir, "Dockerfile"), DOCKERFILE);
        const tar = spawnSync("tar", ["-C", dir, "-cf", "-", "Dockerfile"], { maxBuffer: 1 << 20 });
        const tag = `${NO_BYTECODE_REPO}:${appImage.replace(/^sha256:/, "").slice(0, 12)}`;
        const stream = await docker.buildImage(
            tar.stdout as unknown as NodeJS.ReadableStream,
            {
                t: tag,
                buildargs: { APP_IMAGE: appImage },
                version: "1",
                rm: true,
                forcerm: true,
            } as Docker.ImageBuildOptions,
        );
        await new Promise<void>((resolve, reject) =>
            docker.modem.followProgress(stream, (err: Error | null, out: any[]) => {
                const failed = err ?? out.find((o) => o.error)?.error;
                if (failed) reject(new Error(`build of ${tag} failed: ${String(failed)}`));
                else resolve();
            }),
        );
        return tag;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Number of *.opt-2.pyc files in an image. */
export async function countBytecode(image: string): Promise<number> {
    const r = await runOnce(image, ["sh", "-c", "find / -xdev -name '*.opt-2.pyc' 2>/dev/null | wc -l"]);
    return Number(r.output.trim().split("\n").pop());
}

async function firstLogin(port: number, timeoutSeconds: number): Promise<void> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    while (Date.now() < deadline) {
        try {
            if ((await request(port, "/login", { timeoutMs: 5000 })).status === 200) return;
        } catch {
            // not listening yet
        }
        await sleep(10);
    }
    throw new Error(`no 200 on /login within ${timeoutSeconds} s`);
}

/**
 * Measures on the realized `gunicorn` variant (its network and volumes; its own app container is
 * killed first and stays down).
 */
export async function measureColdStart(gunicorn: RunningVariant, repetitions: number): Promise<ColdStartFigures> {
    if (!gunicorn.declared || !gunicorn.realization) throw new Error("cold start needs the realized gunicorn variant");
    await gunicorn.app.kill();
    const appReg = appContainerOf(gunicorn.declared);
    const declaredImage = (await docker.getImage(appReg.inputs.image).inspect()).Id;
    const noPyc = await buildNoBytecodeImage(declaredImage);
    const removeNoPyc = onCleanup(`image ${noPyc}`, () => removeImage(noPyc));
    const noPycInfo = await docker.getImage(noPyc).inspect();
    const images = { bytecode: declaredImage, noBytecode: noPycInfo.Id };
    const bytecodeFiles = {
        bytecode: await countBytecode(images.bytecode),
        noBytecode: await countBytecode(images.noBytecode),
    };
    const seconds: { bytecode: number[]; noBytecode: number[] } = { bytecode: [], noBytecode: [] };
    for (let i = 0; i < repetitions; i++) {
        const order = i % 2 === 0 ? (["bytecode", "noBytecode"] as const) : (["noBytecode", "bytecode"] as const);
        for (const kind of order) {
            const hostPort = await freePort();
            const name = `${OBJECT_PREFIX}cold-${kind.toLowerCase()}-${i}`;
            const body = publish(containerCreateBody(appReg, images[kind], name), hostPort);
            body.Labels = { ...body.Labels, [BENCH_LABEL]: "cold-start" };
            await removeContainer(name);
            const container = await docker.createContainer(body);
            const undo = onCleanup(`container ${name}`, () => removeContainer(container.id));
            try {
                const started = process.hrtime.bigint();
                await container.start();
                await firstLogin(hostPort, 60);
                const s = secondsSince(started);
                seconds[kind].push(round(s, 3));
                log(`cold start ${kind}: ${s.toFixed(3)} s`);
            } finally {
                // Killed, not stopped: how it stops is not measured here.
                await undo();
            }
            await sleep(200);
        }
    }
    // Removed now: tearing the stack down removes the app image it is built on.
    await removeNoPyc();
    const b = median(seconds.bytecode);
    const n = median(seconds.noBytecode);
    return {
        bytecode: { seconds: seconds.bytecode, median: round(b, 3) },
        noBytecode: { seconds: seconds.noBytecode, median: round(n, 3) },
        ratio: round(b / n, 3),
        noBytecodeImage: { name: noPyc, mb: round(noPycInfo.Size / 1e6, 1) },
        bytecodeFiles,
        method:
            "docker start of a new container with the declared app settings on the gunicorn variant's network " +
            "and volumes (existing database, warm page cache) until GET /login answers 200 through a published " +
            "127.0.0.1 port, polled every 10 ms; noBytecode = the app image with every *.opt-2.pyc deleted. " +
            "The two alternate. Medians.",
    };
}
