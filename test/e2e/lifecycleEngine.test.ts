/**
 * What a real `pulumi up`, a second `up`, an update and `destroy` do, played by the
 * stand-in engine (test/support/lifecycle.ts, rules in engineRules.ts) on the real Docker engine.
 * Stacks e2e-lc-dev and e2e-lc-prod (run with LM_E2E_STALE='^e2e-lc').
 */
import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { destroyRefusal } from "../../components/destroyGuard";
import { eventually, freePort, request } from "../support/http";
import { LifecycleEngine, mockDigest, UpReport } from "../support/lifecycle";
import { runProgram, testConfig } from "../support/mocks";
import { beforeRenames } from "../support/renames";
import { docker } from "../support/realize";
import { copyOfDemoApp } from "../support/stack";
import { TEST_IMAGES } from "../support/baseImages";
import { CONTAINERS_DIR } from "../../core/paths";

jest.setTimeout(600000);

const log = (stack: string) => (l: string) => process.stdout.write(`    [${stack}] ${l}\n`);
const names = (list: { name: string }[] | string[]) =>
    list.map((x) => (typeof x === "string" ? x : x.name).replace(/^lernmanager-e2e-lc-\w+-/, "")).sort();
const summary = (r: UpReport) => ({
    creates: names(r.creates),
    updates: names(r.updates),
    replaces: names(r.replaces),
    deletes: names(r.deletes),
    commandsRun: r.commandsRun,
    builds: names(r.builds),
});
const NOTHING = { creates: [], updates: [], replaces: [], deletes: [], commandsRun: [], builds: [] };

/** Every object with the stack's label, and every tag of its image repositories. */
async function leftovers(stack: string) {
    const filters = { label: [`dev.lernmanager.stack=${stack}`] };
    const repos = ["runtime", "app", "nginx"].map((r) => `lernmanager-${stack}-${r}`);
    const images = (await docker.listImages()).flatMap((i) => i.RepoTags ?? []);
    return {
        containers: (await docker.listContainers({ all: true, filters })).map((c) => c.Names[0]).sort(),
        networks: (await docker.listNetworks({ filters })).map((n) => n.Name).sort(),
        volumes: ((await docker.listVolumes({ filters })).Volumes ?? []).map((v) => v.Name).sort(),
        images: images.filter((t) => repos.includes(t.split(":")[0])).sort(),
    };
}

/**
 * Stopped containers the classic builder left from the layers of the given images (no stack label):
 * the containers whose commit is one of those layers. Another stack's build on this shared engine
 * starts its own containers on top of the same cached layers; those commit layers of their own
 * (not in these images' history) and are that build's to remove, not leftovers of this one.
 */
async function buildLeftovers(imageIds: string[]): Promise<string[]> {
    const layers = new Set<string>();
    for (const id of imageIds) {
        for (const h of await docker.getImage(id).history())
            if (h.Id.startsWith("sha256:")) layers.add(h.Id);
    }
    // Which image each container was committed into (the classic builder's step containers).
    const committedInto = new Map<string, string>();
    for (const line of spawnSync(
        "/bin/bash",
        ["-c", "docker image inspect --format '{{.Container}} {{.Id}}' $(docker image ls -aq --no-trunc | sort -u)"],
        { encoding: "utf8", maxBuffer: 1 << 26 },
    ).stdout.split("\n")) {
        const [container, image] = line.trim().split(" ");
        if (container && image) committedInto.set(container, image);
    }
    const found: string[] = [];
    for (const c of await docker.listContainers({ all: true, filters: { status: ["created", "exited"] } })) {
        if (c.Labels?.["dev.lernmanager.stack"]) continue;
        const image = committedInto.get(c.Id);
        if (image && layers.has(image)) found.push(`${c.Id.slice(0, 12)} (${c.Command})`);
    }
    return found;
}

