import * as net from "net";
import { parseAge } from "../../school/age";
import { isPortFreeOnLoopback } from "../../school/ports";
import { runCli, type CliDeps } from "../../school/cli";
import {
    CREATED_AT_TAG,
    createSchool,
    destroySchools,
    FIRST_PORT,
    formatSchoolTable,
    listSchools,
    pickPort,
    schoolExists,
    type SchoolDeps,
} from "../../school/schools";
import { FakeWorkspace } from "../support/fakeWorkspace";

const NOW = new Date("2025-11-20T12:00:00.000Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

function deps(ws: FakeWorkspace, busy: number[] = []) {
    const log: string[] = [];
    const output: string[] = [];
    const checked: number[] = [];
    const d: SchoolDeps = {
        workspace: ws,
        isPortFree: async (port) => {
            checked.push(port);
            return !busy.includes(port);
        },
        now: () => NOW,
        log: (line) => log.push(line),
        output: (chunk) => output.push(chunk),
    };
    return { d, log, output, checked };
}

describe("port picking", () => {
    test("the first port from 8100 up that no school uses and nothing listens on", async () => {
        const checked: number[] = [];
        const free = async (port: number) => {
            checked.push(port);
            return port !== 8101 && port !== 8103;
        };
        expect(await pickPort(new Set([8100, 8102]), free)).toBe(8104);
        expect(checked).toEqual([8101, 8103, 8104]); // used ports are skipped without probing
        expect(await pickPort(new Set(), async () => true)).toBe(FIRST_PORT);
    });

    test("the real port check sees a listener on 127.0.0.1", async () => {
        const server = net.createServer();
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as net.AddressInfo).port;
        try {
            expect(await isPortFreeOnLoopback(port)).toBe(false);
        } finally {
            await new Promise((resolve) => server.close(resolve));
        }
        expect(await isPortFreeOnLoopback(port)).toBe(true);
    });

    test("create skips ports of other schools' config and busy ports", async () => {
        const ws = new FakeWorkspace()
            .addSchool("a", { port: 8100, createdAt: ago(HOUR) })
            .addSchool("b", { port: 8102, createdAt: ago(HOUR) });
        ws.addStack("dev", { "lernmanager:port": "8080" });
        const { d, checked } = deps(ws, [8101, 8103]);
        const r = await createSchool(d, { name: "berlin", demoData: false });
        expect(r.port).toBe(8104);
        expect(checked).toEqual([8101, 8103, 8104]);
        expect(ws.stacks.get("school-berlin")?.config["lernmanager:port"]).toBe("8104");
    });

    test("two schools get different ports", async () => {
        const ws = new FakeWorkspace();
        const { d } = deps(ws); // the fake up does not bind ports: only the config keeps them apart
        const first = await createSchool(d, { name: "berlin", demoData: false });
        const second = await createSchool(d, { name: "hamburg", demoData: true });
        expect(first.port).toBe(8100);
        expect(second.port).toBe(8101);
        expect([...ws.stacks.keys()].sort()).toEqual(["school-berlin", "school-hamburg"]);
        expect(first.url).toBe("http://127.0.0.1:8100/");
        expect(second.url).toBe("http://127.0.0.1:8101/");
    });

    test("--port is used as given, and refused when another school has it or something listens on it", async () => {
        const ws = new FakeWorkspace().addSchool("a", { port: 8100, createdAt: ago(HOUR) });
        const { d } = deps(ws, [9001]);
        expect((await createSchool(d, { name: "berlin", demoData: false, port: 9000 })).port).toBe(9000);
        await expect(createSchool(d, { name: "hamburg", demoData: false, port: 8100 })).rejects.toThrow(
            "port 8100 is already used by school a; pick another --port or leave --port out to get a free one",
        );
        await expect(createSchool(d, { name: "hamburg", demoData: false, port: 9001 })).rejects.toThrow(
            "port 9001 is in use on 127.0.0.1 (something listens there)",
        );
        expect(ws.stacks.has("school-hamburg")).toBe(false);
    });
});

