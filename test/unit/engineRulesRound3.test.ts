/**
 * The stand-in engine's rules of "a real `pulumi up`, round three" (test/support/engineRules.ts,
 * each with its source link), and the program fixes they call for. Each `rule:` test fails when the
 * stand-in drops the rule; each `program:` test fails on the program before its fix.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Docker from "dockerode";
import { CONTAINERS_DIR } from "../../core/paths";
import { contextDigest } from "../support/contextDigest";
import { DELETE_PROTECTED_MESSAGE, INIT_ERROR_KEY } from "../support/engineRules";
import {
    checkInputs,
    diffResource,
    LifecycleEngine,
    predictedReadBack,
    readBack,
    stepDependencies,
    UpFailed,
} from "../support/lifecycle";
import { Registration, runProgram, testConfig } from "../support/mocks";
import { copyOfDemoApp } from "../support/stack";

const COMMAND = "command:local:Command";
const IMAGE = "docker:index/image:Image";
const CONTAINER = "docker:index/container:Container";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "lm-r3-"));
const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : []);

/** A local Command that logs its create and delete to `log`. */
function command(
    name: string,
    log: string,
    extra: { deleteScript?: string; create?: string; env?: Record<string, string>; after?: string[] } = {},
    opts: Partial<Registration["opts"]> = {},
    inputs: Record<string, unknown> = {},
): Registration {
    return {
        type: COMMAND,
        name,
        urn: `urn:pulumi:test::lernmanager::${COMMAND}::${name}`,
        inputs: {
            create: extra.create ?? `echo "create ${name}" >> ${log}`,
            delete: extra.deleteScript ?? `echo "delete ${name}" >> ${log}`,
            interpreter: ["/bin/bash", "-c"],
            environment: extra.env ?? {},
            ...inputs,
        },
        secretInputs: [],
        custom: true,
        opts: { dependsOn: extra.after ?? [], ...opts },
        rawProps: {},
        order: 0,
    };
}

describe("removing a protected resource (step.go DeleteStep.Apply: protect before retainOnDelete)", () => {
    test("rule: dropping a protected + retained resource fails the up before any step, and every later up", async () => {
        const dir = tmp();
        const log = path.join(dir, "log");
        const engine = new LifecycleEngine();
        const kept = command("kept", log, {}, { protect: true, retainOnDelete: true });
        await engine.up([kept, command("other", log)]);
        for (let i = 0; i < 2; i++) {
            const failed = await engine.up([command("other", log, { env: { V: String(i) } })]).catch((e) => e);
            expect(failed).toBeInstanceOf(UpFailed);
            expect((failed as UpFailed).message).toBe(DELETE_PROTECTED_MESSAGE(kept.urn));
            // The preview refused: nothing ran, not even the update of `other`.
            expect((failed as UpFailed).report.commandsRun).toEqual([]);
        }
        expect(engine.state.has("kept")).toBe(true);
        // Sorted: the two are independent and created in parallel, as the real engine does.
        expect(lines(log).sort()).toEqual(["create kept", "create other"]);
    });

    test("rule: retainOnDelete alone drops the resource from the state without its delete", async () => {
        const dir = tmp();
        const log = path.join(dir, "log");
        const engine = new LifecycleEngine();
        await engine.up([command("kept", log, {}, { retainOnDelete: true }), command("other", log)]);
        const report = await engine.up([command("other", log)]);
        expect(report.deletes).toEqual(["kept"]);
        expect(engine.state.has("kept")).toBe(false);
        // Sorted: the two are independent and created in parallel; no delete ran.
        expect(lines(log).sort()).toEqual(["create kept", "create other"]);
    });

    test("program: with protectData, the volumes that come and go with config are retained, never protected", async () => {
        const run = await runProgram(
            testConfig({
                "lernmanager:protectData": "true",
                "lernmanager:tls": "internal",
                "lernmanager:domain": "lernen.schule.test",
                "lernmanager:httpsPort": "9443",
                "lernmanager:persistentPaths": '["instance/reports"]',
            }),
            { stack: "r3-prot" },
        );
        const opts = (n: string) => run.named(`lernmanager-r3-prot-storage-${n}`).opts;
        for (const n of ["tls", "keep-instance-reports"]) {
            expect({ n, protect: !!opts(n).protect, retain: opts(n).retainOnDelete }).toEqual({
                n,
                protect: false,
                retain: true,
            });
        }
        for (const n of ["data", "uploads", "backups"])
            expect({ n, protect: opts(n).protect }).toEqual({ n, protect: true });
    });
});

