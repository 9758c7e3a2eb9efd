/**
 * The `npm run` commands: each prints its usage on --help without touching Docker, and the ops
 * commands talk to the engine the stack is deployed to (its docker:host), saying which.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stackEngine } from "../../cli/stack";
import { PROJECT_DIR } from "../../core/paths";

const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
};
/** The commands a school's admin runs (development and test scripts aside). */
const OPS = ["school", "import", "logs", "backup", "status", "rollback", "restore"];

describe("npm run <command> --help", () => {
    // An engine that cannot answer: a command that touched Docker would fail or hang.
    const env = { ...process.env, DOCKER_HOST: "unix:///nonexistent/docker.sock", PATH: process.env.PATH };

    test.each(OPS)("%s prints its usage and exits 0 without Docker", (name) => {
        const script = pkg.scripts[name];
        expect(script).toBeDefined();
        const [runner, file] = script.split(" ");
        const argv =
            runner === "ts-node"
                ? [process.execPath, ["-r", "ts-node/register/transpile-only", file, "--help"]]
                : ["bash", [file, "--help"]];
        const r = spawnSync(argv[0] as string, argv[1] as string[], {
            cwd: PROJECT_DIR,
            env,
            encoding: "utf8",
            timeout: 60000,
        });
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/usage/i);
        expect(r.stderr).not.toMatch(/docker\.sock|Cannot connect|ENOENT/);
    });
});

describe("the ops commands' Docker engine", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-engine-"));
    fs.writeFileSync(
        path.join(dir, "Pulumi.schule-walde.yaml"),
        "config:\n  docker:host: ssh://admin@schulserver\n  lernmanager:baseStack: prod\n",
    );
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test("the stack's docker:host wins over $DOCKER_HOST, and says where it came from", () => {
        const e = stackEngine("schule-walde", dir, { DOCKER_HOST: "unix:///var/run/docker.sock" });
        expect(e.host).toBe("ssh://admin@schulserver");
        expect(e.env.DOCKER_HOST).toBe("ssh://admin@schulserver");
        expect(e.from).toBe("docker:host of Pulumi.schule-walde.yaml");
    });

    test("without docker:host: $DOCKER_HOST, else the local socket", () => {
        expect(stackEngine("dev", dir, { DOCKER_HOST: "tcp://10.0.0.5:2376" }).host).toBe("tcp://10.0.0.5:2376");
        const local = stackEngine("dev", dir, {});
        expect(local.host).toBe("unix:///var/run/docker.sock");
        expect(local.from).toMatch(/local engine/);
    });
});