describe("create", () => {
    test("creates the stack, sets every config value, tags it, then runs up with streamed output and prints the URL", async () => {
        const ws = new FakeWorkspace();
        const { d, log, output } = deps(ws);
        const r = await createSchool(d, { name: "berlin", demoData: true });
        expect(r).toEqual({
            name: "berlin",
            stack: "school-berlin",
            port: 8100,
            url: "http://127.0.0.1:8100/",
            created: true,
        });
        expect(ws.mutations).toEqual([
            "createOrSelectStack school-berlin",
            "setConfig school-berlin lernmanager:appSource demo-app",
            "setConfig school-berlin lernmanager:bindAddress 127.0.0.1",
            "setConfig school-berlin lernmanager:protectData false",
            "setConfig school-berlin lernmanager:databaseFile lernmanager.db",
            "setConfig school-berlin lernmanager:adminTable users",
            "setConfig school-berlin lernmanager:port 8100",
            "setConfig school-berlin lernmanager:createdAt 2025-11-20T12:00:00.000Z",
            "setConfig school-berlin lernmanager:appEnv[0] --path DEMO_DATA=1",
            "setConfig school-berlin lernmanager:scratchPaths[0] --path instance/tmp",
            "setConfig school-berlin lernmanager:persistentPaths[0] --path instance/reports",
            `setTag school-berlin ${CREATED_AT_TAG} 2025-11-20T12:00:00.000Z`,
            "up school-berlin",
        ]);
        const lastSet = Math.max(...ws.calls.map((c, i) => (c.startsWith("setConfig") ? i : -1)));
        expect(lastSet).toBeLessThan(ws.calls.indexOf("up school-berlin"));
        expect(output).toEqual(["Updating (school-berlin)\n"]);
        expect(log.at(-1)).toBe("School berlin is up: http://127.0.0.1:8100/");
        expect(ws.stacks.get("school-berlin")?.config["lernmanager:appEnv"]).toBe('["DEMO_DATA=1"]');
    });

    test("running create again keeps the school's port and creation time and replaces appEnv", async () => {
        const created = ago(2 * DAY);
        const ws = new FakeWorkspace().addSchool("berlin", { port: 8105, createdAt: created });
        ws.stacks.get("school-berlin")!.config["lernmanager:appEnv"] = '["DEMO_DATA=1","X=1"]';
        const { d, checked } = deps(ws);
        const r = await createSchool(d, { name: "berlin", demoData: false });
        expect(r.port).toBe(8105);
        expect(r.created).toBe(false);
        expect(checked).toEqual([]); // its own port is busy because it runs; not probed
        const config = ws.stacks.get("school-berlin")!.config;
        expect(config["lernmanager:createdAt"]).toBe(created);
        expect(config["lernmanager:appEnv"]).toBe('["DEMO_DATA=0"]');
        expect(ws.mutations.indexOf("removeConfig school-berlin lernmanager:appEnv")).toBeLessThan(
            ws.mutations.indexOf("setConfig school-berlin lernmanager:appEnv[0] --path DEMO_DATA=0"),
        );
    });

    test("will not unprotect an existing protected stack", async () => {
        const ws = new FakeWorkspace().addSchool("berlin", { port: 8100, createdAt: ago(HOUR), protect: true });
        const { d } = deps(ws);
        await expect(createSchool(d, { name: "berlin", demoData: false })).rejects.toThrow(
            /protectData = true; create will not switch its protection off/,
        );
        expect(ws.mutations).toEqual([]);
    });

    test("a failed up is one line naming the stack and the fix; the stack is kept", async () => {
        const ws = new FakeWorkspace();
        ws.failUp = "docker: Cannot connect to the Docker daemon";
        const { d } = deps(ws);
        await expect(createSchool(d, { name: "berlin", demoData: false })).rejects.toThrow(
            "pulumi up failed for school-berlin: docker: Cannot connect to the Docker daemon (fix it and run create again, " +
                "or remove the school with `npm run school -- destroy berlin`)",
        );
        expect(ws.stacks.has("school-berlin")).toBe(true);
    });
});