describe("the provider's context digest (pulumi-docker hashContext)", () => {
    const context = () => {
        const dir = tmp();
        fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM scratch\n");
        fs.writeFileSync(path.join(dir, "app.py"), "print(1)\n", { mode: 0o644 });
        fs.chmodSync(path.join(dir, "app.py"), 0o644);
        return dir;
    };

    test("rule: a __pycache__ folder and a mode change are changes; an ignore file can exclude the first", () => {
        const dir = context();
        const dockerfile = path.join(dir, "Dockerfile");
        const clean = contextDigest(dir, dockerfile);
        fs.mkdirSync(path.join(dir, "__pycache__"));
        fs.writeFileSync(path.join(dir, "__pycache__", "app.cpython-311.pyc"), "bytecode");
        expect(contextDigest(dir, dockerfile)).not.toBe(clean);
        fs.writeFileSync(path.join(dir, ".dockerignore"), "**/__pycache__\n");
        const ignored = contextDigest(dir, dockerfile);
        fs.rmSync(path.join(dir, "__pycache__"), { recursive: true });
        expect(contextDigest(dir, dockerfile)).toBe(ignored);
        fs.chmodSync(path.join(dir, "app.py"), 0o664); // another umask
        expect(contextDigest(dir, dockerfile)).not.toBe(ignored);
    });

    test("rule: a dockerfile not named Dockerfile reads <context>/<name>.dockerignore, not .dockerignore", () => {
        const dir = context();
        const outside = path.join(tmp(), "app.Dockerfile");
        fs.writeFileSync(outside, "FROM scratch\n");
        const before = contextDigest(dir, outside);
        fs.writeFileSync(path.join(dir, ".dockerignore"), "data\n");
        fs.mkdirSync(path.join(dir, "data"));
        fs.writeFileSync(path.join(dir, "data", "lernmanager.db"), "rows");
        expect(contextDigest(dir, outside)).not.toBe(before);
        fs.writeFileSync(path.join(dir, "app.Dockerfile.dockerignore"), "data\n*.dockerignore\n");
        expect(contextDigest(dir, outside)).toBe(before);
    });

    test("rule: the stand-in diffs images by that digest (checkInputs)", () => {
        const dir = context();
        const reg = {
            type: IMAGE,
            name: "img",
            inputs: { imageName: "x:1", build: { context: dir, dockerfile: path.join(dir, "Dockerfile") } },
            opts: { dependsOn: [] },
        } as unknown as Registration;
        const before = checkInputs(reg, reg.inputs);
        fs.mkdirSync(path.join(dir, "__pycache__"));
        fs.writeFileSync(path.join(dir, "__pycache__", "app.cpython-311.pyc"), "bytecode");
        expect(diffResource(reg, before, checkInputs(reg, reg.inputs))).toEqual({ kind: "update", fields: ["build"] });
    });

    test("program: a test run's __pycache__ and another umask change no image's digest", async () => {
        const app = copyOfDemoApp();
        const pycache = path.join(CONTAINERS_DIR, "runtime", "app", "__pycache__");
        const planted = path.join(pycache, "lm_r3_probe.cpython-311.pyc");
        try {
            const digests = async () => {
                const run = await runProgram(testConfig({ "lernmanager:appSource": app.dir }), { stack: "r3-hash" });
                return Object.fromEntries(
                    run.ofType(IMAGE).map((i) => [i.name, checkInputs(i, i.inputs).build.contextDigest]),
                );
            };
            const before = await digests();
            fs.mkdirSync(pycache, { recursive: true });
            fs.writeFileSync(planted, "bytecode");
            fs.mkdirSync(path.join(app.dir, "__pycache__"), { recursive: true });
            fs.writeFileSync(path.join(app.dir, "__pycache__", "app.cpython-311.pyc"), "bytecode");
            fs.mkdirSync(path.join(app.dir, "data"), { recursive: true });
            fs.writeFileSync(path.join(app.dir, "data", "lernmanager.db"), "rows of a dev run");
            fs.chmodSync(path.join(app.dir, "app.py"), 0o664);
            expect(await digests()).toEqual(before);
        } finally {
            fs.rmSync(planted, { force: true });
            app.remove();
        }
    });
});