async function forceRemove(stack: string) {
    const filters = { label: [`dev.lernmanager.stack=${stack}`] };
    for (const c of await docker.listContainers({ all: true, filters }))
        await docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined);
    for (const n of await docker.listNetworks({ filters }))
        await docker
            .getNetwork(n.Id)
            .remove()
            .catch(() => undefined);
    for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
        await docker
            .getVolume(v.Name)
            .remove()
            .catch(() => undefined);
    for (const t of (await leftovers(stack)).images)
        await docker
            .getImage(t)
            .remove()
            .catch(() => undefined);
}

describe("a dev stack: up, up again, an app change, an nginx change, more memory, destroy", () => {
    const stack = "e2e-lc-dev";
    const engine = new LifecycleEngine({ log: log(stack) });
    const app = copyOfDemoApp();
    const key = randomBytes(32).toString("hex");
    let config: Record<string, string>;
    /** `asBefore`: the registrations of the version before the renames (test/support/renames.ts). */
    const up = async (asBefore = false) => {
        const regs = (await runProgram(testConfig(config), { stack, secretKey: key, imageId: mockDigest }))
            .registrations;
        return engine.up(asBefore ? beforeRenames(regs) : regs);
    };
    const container = (suffix: string) => docker.getContainer(engine.state.get(`lernmanager-${stack}-${suffix}`)!.id);

    beforeAll(async () => {
        config = { "lernmanager:port": String(await freePort()), "lernmanager:appSource": app.dir };
    });
    afterAll(async () => {
        await forceRemove(stack);
        app.remove();
    });

    const builtImages = () =>
        ["image-runtime", "image-app", "nginx-image"].map((n) => engine.state.get(`lernmanager-${stack}-${n}`)!.id);

    test("the first up (by the version before the renames) creates everything and leaves no container from the image builds (finding 4)", async () => {
        const first = await up(true);
        expect(first.creates).toContain(`lernmanager-${stack}-images`);
        expect(first.replaces).toEqual([]);
        expect(first.creates.length).toBe(engine.state.size);
        expect((await request(Number(config["lernmanager:port"]), "/healthz")).status).toBe(200);
        expect(await buildLeftovers(builtImages())).toEqual([]);
    });

    test("a second up, by the current version (renamed component and step, with aliases), creates, updates, replaces, deletes and runs nothing", async () => {
        // Health-check durations as the provider reads them back ("1m0s"), the memory swap declared.
        const ids = [...engine.state.values()].map((s) => s.id).sort();
        expect(summary(await up())).toEqual(NOTHING);
        expect([...engine.state.values()].map((s) => s.id).sort()).toEqual(ids);
        expect(engine.state.has(`lernmanager-${stack}-image-prune`)).toBe(true);
        expect(engine.state.has(`lernmanager-${stack}-images`)).toBe(false);
    });

    test("a Python test run and another umask between two ups: the second changes nothing (round three, item 2)", async () => {
        // What `npm test` leaves behind (bytecode next to the runtime's scripts, the app's), and a
        // checkout under umask 002: the provider's own context digest would see all of it.
        const pycache = path.join(CONTAINERS_DIR, "runtime", "app", "__pycache__");
        const had = fs.existsSync(pycache);
        try {
            expect(
                spawnSync("python3", ["-m", "compileall", "-q", path.join(CONTAINERS_DIR, "runtime"), app.dir]).status,
            ).toBe(0);
            fs.chmodSync(path.join(app.dir, "app.py"), 0o664);
            expect(summary(await up())).toEqual(NOTHING);
        } finally {
            if (!had) fs.rmSync(pycache, { recursive: true, force: true });
            fs.chmodSync(path.join(app.dir, "app.py"), 0o644);
        }
    });

    test("a one-line app change: only the app image, the app container and the steps tied to a new image", async () => {
        const before = { nginx: (await container("nginx").inspect()).Id, app: (await container("app").inspect()).Id };
        fs.appendFileSync(path.join(app.dir, "static/css/app.css"), `\n.lc-${randomBytes(3).toString("hex")} {}\n`);
        const report = await up();

        expect(names(report.updates)).toEqual(["image-app"]);
        expect(names(report.replaces)).toEqual([
            "app",
            "backup",
            "backups",
            "build-leftovers",
            "candidate",
            "image-prune",
            "migrate",
            "pids-limit",
            "smoke",
        ]);
        expect(report.creates).toEqual([]);
        // Finding 1: no replaced step runs a delete (the old janitor's delete was the destroy script).
        expect(report.commandsRun.filter((c) => c.endsWith(" delete"))).toEqual([]);
        expect((await container("nginx").inspect()).Id).toBe(before.nginx);
        expect((await container("app").inspect()).Id).not.toBe(before.app);
        // The new app and backup containers got their pids limit from the step the new ids re-ran.
        expect(report.commandsRun).toContain(`lernmanager-${stack}-pids-limit create`);
        for (const c of ["app", "backups"]) expect((await container(c).inspect()).HostConfig.PidsLimit).toBe(512);

        // Every image a container uses still exists, the runtime image the next app build starts FROM too.
        for (const c of ["app", "nginx"]) await docker.getImage((await container(c).inspect()).Image).inspect();
        await docker.getImage(engine.state.get(`lernmanager-${stack}-image-runtime`)!.inputs.imageName).inspect();
        // Finding 4: no container left by the builds.
        expect(await buildLeftovers(builtImages())).toEqual([]);

        expect(summary(await up())).toEqual(NOTHING);
    });

    test("an nginx-only change: the nginx image, its container and the steps tied to it", async () => {
        const appBefore = (await container("app").inspect()).Id;
        config = { ...config, "lernmanager:loginRatePerMinute": "20" };
        const report = await up();
        expect(names(report.updates)).toEqual(["nginx-image"]);
        expect(names(report.replaces)).toEqual(["build-leftovers", "nginx", "pids-limit", "smoke"]);
        expect((await container("app").inspect()).Id).toBe(appBefore);
        expect((await container("nginx").inspect()).HostConfig.PidsLimit).toBe(512);
        expect((await request(Number(config["lernmanager:port"]), "/healthz")).status).toBe(200);
        expect(summary(await up())).toEqual(NOTHING);
    });

    test("an app and an nginx change in one up: the image prune starts only after every build ended (item 6)", async () => {
        fs.appendFileSync(path.join(app.dir, "static/css/app.css"), `\n.lc-${randomBytes(3).toString("hex")} {}\n`);
        config = { ...config, "lernmanager:loginRatePerMinute": "30" };
        const report = await up();
        expect(names(report.updates)).toEqual(["image-app", "nginx-image"]);
        const at = (suffix: string) => engine.timeline.find((t) => t.name === `lernmanager-${stack}-${suffix}`)!;
        const lastBuild = Math.max(...["image-app", "nginx-image"].map((n) => at(n).end));
        // The builds ran side by side (independent steps in parallel), the prune after both.
        expect(at("nginx-image").start).toBeLessThan(at("image-app").end);
        expect(at("image-prune").start).toBeGreaterThanOrEqual(lastBuild);
        // A new nginx (replaced, delete first) and the old app container removed at the end of the
        // update: the stack serves again once nginx's resolver drops the old address (valid=2s).
        await eventually(
            10,
            async () => (await request(Number(config["lernmanager:port"]), "/healthz")).status === 200,
            "/healthz 200 after the update",
        );
    });

    test("raising appMemoryMb beyond twice its first value is an update in place (finding 6)", async () => {
        const id = (await container("app").inspect()).Id;
        config = { ...config, "lernmanager:appMemoryMb": "2560" };
        const report = await up();
        // The backup container has the app's memory limit (its drill starts the app).
        expect(report.updates).toEqual([
            { name: `lernmanager-${stack}-app`, fields: ["memory", "memorySwap"] },
            { name: `lernmanager-${stack}-backups`, fields: ["memory", "memorySwap"] },
            // The candidate runs the new version with the app's limits (its script names them): again.
            { name: `lernmanager-${stack}-candidate`, fields: ["create"] },
        ]);
        expect(report.replaces).toEqual([]);
        const info = await container("app").inspect();
        expect(info.Id).toBe(id);
        expect(info.HostConfig.Memory).toBe(2560 * 1024 * 1024);
        expect(summary(await up())).toEqual(NOTHING);
    });

    test("destroy of a dev stack leaves nothing: containers, network, volumes and images", async () => {
        const report = await engine.destroy();
        expect(report.failed).toEqual([]);
        expect(report.kept).toEqual([]);
        expect(await leftovers(stack)).toEqual({ containers: [], networks: [], volumes: [], images: [] });
    });
});