describe("destroy", () => {
    test("destroys, then removes the stack", async () => {
        const ws = new FakeWorkspace()
            .addSchool("berlin", { port: 8100, createdAt: ago(HOUR) })
            .addSchool("hamburg", { port: 8101 });
        const { d, log, output } = deps(ws);
        expect(await destroySchools(d, { name: "berlin" })).toEqual({ destroyed: ["berlin"], kept: [] });
        expect(ws.mutations).toEqual(["destroy school-berlin", "removeStack school-berlin"]);
        expect(output).toEqual(["Destroying (school-berlin)\n"]);
        expect(log.at(-1)).toBe("Destroyed school berlin and removed stack school-berlin.");
        expect([...ws.stacks.keys()]).toEqual(["school-hamburg"]);
    });

    test("the stack name is accepted too", async () => {
        const ws = new FakeWorkspace().addSchool("berlin", { port: 8100 });
        const { d } = deps(ws);
        await destroySchools(d, { name: "school-berlin" });
        expect(ws.mutations).toEqual(["destroy school-berlin", "removeStack school-berlin"]);
    });

    test("a failed destroy keeps the stack", async () => {
        const ws = new FakeWorkspace().addSchool("berlin", { port: 8100 });
        ws.failDestroy.add("school-berlin");
        const { d } = deps(ws);
        await expect(destroySchools(d, { name: "berlin" })).rejects.toThrow(
            "pulumi destroy failed for school-berlin: cannot reach the Docker host (the stack is kept; run destroy again)",
        );
        expect(ws.mutations).toEqual(["destroy school-berlin"]);
    });

    test("refuses prod, stacks that are not school-*, and protected stacks, before touching anything", async () => {
        const ws = new FakeWorkspace()
            .addStack("prod", { "lernmanager:protectData": "true" })
            .addStack("dev", { "lernmanager:protectData": "false" })
            .addStack("staging", {})
            .addSchool("keep", { port: 8100, protect: true });
        const { d } = deps(ws);
        await expect(destroySchools(d, { name: "prod" })).rejects.toThrow(
            "refusing to destroy prod: it is the production stack, not a test school",
        );
        await expect(destroySchools(d, { name: "dev" })).rejects.toThrow(
            "refusing to destroy dev: only test schools (stacks named school-*) can be destroyed with this command",
        );
        await expect(destroySchools(d, { name: "staging" })).rejects.toThrow(
            /refusing to destroy staging: only test schools/,
        );
        await expect(destroySchools(d, { name: "keep" })).rejects.toThrow(
            /refusing to destroy school-keep: its config has lernmanager:protectData = true/,
        );
        await expect(destroySchools(d, { name: "nowhere" })).rejects.toThrow(
            "there is no school nowhere (no stack school-nowhere); `npm run school -- list` shows the test schools",
        );
        expect(ws.mutations).toEqual([]);
    });
});

