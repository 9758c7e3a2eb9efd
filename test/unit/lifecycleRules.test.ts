/**
 * At declaration level: what the second run of the program looks like to the providers
 * (rules and their sources in test/support/engineRules.ts). The real-engine counterpart is
 * test/e2e/lifecycleEngine.test.ts.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { destroyRefusal } from "../../components/destroyGuard";
import { ConfigError } from "../../config/load";
import { DEFAULT_DOCKER_HOST, dockerEndpoint } from "../../config/docker";
import { PROJECT_DIR } from "../../core/paths";
import { IMAGE_CHECK, goDuration, NEITHER, parseGoDuration } from "../support/engineRules";
import { diffResource, LifecycleEngine, predictedReadBack, UpFailed } from "../support/lifecycle";
import { ProgramRun, Registration, runProgram, testConfig } from "../support/mocks";

const CONTAINER = "docker:index/container:Container";
const IMAGE = "docker:index/image:Image";
const COMMAND = "command:local:Command";

describe("Go durations, as the Docker provider reads health checks back", () => {
    test.each([
        [60e9, "1m0s"],
        [5e9, "5s"],
        [90e9, "1m30s"],
        [1.5e9, "1.5s"],
        [500e6, "500ms"],
        [3600e9, "1h0m0s"],
        [0, "0s"],
    ])("%d ns is %s", (ns, text) => {
        expect(goDuration(ns)).toBe(text);
        expect(parseGoDuration(text)).toBe(ns);
    });
    test("60s parses but reads back as 1m0s", () => expect(goDuration(parseGoDuration("60s"))).toBe("1m0s"));
});

describe("a second run of the program against the state of the first", () => {
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runProgram(testConfig({ "lernmanager:appMemoryMb": "1024" }), { stack: "again" });
    });

    test("no container shows a change: durations as read back, memory swap declared (findings 2, 6)", () => {
        for (const c of run.ofType(CONTAINER)) {
            expect({ name: c.name, ...diffResource(c, predictedReadBack(c.inputs), c.inputs) }).toEqual({
                name: c.name,
                kind: "same",
                fields: [],
            });
        }
    });

    test("fields the provider neither replaces nor updates replace the container when they change (finding 7)", () => {
        for (const c of run.ofType(CONTAINER)) {
            for (const field of NEITHER) expect(c.opts.replaceOnChanges).toContain(field);
            const state = predictedReadBack(c.inputs);
            const tmpfs = { ...c.inputs, tmpfs: { "/tmp": "rw,size=1m" } };
            expect(diffResource(c, state, tmpfs).kind).toBe("replace");
            expect(diffResource(c, state, { ...c.inputs, init: false }).kind).toBe("replace");
            // Memory is the provider's to update in place.
            const more = { ...c.inputs, memory: c.inputs.memory * 3, memorySwap: c.inputs.memory * 3 };
            expect(diffResource(c, state, more)).toEqual({ kind: "update", fields: ["memory", "memorySwap"] });
        }
    });

    test("the images are declared the same on any machine: paths relative to the project, platform given (finding 5)", () => {
        const elsewhere = (v: unknown): any =>
            typeof v === "string"
                ? v.split(PROJECT_DIR).join("/home/teacher/src/lernmanager-stack")
                : Array.isArray(v)
                  ? v.map(elsewhere)
                  : v && typeof v === "object"
                    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, elsewhere(x)]))
                    : v;
        const checked = (inputs: Record<string, any>, arch: string) => ({
            ...inputs,
            build: { ...inputs.build, platform: inputs.build.platform ?? IMAGE_CHECK.defaultPlatform(arch) },
        });
        for (const image of run.ofType(IMAGE)) {
            const laptop = checked(elsewhere(image.inputs), "arm64");
            const ci = checked(image.inputs, "x64");
            expect(diffResource(image, ci, laptop)).toEqual({ kind: "same", fields: [] });
            expect(image.inputs.build.platform).toBe("linux/amd64");
        }
    });

    test("a command that is replaced has no delete; one with a delete is never replaced (finding 1)", () => {
        for (const c of run.ofType(COMMAND)) {
            if (c.inputs.delete)
                expect({ name: c.name, triggers: c.inputs.triggers ?? [] }).toEqual({ name: c.name, triggers: [] });
        }
        const cleanup = run.named("lernmanager-again-image-cleanup");
        expect(cleanup.inputs.delete).toContain("docker rmi");
        for (const c of run.ofType(CONTAINER)) {
            const dependsOnCleanup = (r: Registration): boolean =>
                r.opts.dependsOn.includes(cleanup.name) ||
                r.opts.dependsOn.some((d) => {
                    const dep = run.registrations.find((x) => x.custom && x.name === d);
                    return dep ? dependsOnCleanup(dep) : false;
                });
            expect({ container: c.name, after: dependsOnCleanup(c) }).toEqual({ container: c.name, after: true });
        }
    });
});

describe("the destroy guard (finding 3)", () => {
    const runDelete = (guard: Registration) =>
        spawnSync("/bin/bash", ["-c", guard.inputs.delete], {
            env: { ...process.env, ...guard.inputs.environment },
            encoding: "utf8",
        });

    test("with protectData on, its delete fails and says what to do; it depends on the whole stack", async () => {
        const run = await runProgram(testConfig({ "lernmanager:protectData": "true" }), { stack: "guarded" });
        const guard = run.named("lernmanager-guarded-destroy-guard");
        expect(guard.opts.dependsOn).toEqual(["lernmanager-guarded"]);
        expect(guard.inputs.triggers ?? []).toEqual([]);
        const result = runDelete(guard);
        expect(result.status).toBe(1);
        expect(result.stderr.trim()).toBe(destroyRefusal("guarded"));
        expect(result.stderr).toContain("nothing was removed");
    });

    test("with protectData off, its delete succeeds", async () => {
        const run = await runProgram(testConfig(), { stack: "open" });
        expect(runDelete(run.named("lernmanager-open-destroy-guard")).status).toBe(0);
    });
});

describe("one Docker endpoint for the provider and the deploy steps (finding 8)", () => {
    test("unset: the provider's default, or $DOCKER_HOST, written out for both", () => {
        expect(dockerEndpoint({}, {}).env).toEqual({ DOCKER_HOST: DEFAULT_DOCKER_HOST });
        const fromEnv = dockerEndpoint({}, { DOCKER_HOST: "tcp://10.0.0.5:2375" });
        expect(fromEnv.host).toBe("tcp://10.0.0.5:2375");
        expect(fromEnv.env.DOCKER_HOST).toBe("tcp://10.0.0.5:2375");
    });

    test("docker:host wins over $DOCKER_HOST; a TLS folder goes to both sides", () => {
        const e = dockerEndpoint(
            { "docker:host": "tcp://school:2376", "docker:certPath": "/etc/lm/tls" },
            { DOCKER_HOST: "unix:///other.sock" },
        );
        expect(e).toEqual({
            host: "tcp://school:2376",
            certPath: "/etc/lm/tls",
            env: { DOCKER_HOST: "tcp://school:2376", DOCKER_CERT_PATH: "/etc/lm/tls", DOCKER_TLS_VERIFY: "1" },
        });
    });

    test("provider settings the docker CLI cannot follow are a config error naming the fix", () => {
        expect(() => dockerEndpoint({ "docker:sshOpts": '["-p","2222"]' }, {})).toThrow(ConfigError);
        expect(() => dockerEndpoint({ "docker:sshOpts": '["-p","2222"]' }, {})).toThrow(/~\/\.ssh\/config/);
        expect(() => dockerEndpoint({ "docker:caMaterial": "-----BEGIN" }, {})).toThrow(/docker:certPath/);
    });

    test("the program hands the provider and every deploy step the same endpoint, also when docker:host is unset", async () => {
        for (const [stack, config] of [
            ["ep-remote", { "docker:host": "ssh://admin@schulserver" }],
            ["ep-local", {}],
        ] as const) {
            const run = await runProgram(testConfig(config), { stack });
            const host = run.named(`lernmanager-${stack}-docker`).inputs.host;
            expect(host).toBe(
                "docker:host" in config ? config["docker:host"] : process.env.DOCKER_HOST || DEFAULT_DOCKER_HOST,
            );
            for (const s of run.ofType(COMMAND).filter((c) => !c.name.endsWith("destroy-guard")))
                expect({ step: s.name, DOCKER_HOST: s.inputs.environment.DOCKER_HOST }).toEqual({
                    step: s.name,
                    DOCKER_HOST: host,
                });
        }
    });
});

describe("the stand-in engine's replace of a command (pulumi-command + the engine's pending deletes)", () => {
    const command = (triggers: string[], del: string, log: string): Registration => ({
        type: COMMAND,
        name: "step",
        urn: `urn:pulumi:test::lernmanager::${COMMAND}::step`,
        inputs: {
            create: `echo "create $V" >> ${log}`,
            delete: del,
            interpreter: ["/bin/bash", "-c"],
            environment: { V: triggers[0] },
            triggers,
        },
        secretInputs: [],
        custom: true,
        opts: { dependsOn: [] },
        rawProps: {},
        order: 0,
    });
    const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "lm-lc-"));

    test("creates the new one first and runs the old one's delete at the end, with the old environment", async () => {
        const log = path.join(tmp(), "log");
        const engine = new LifecycleEngine();
        await engine.up([command(["v1"], `echo "delete $V" >> ${log}`, log)]);
        const report = await engine.up([command(["v2"], `echo "delete $V" >> ${log}`, log)]);
        expect(report.replaces).toEqual([{ name: "step", fields: ["environment", "triggers"] }]);
        expect(report.commandsRun).toEqual(["step create", "step delete"]);
        expect(fs.readFileSync(log, "utf8").trim().split("\n")).toEqual(["create v1", "create v2", "delete v1"]);
    });

    test("a failing delete fails that up and stays pending: every later up tries it again and fails", async () => {
        const log = path.join(tmp(), "log");
        const engine = new LifecycleEngine();
        await engine.up([command(["v1"], "exit 1", log)]);
        await expect(engine.up([command(["v2"], "exit 1", log)])).rejects.toThrow(UpFailed);
        expect(engine.pendingDeletes.map((s) => s.name)).toEqual(["step"]);
        const again = await engine.up([command(["v2"], "exit 1", log)]).catch((e: UpFailed) => e);
        expect(again).toBeInstanceOf(UpFailed);
        expect((again as UpFailed).report.commandsRun).toEqual(["step delete"]);
    });
});