describe("a prod-like stack (protectData on): destroy removes nothing", () => {
    const stack = "e2e-lc-prod";
    const engine = new LifecycleEngine({ log: log(stack) });
    const key = randomBytes(32).toString("hex");
    let config: Record<string, string>;
    const up = async () =>
        engine.up((await runProgram(testConfig(config), { stack, secretKey: key, imageId: mockDigest })).registrations);

    beforeAll(async () => {
        config = { "lernmanager:port": String(await freePort()), "lernmanager:protectData": "true" };
    });
    afterAll(() => forceRemove(stack));

    test("tls on, off, on, off with protectData: every up succeeds, the TLS volume and its CA survive (item 1)", async () => {
        const tls = {
            "lernmanager:tls": "internal",
            "lernmanager:domain": "lernen.schule.test",
            "lernmanager:httpsPort": String(await freePort()),
            "lernmanager:tlsImage": TEST_IMAGES.tls,
        };
        const port = Number(config["lernmanager:port"]);
        config = { ...config, ...tls };
        await up();
        const ca = (await request(port, "/schul-ca.crt")).text();
        expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
        const volume = `lernmanager-${stack}-tls`;

        config = Object.fromEntries(Object.entries(config).filter(([k]) => !(k in tls)));
        const off = await up();
        expect(names(off.deletes)).toEqual(expect.arrayContaining(["storage-tls", "tls"]));
        await docker.getVolume(volume).inspect(); // retained on the host
        expect(summary(await up())).toEqual(NOTHING);

        config = { ...config, ...tls };
        await up();
        expect((await request(port, "/schul-ca.crt")).text()).toBe(ca);

        // And off once more: the tests below talk plain HTTP.
        config = Object.fromEntries(Object.entries(config).filter(([k]) => !(k in tls)));
        await up();
        await docker.getVolume(volume).inspect();
    });

    test("destroy fails on the guard with a clear message and leaves the service and its data", async () => {
        await up();
        const before = await leftovers(stack);
        const report = await engine.destroy();

        expect(report.deleted).toEqual([]);
        expect(report.failed).toEqual([{ name: `lernmanager-${stack}-destroy-guard`, error: expect.any(String) }]);
        expect(report.failed[0].error).toContain(destroyRefusal(stack));
        expect(report.kept.length).toBe(engine.state.size);
        expect(await leftovers(stack)).toEqual(before);
        expect((await request(Number(config["lernmanager:port"]), "/healthz")).status).toBe(200);
    });

    test("with protectData turned off and an up, destroy removes everything", async () => {
        config = { ...config, "lernmanager:protectData": "false" };
        const report = await up();
        expect(names(report.updates)).toEqual(["destroy-guard"]);
        expect(report.replaces).toEqual([]);
        const destroyed = await engine.destroy();
        expect(destroyed.failed).toEqual([]);
        // The TLS volume left the state when tls went off (retained, not deleted): a destroy does not
        // know it any more; it stays until removed by hand (docs/architecture.md).
        expect(await leftovers(stack)).toEqual({
            containers: [],
            networks: [],
            volumes: [`lernmanager-${stack}-tls`],
            images: [],
        });
    });
});