describe("memory_swap as a host without swap-limit support reads it back", () => {
    const inspect = (memorySwap: number) =>
        ({
            Config: {},
            HostConfig: { Memory: 1024 * 1024 * 1024, MemorySwap: memorySwap, RestartPolicy: { Name: "no" } },
        }) as unknown as Docker.ContainerInspectInfo;

    test("rule: -1 is read back as -1 (and a positive value in MiB)", () => {
        expect(readBack(inspect(-1)).memorySwap).toBe(-1);
        expect(readBack(inspect(2048 * 1024 * 1024)).memorySwap).toBe(2048);
    });

    test("program: hostSwapLimit false declares -1, so no container shows a change there; true declares the memory", async () => {
        for (const [flag, expected] of [
            ["false", "same"],
            ["true", "update"],
        ] as const) {
            const run = await runProgram(testConfig({ "lernmanager:hostSwapLimit": flag }), { stack: "r3-swap" });
            for (const c of run.ofType(CONTAINER)) {
                const state = { ...predictedReadBack(c.inputs), memorySwap: readBack(inspect(-1)).memorySwap };
                expect({ c: c.name, kind: diffResource(c, state, c.inputs).kind }).toEqual({
                    c: c.name,
                    kind: expected,
                });
            }
        }
    });
});

describe("init errors (CreateStep.Apply; step_generator.go: an empty update for an unchanged resource)", () => {
    test("rule: an unchanged resource with init errors gets an update on the next up, then nothing", async () => {
        const log = path.join(tmp(), "log");
        const engine = new LifecycleEngine();
        await engine.up([command("step", log)]);
        engine.state.get("step")!.initErrors = ["not healthy within 60 s"];
        const report = await engine.up([command("step", log)]);
        expect(report.updates).toEqual([{ name: "step", fields: [INIT_ERROR_KEY] }]);
        expect(engine.state.get("step")!.initErrors).toBeUndefined();
        expect((await engine.up([command("step", log)])).updates).toEqual([]);
    });
});

describe("pending deletes (CreateStep.Apply marks the replaced resource; retirePendingDeletes runs them first)", () => {
    test("rule: a replacement in a failed up leaves the old resource pending; the next up deletes it before any step", async () => {
        const log = path.join(tmp(), "log");
        const engine = new LifecycleEngine();
        const step = (v: string) =>
            command(
                "step",
                log,
                { create: `echo "create $V" >> ${log}`, deleteScript: `echo "delete $V" >> ${log}`, env: { V: v } },
                {},
                { triggers: [v] },
            );
        const other = (ok: boolean) =>
            command("other", log, { create: ok ? `echo "create other" >> ${log}` : "exit 1", after: ["step"] });
        await engine.up([step("v1")]);
        await expect(engine.up([step("v2"), other(false)])).rejects.toThrow(UpFailed);
        expect(engine.pendingDeletes.map((s) => s.inputs.environment.V)).toEqual(["v1"]);
        expect(lines(log)).toEqual(["create v1", "create v2"]);
        await engine.up([step("v2"), other(true)]);
        expect(lines(log)).toEqual(["create v1", "create v2", "delete v1", "create other"]);
        expect(engine.pendingDeletes).toEqual([]);
    });
});

