/**
 * Each rule of the stand-in engine (test/support/engineRules.ts, with its provider or engine source)
 * on its own, on a bare resource: the program's own safeguards (replaceOnChanges, a declared swap
 * limit, durations already in Go's form) would hide a rule that went missing, so these tests declare
 * none of them. Each fails when its rule is removed from the stand-in.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { IMAGE_CHECK, readBackHealthcheck } from "../support/engineRules";
import { diffResource, LifecycleEngine, predictedReadBack, readBack } from "../support/lifecycle";
import { Registration } from "../support/mocks";

const CONTAINER = "docker:index/container:Container";
const COMMAND = "command:local:Command";

function resource(
    type: string,
    name: string,
    inputs: Record<string, unknown>,
    opts: Partial<Registration["opts"]> = {},
) {
    return {
        type,
        name,
        urn: `urn:pulumi:test::lernmanager::${type}::${name}`,
        inputs,
        secretInputs: [],
        custom: true,
        opts: { dependsOn: [], ...opts },
        rawProps: {},
        order: 0,
    } as Registration;
}

/** A container as a program without replaceOnChanges would declare it. */
const inputs = {
    name: "c",
    image: "sha256:aaa",
    init: true,
    memory: 256,
    memorySwap: 256,
    tmpfs: { "/tmp": "rw,size=16m" },
    healthcheck: { tests: ["CMD", "true"], interval: "5s", timeout: "4s", startPeriod: "1m0s", retries: 3 },
};
const bare = resource(CONTAINER, "c", inputs);
const state = predictedReadBack(inputs);

describe("the Docker provider's container fields (KC schema, KF Update and Read)", () => {
    test("image is ForceNew: a new image replaces the container", () => {
        expect(diffResource(bare, state, { ...inputs, image: "sha256:bbb" })).toEqual({
            kind: "replace",
            fields: ["image"],
        });
    });

    test.each([
        ["init", false],
        ["tmpfs", { "/tmp": "rw,size=32m" }],
        ["healthcheck", { ...inputs.healthcheck, retries: 5 }],
    ])("%s is neither ForceNew nor updated: a change is an update that changes nothing", (field, value) => {
        expect(diffResource(bare, state, { ...inputs, [field]: value })).toEqual({ kind: "update", fields: [field] });
    });

    test("memory is updated in place", () => {
        expect(diffResource(bare, state, { ...inputs, memory: 512, memorySwap: 512 })).toEqual({
            kind: "update",
            fields: ["memory", "memorySwap"],
        });
    });

    test("health-check durations come back as Go's Duration.String()", () => {
        expect(readBackHealthcheck({ interval: "60s", timeout: "5s", startPeriod: "90s", retries: 3 })).toEqual({
            interval: "1m0s",
            timeout: "5s",
            startPeriod: "1m30s",
            retries: 3,
        });
        // So a container declared with "60s" shows a change on every up.
        const sixty = { ...inputs, healthcheck: { ...inputs.healthcheck, interval: "60s" } };
        expect(diffResource(bare, predictedReadBack(sixty), sixty)).toEqual({
            kind: "update",
            fields: ["healthcheck"],
        });
    });

    test("the read-back of a real container gives the same Go durations, and memory and swap in MiB", () => {
        // What the Engine API's inspect holds (nanoseconds, bytes): the e2e read-back converts it as
        // the provider's Read does, so an e2e diff sees what `pulumi up` would.
        const info = {
            Config: {
                Healthcheck: { Test: ["CMD", "true"], Interval: 60e9, Timeout: 5e9, StartPeriod: 90e9, Retries: 3 },
            },
            HostConfig: { Memory: 256 * 2 ** 20, MemorySwap: 512 * 2 ** 20, RestartPolicy: { Name: "unless-stopped" } },
        } as unknown as Parameters<typeof readBack>[0];
        expect(readBack(info)).toMatchObject({
            healthcheck: { tests: ["CMD", "true"], interval: "1m0s", timeout: "5s", startPeriod: "1m30s", retries: 3 },
            memory: 256,
            memorySwap: 512,
        });
    });

    test("without a declared swap limit Docker sets twice the memory, and the read-back differs from the declaration", () => {
        const noSwap: Record<string, unknown> = { ...inputs };
        delete noSwap.memorySwap;
        expect(predictedReadBack(noSwap).memorySwap).toBe(512);
        expect(diffResource(bare, predictedReadBack(noSwap), noSwap)).toEqual({
            kind: "update",
            fields: ["memorySwap"],
        });
    });
});

test("the native Image's platform defaults to Go's name of the machine's architecture", () => {
    expect(IMAGE_CHECK.defaultPlatform("x64")).toBe("linux/amd64");
    expect(IMAGE_CHECK.defaultPlatform("arm64")).toBe("linux/arm64");
    expect(IMAGE_CHECK.defaultPlatform("ia32")).toBe("linux/386");
});

describe("the engine (step_generator.go)", () => {
    const log = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lm-rules-")), "log");
    const command = (file: string, trigger: string, opts: Partial<Registration["opts"]> = {}) =>
        resource(
            COMMAND,
            "x",
            {
                create: `echo "create ${trigger}" >> ${file}`,
                delete: `echo "delete" >> ${file}`,
                interpreter: ["/bin/bash", "-c"],
                environment: {},
                triggers: [trigger],
            },
            opts,
        );

    test("a command's triggers replace it: the new one is created, the old one deleted", async () => {
        const file = log();
        const engine = new LifecycleEngine();
        await engine.up([command(file, "a")]);
        const report = await engine.up([command(file, "b")]);
        expect(report.replaces.map((c) => c.name)).toEqual(["x"]);
        expect(fs.readFileSync(file, "utf8").trim().split("\n")).toEqual(["create a", "create b", "delete"]);
    });

    test("a resource protected in the program and the state is never replaced; after unprotect it is", async () => {
        const file = log();
        const engine = new LifecycleEngine();
        await engine.up([command(file, "a", { protect: true })]);
        await expect(engine.up([command(file, "b", { protect: true })])).rejects.toThrow(/x is protected/);
        expect(fs.readFileSync(file, "utf8").trim().split("\n")).toEqual(["create a"]);
        engine.unprotect("x");
        await engine.up([command(file, "b", { protect: true })]);
        expect(fs.readFileSync(file, "utf8").trim().split("\n")).toEqual(["create a", "create b", "delete"]);
    });
});
