/**
 * `npm run school` through its real workspace (school/workspace.ts: Pulumi's LocalWorkspace and
 * Stack) against a stand-in Pulumi CLI on PATH (test/support/pulumiStandIn/pulumi), whose `up` runs
 * the program under Pulumi's mocks. What is checked: the commands the Automation API really runs
 * for create, list, exists and destroy, and that the config the school command sets is what the
 * program then reads (the school's port reaches the outputs).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR } from "../../core/paths";

jest.setTimeout(180000);

const STANDIN = path.join(PROJECT_DIR, "test", "support", "pulumiStandIn");
let stateDir: string;
const state = () => JSON.parse(fs.readFileSync(path.join(stateDir, "state.json"), "utf8"));

/** `npm run school -- <args>` as a user runs it (ts-node school/cli.ts), with the stand-in first on PATH. */
function school(...args: string[]) {
    return spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "-T", "school/cli.ts", ...args], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
        env: {
            ...process.env,
            PATH: `${STANDIN}${path.delimiter}${process.env.PATH}`,
            LM_PULUMI_STANDIN_STATE: stateDir,
            PULUMI_HOME: path.join(stateDir, "home"),
        },
        timeout: 150000,
    });
}

beforeAll(() => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-standin-pulumi-"));
});
afterAll(() => fs.rmSync(stateDir, { recursive: true, force: true }));

test("create, list, exists and destroy run through LocalWorkspace and Stack, and the program gets the school's config", () => {
    const created = school("create", "wsberlin", "--port", "18731");
    expect({ status: created.status, stderr: created.stderr }).toEqual({ status: 0, stderr: "" });
    const s = state().stacks["school-wsberlin"];
    expect(s.config["lernmanager:port"]).toBe("18731");
    expect(s.tags).toHaveProperty(["lernmanager:createdAt"]);
    // The program ran with that config: its url output names the school's port.
    expect(String(s.outputs.url)).toContain(":18731");
    expect(s.registered).toEqual(expect.arrayContaining(["lernmanager-school-wsberlin-nginx"]));

    // (--non-interactive: the Automation API adds it to every command.)
    const calls = (state().calls as string[]).map((c) => c.replace(/ --non-interactive/g, ""));
    // What Pulumi's Automation API ran: select-or-create, config, tags, up, then the outputs.
    expect(calls).toEqual(
        expect.arrayContaining([
            "version",
            "stack select --stack school-wsberlin",
            "stack init school-wsberlin",
            expect.stringMatching(/^config set lernmanager:port --stack school-wsberlin --plaintext -- 18731$/),
            expect.stringMatching(/^up --yes --skip-preview .*--stack school-wsberlin/),
            "stack output --json --show-secrets --stack school-wsberlin",
            "stack tag set lernmanager:createdAt " + s.tags["lernmanager:createdAt"] + " --stack school-wsberlin",
        ]),
    );

    const listed = school("list");
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/wsberlin.*18731/);
    expect(school("exists", "wsberlin").stdout.trim()).toBe("true");
    expect(school("exists", "wshamburg").stdout.trim()).toBe("false");

    const destroyed = school("destroy", "wsberlin");
    expect({ status: destroyed.status, stderr: destroyed.stderr }).toEqual({ status: 0, stderr: "" });
    expect(state().stacks["school-wsberlin"]).toBeUndefined();
    expect(state().calls).toEqual(
        expect.arrayContaining([expect.stringMatching(/^destroy .*--stack school-wsberlin/)]),
    );
    expect(school("exists", "wsberlin").stdout.trim()).toBe("false");
});

test("a command the stand-in does not know fails loudly (the stand-in cannot pass a new call unnoticed)", () => {
    const r = spawnSync(path.join(STANDIN, "pulumi"), ["refresh", "--stack", "x"], {
        encoding: "utf8",
        env: { ...process.env, LM_PULUMI_STANDIN_STATE: stateDir },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("not mapped: pulumi refresh");
});