describe("destroy (step_executor.go cancelDueToError; deletes in antichains)", () => {
    // x and y first (nothing depends on them), then z (x's) and w (y's).
    const stack = (log: string, failing: string) => [
        command("z", log),
        command("w", log),
        command("x", log, { deleteScript: failing, after: ["z"] }),
        command("y", log, { after: ["w"] }),
    ];

    test("rule: a failed delete lets its antichain finish and cancels the rest", async () => {
        const log = path.join(tmp(), "log");
        const engine = new LifecycleEngine();
        await engine.up(stack(log, "exit 1"));
        const report = await engine.destroy();
        expect(report.failed.map((f) => f.name)).toEqual(["x"]);
        expect(report.deleted).toEqual(["y"]);
        expect(report.kept.sort()).toEqual(["w", "x", "z"]);
    });

    test("rule: --continue-on-error goes on without the failed resource's dependencies", async () => {
        const log = path.join(tmp(), "log");
        const engine = new LifecycleEngine();
        await engine.up(stack(log, "exit 1"));
        const report = await engine.destroy({ continueOnError: true });
        expect(report.deleted.sort()).toEqual(["w", "y"]);
        expect(report.kept.sort()).toEqual(["x", "z"]);
    });

    test("rule: a protected resource fails with the engine's message even with retainOnDelete, and cancels the rest", async () => {
        const log = path.join(tmp(), "log");
        const engine = new LifecycleEngine();
        const regs = stack(log, `echo "delete x" >> ${log}`);
        regs[2] = { ...regs[2], opts: { ...regs[2].opts, protect: true, retainOnDelete: true } };
        await engine.up(regs);
        const report = await engine.destroy();
        expect(report.failed).toEqual([{ name: "x", error: DELETE_PROTECTED_MESSAGE(regs[2].urn) }]);
        expect(report.deleted).toEqual(["y"]);
        expect(lines(log).filter((l) => l.startsWith("delete"))).toEqual(["delete y"]);
    });
});

describe("independent steps run in parallel", () => {
    test("rule: two independent steps overlap; a dependent one starts after its dependency ended", async () => {
        const log = path.join(tmp(), "log");
        const engine = new LifecycleEngine();
        const slow = (name: string, after: string[] = []) => command(name, log, { create: "sleep 1", after });
        const started = Date.now();
        await engine.up([slow("a"), slow("b"), slow("c", ["a"])]);
        const at = Object.fromEntries(engine.timeline.map((t) => [t.name, t]));
        expect(at.b.start).toBeLessThan(at.a.end);
        expect(at.c.start).toBeGreaterThanOrEqual(at.a.end);
        expect(Date.now() - started).toBeLessThan(2900);
    });

    test("program: the image prune waits for every image build of the deploy (app, runtime, nginx, TLS agent)", async () => {
        const run = await runProgram(
            testConfig({
                "lernmanager:tls": "internal",
                "lernmanager:domain": "lernen.schule.test",
                "lernmanager:httpsPort": "9443",
            }),
            { stack: "r3-prune" },
        );
        const deps = stepDependencies(run.registrations)(run.named("lernmanager-r3-prune-image-prune"));
        const images = run.ofType(IMAGE).map((i) => i.name);
        expect(images.length).toBe(4);
        for (const image of images) expect({ image, waited: deps.has(image) }).toEqual({ image, waited: true });
    });
});