describe("--older-than", () => {
    function fleet() {
        return new FakeWorkspace()
            .addSchool("old", { port: 8100, createdAt: ago(8 * DAY) })
            .addSchool("young", { port: 8101, createdAt: ago(6 * DAY) })
            .addSchool("exactly", { port: 8102, createdAt: ago(7 * DAY) })
            .addSchool("undated", { port: 8103 })
            .addSchool("garbled", { port: 8104, createdAt: "last week" })
            .addSchool("guarded", { port: 8105, createdAt: ago(30 * DAY), protect: true })
            .addStack("school-tagged", {}, { tags: { [CREATED_AT_TAG]: ago(9 * DAY) } })
            .addStack("dev", { "lernmanager:createdAt": ago(100 * DAY) })
            .addStack("prod", { "lernmanager:createdAt": ago(100 * DAY) });
    }

    test("destroys every school older than the age; skips undated, unparsable and protected ones with a note", async () => {
        const ws = fleet();
        const { d, log } = deps(ws);
        const r = await destroySchools(d, { olderThanMs: parseAge("7d"), olderThanText: "7d" });
        expect(r.destroyed).toEqual(["old", "tagged"]); // tagged: createdAt from the stack tag (no local config)
        expect(ws.mutations).toEqual([
            "destroy school-old",
            "removeStack school-old",
            "destroy school-tagged",
            "removeStack school-tagged",
        ]);
        expect(r.kept.map((k) => k.name).sort()).toEqual(["exactly", "garbled", "guarded", "undated", "young"]);
        expect(log).toContain(
            "Skipped school undated: it has no createdAt (neither in its config nor as a stack tag).",
        );
        expect(log).toContain('Skipped school garbled: its createdAt "last week" is not a time.');
        expect(log).toContain("Skipped school guarded: its config has lernmanager:protectData = true.");
        expect(log).toContain("Kept school young: 6d 0h old, not older than 7d.");
        expect(log.at(-1)).toBe("Destroyed 2 school(s) older than 7d (old, tagged); kept 5.");
        expect([...ws.stacks.keys()]).toEqual(expect.arrayContaining(["dev", "prod"]));
    });

    test("one failure does not stop the others, and fails the run at the end", async () => {
        const ws = fleet();
        ws.failDestroy.add("school-old");
        const { d } = deps(ws);
        await expect(destroySchools(d, { olderThanMs: 7 * DAY, olderThanText: "7d" })).rejects.toThrow(
            "1 school(s) could not be destroyed: old (see the output above)",
        );
        expect(ws.mutations).toEqual(["destroy school-old", "destroy school-tagged", "removeStack school-tagged"]);
    });

    test("with a name, destroys that school only if it is old enough", async () => {
        const ws = fleet();
        const { d, log } = deps(ws);
        expect(await destroySchools(d, { name: "young", olderThanMs: 7 * DAY, olderThanText: "7d" })).toEqual({
            destroyed: [],
            kept: [{ name: "young", reason: "6d 0h old" }],
        });
        expect(log).toEqual(["School young is 6d 0h old, not older than 7d; kept."]);
        await destroySchools(d, { name: "young", olderThanMs: 5 * DAY, olderThanText: "5d" });
        expect(ws.mutations).toEqual(["destroy school-young", "removeStack school-young"]);
        await expect(destroySchools(d, { name: "undated", olderThanMs: DAY })).rejects.toThrow(
            /cannot tell the age of school undated: it has no createdAt/,
        );
        await expect(destroySchools(d, { name: "guarded", olderThanMs: DAY })).rejects.toThrow(/protectData = true/);
    });

    test("nothing to do without schools", async () => {
        const ws = new FakeWorkspace().addStack("dev");
        const { d, log } = deps(ws);
        expect(await destroySchools(d, { olderThanMs: DAY, olderThanText: "1d" })).toEqual({ destroyed: [], kept: [] });
        expect(log[0]).toBe("No test schools.");
        expect(ws.mutations).toEqual([]);
    });
});