describe("the previous output in the environment (pulumi-command addPreviousOutputInEnv)", () => {
    const big = "head -c 140000 /dev/zero | tr '\\0' a";

    test("rule: by default an update after an output over 128 KiB fails with E2BIG; turned off it runs", async () => {
        const log = path.join(tmp(), "log");
        for (const [flag, fails] of [
            [undefined, true],
            [false, false],
        ] as const) {
            const engine = new LifecycleEngine();
            const step = (v: string) =>
                command("migrate", log, { create: big, env: { V: v } }, {}, { addPreviousOutputInEnv: flag });
            await engine.up([step("1")]);
            const second = await engine.up([step("2")]).then(
                () => "ok",
                (e: Error) => e.message,
            );
            if (fails) expect(second).toMatch(/E2BIG/);
            else expect(second).toBe("ok");
        }
    });

    test("program: no command keeps the default", async () => {
        const run = await runProgram(testConfig({ "lernmanager:protectData": "true" }), { stack: "r3-env" });
        const commands = run.ofType(COMMAND);
        expect(commands.length).toBeGreaterThan(4);
        for (const c of commands)
            expect({ c: c.name, flag: c.inputs.addPreviousOutputInEnv }).toEqual({ c: c.name, flag: false });
    });
});

describe("a new app version is proven healthy before the app container is replaced (item 4)", () => {
    /** Runs the candidate step's script with a fake docker whose `inspect` answers `states` in turn. */
    async function candidate(states: string[]) {
        const run = await runProgram(testConfig(), { stack: "r3-gate" });
        const step = run.named("lernmanager-r3-gate-candidate");
        const dir = tmp();
        const calls = path.join(dir, "calls");
        fs.writeFileSync(path.join(dir, "states"), `${states.join("\n")}\n`);
        fs.writeFileSync(
            path.join(dir, "docker"),
            [
                "#!/bin/bash",
                `echo "$*" >> '${calls}'`,
                'case "$1" in',
                "  run) echo cid123 ;;",
                "  inspect)",
                '    case "$*" in *ExitCode*) echo 3 ;; *Health.Log*) echo "/healthz answered 503" ;;',
                `      *) s=$(head -n1 '${dir}/states'); [ "$(wc -l < '${dir}/states')" -gt 1 ] && sed -i 1d '${dir}/states'; echo "$s" ;; esac ;;`,
                '  logs) echo "Traceback: broken release" ;;',
                "esac",
            ].join("\n"),
            { mode: 0o755 },
        );
        const result = spawnSync("/bin/bash", ["-c", step.inputs.create], {
            env: { ...process.env, ...step.inputs.environment, PATH: `${dir}:${process.env.PATH}`, LM_VERSION: "v2" },
            encoding: "utf8",
        });
        return { step, run, status: result.status, stderr: result.stderr, calls: lines(calls) };
    }

    test("program: the candidate runs without the app alias, after the migration, and the app container waits for it", async () => {
        const { step, run, calls } = await candidate(["running starting", "running healthy"]);
        const docker = calls.find((c) => c.startsWith("run "))!;
        expect(docker).toContain("--network lernmanager-r3-gate");
        expect(docker).not.toMatch(/--network-alias|--alias/);
        expect(docker).toContain("--health-cmd python3 /opt/lernmanager/healthcheck.py");
        expect(step.opts.dependsOn).toContain("lernmanager-r3-gate-migrate");
        expect(run.named("lernmanager-r3-gate-app").opts.dependsOn).toContain("lernmanager-r3-gate-candidate");
        expect(step.inputs.triggers).toEqual([run.named("lernmanager-r3-gate-image-app").inputs.imageName]);
    });

    test("program: healthy: the step succeeds and the candidate is removed", async () => {
        const r = await candidate(["running starting", "running healthy"]);
        expect(r.status).toBe(0);
        expect(r.calls.some((c) => c.startsWith("rm -f cid123"))).toBe(true);
    });

    test("program: unhealthy or stopped: the step fails with the reason and the app's last log lines, and removes it", async () => {
        for (const [state, reason] of [
            ["running unhealthy", "its health check failed"],
            ["exited ", "it stopped (exited, exit code 3)"],
        ]) {
            const r = await candidate(["running starting", state]);
            expect(r.status).toBe(1);
            expect(r.stderr).toContain(`did not become healthy: ${reason}`);
            expect(r.stderr).toContain("/healthz answered 503");
            expect(r.stderr).toContain("  Traceback: broken release");
            expect(r.calls.some((c) => c.startsWith("rm -f cid123"))).toBe(true);
        }
    });
});