describe("list", () => {
    test("a table with name, URL (or -), human age and creation time", async () => {
        const ws = new FakeWorkspace()
            .addSchool("berlin", {
                port: 8100,
                createdAt: ago(3 * DAY + 4 * HOUR + 5 * 60_000),
                url: "http://127.0.0.1:8100/",
            })
            .addSchool("pr-42", { port: 8101, createdAt: ago(25 * 60_000) })
            .addSchool("alt", { port: 8102 })
            .addStack("dev", {}, { outputs: { url: "http://127.0.0.1:8080/" } });
        const { d } = deps(ws);
        const rows = await listSchools(d);
        expect(rows).toEqual([
            { name: "alt", url: "-", age: "-", created: "-" },
            { name: "berlin", url: "http://127.0.0.1:8100/", age: "3d 4h", created: "2025-11-17 07:55 UTC" },
            { name: "pr-42", url: "-", age: "25m", created: "2025-11-20 11:35 UTC" },
        ]);
        expect(formatSchoolTable(rows).split("\n")).toEqual([
            "NAME    URL                     AGE    CREATED",
            "alt     -                       -      -",
            "berlin  http://127.0.0.1:8100/  3d 4h  2025-11-17 07:55 UTC",
            "pr-42   -                       25m    2025-11-20 11:35 UTC",
        ]);
        expect(ws.mutations).toEqual([]);
    });

    test("says how to create one when there is none", async () => {
        const { d } = deps(new FakeWorkspace().addStack("dev"));
        expect(formatSchoolTable(await listSchools(d))).toBe(
            "No test schools. Create one with `npm run school -- create <name>`.",
        );
    });

    test("exists", async () => {
        const ws = new FakeWorkspace().addSchool("pr-7", { port: 8100 });
        expect(await schoolExists(ws, "pr-7")).toBe(true);
        expect(await schoolExists(ws, "pr-8")).toBe(false);
    });
});

describe("command line", () => {
    function cli(ws: FakeWorkspace) {
        const out: string[] = [];
        const err: string[] = [];
        let opened = 0;
        const d: CliDeps = {
            openWorkspace: async () => {
                opened++;
                return ws;
            },
            isPortFree: async () => true,
            now: () => NOW,
            stdout: (t) => out.push(t),
            stderr: (t) => err.push(t),
        };
        return { d, out, err, opened: () => opened };
    }

    test("bad input: exit 1, one line on stderr, Pulumi never started", async () => {
        const c = cli(new FakeWorkspace());
        expect(await runCli(["create", "Berlin"], c.d)).toBe(1);
        expect(c.err).toHaveLength(1);
        expect(c.err[0]).toMatch(/^error: school name "Berlin" is not allowed: .*\n$/);
        expect(c.err[0].trimEnd()).not.toContain("\n");
        expect(c.opened()).toBe(0);
    });

    test("--help: exit 0 with the usage", async () => {
        const c = cli(new FakeWorkspace());
        expect(await runCli(["--help"], c.d)).toBe(0);
        expect(c.out.join("")).toContain("Usage: npm run school -- <command> [options]");
        expect(c.opened()).toBe(0);
    });

    test("create, list and destroy through the CLI", async () => {
        const ws = new FakeWorkspace();
        const c = cli(ws);
        expect(await runCli(["create", "berlin", "--demo-data"], c.d)).toBe(0);
        expect(c.out.join("")).toContain("Updating (school-berlin)\n");
        expect(c.out.join("")).toContain("School berlin is up: http://127.0.0.1:8100/\n");
        expect(await runCli(["list"], c.d)).toBe(0);
        expect(c.out.at(-1)).toBe(
            "NAME    URL                     AGE  CREATED\nberlin  http://127.0.0.1:8100/  0m   2025-11-20 12:00 UTC\n",
        );
        expect(await runCli(["exists", "berlin"], c.d)).toBe(0);
        expect(c.out.at(-1)).toBe("true\n");
        expect(await runCli(["destroy", "berlin"], c.d)).toBe(0);
        expect(ws.stacks.size).toBe(0);
        expect(c.err).toEqual([]);
    });

    test("a Pulumi failure is one line too", async () => {
        const ws = new FakeWorkspace();
        ws.failUp = "program failed:\nInvalid lernmanager configuration";
        const c = cli(ws);
        expect(await runCli(["create", "berlin"], c.d)).toBe(1);
        expect(c.err).toHaveLength(1);
        expect(c.err[0]).toMatch(
            /^error: pulumi up failed for school-berlin: program failed: Invalid lernmanager configuration \(fix it/,
        );
        expect(c.err[0].trimEnd()).not.toContain("\n");
    });
});
