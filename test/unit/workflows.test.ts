import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { PROJECT_DIR } from "../../core/paths";

/** The parts of a GitHub Actions workflow the tests look at. */
interface Step {
    name?: string;
    id?: string;
    if?: string;
    uses?: string;
    run?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
}
interface Job {
    if?: string;
    "timeout-minutes"?: number;
    "runs-on"?: string;
    permissions?: Record<string, string>;
    strategy?: { matrix?: Record<string, unknown> };
    env?: Record<string, string>;
    steps: Step[];
}
interface Workflow {
    name: string;
    on: Record<string, any>;
    permissions?: Record<string, string>;
    env?: Record<string, string>;
    jobs: Record<string, Job>;
}

const WORKFLOW_DIR = path.join(PROJECT_DIR, ".github", "workflows");
const FILES = ["test.yml", "preview.yml", "school-teardown.yml"];
const load = (file: string): Workflow => YAML.parse(fs.readFileSync(path.join(WORKFLOW_DIR, file), "utf8"));
const steps = (wf: Workflow): Step[] => Object.values(wf.jobs).flatMap((j) => j.steps);
const runSteps = (wf: Workflow): Step[] => steps(wf).filter((s) => typeof s.run === "string");

/**
 * Stacks committed as Pulumi.<stack>.yaml: what git tracks. A school's own file
 * (Pulumi.schule-<name>.yaml) and a test school's are per machine, ignored by git, never committed.
 */
const committedStacks = (): string[] =>
    execFileSync("git", ["ls-files", "Pulumi.*.yaml"], { cwd: PROJECT_DIR, encoding: "utf8" })
        .split("\n")
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();

/**
 * Every way a `run:` script could print a secret: a `${{ secrets.X }}` expression inside an
 * echo/printf line (or anywhere in a script: secrets go through `env:` only), an env var mapped from
 * a secret used by an echo/printf/cat line or by printenv without a redirect, or `set -x`.
 */
function secretLeaks(wf: Workflow): string[] {
    const problems: string[] = [];
    const fromSecrets = (env: Record<string, string> | undefined) =>
        Object.entries(env ?? {})
            .filter(([, v]) => /secrets\./.test(String(v)))
            .map(([k]) => k);
    for (const [jobName, job] of Object.entries(wf.jobs)) {
        for (const step of job.steps) {
            if (typeof step.run !== "string") continue;
            const where = `${jobName}/${step.name ?? step.run.split("\n")[0]}`;
            const secretVars = [...fromSecrets(wf.env), ...fromSecrets(job.env), ...fromSecrets(step.env)];
            for (const line of step.run.split("\n")) {
                const prints = /\b(echo|printf|cat)\b/.test(line);
                if (prints && /secrets\./.test(line))
                    problems.push(`${where}: echo/printf of a secrets. expression: ${line.trim()}`);
                if (/\$\{\{\s*secrets\./.test(line))
                    problems.push(`${where}: \${{ secrets.* }} inside run (use env:): ${line.trim()}`);
                if (/\bset\s+-[a-z]*x|\bbash\s+-[a-z]*x/.test(line))
                    problems.push(`${where}: xtrace prints expanded secrets: ${line.trim()}`);
                for (const v of secretVars) {
                    const uses = new RegExp(`\\$\\{?${v}\\b`).test(line);
                    if (uses && prints) problems.push(`${where}: prints secret variable ${v}: ${line.trim()}`);
                    if (new RegExp(`\\bprintenv\\s+${v}\\b`).test(line) && !/>/.test(line)) {
                        problems.push(`${where}: printenv ${v} without a redirect prints it: ${line.trim()}`);
                    }
                }
            }
        }
    }
    return problems;
}

describe.each(FILES)("%s", (file) => {
    const wf = load(file);

    test("parses, has a name, jobs with steps, and top-level permissions", () => {
        expect(typeof wf.name).toBe("string");
        expect(Object.keys(wf.jobs).length).toBeGreaterThan(0);
        for (const job of Object.values(wf.jobs)) expect(job.steps.length).toBeGreaterThan(0);
        expect(wf.permissions).toBeDefined();
    });

    test("no secret is echoed", () => {
        expect(secretLeaks(wf)).toEqual([]);
    });

    test("permissions are minimal: read contents, write nothing but pull-request comments", () => {
        const all = [wf.permissions, ...Object.values(wf.jobs).map((j) => j.permissions)].filter(Boolean) as Record<
            string,
            string
        >[];
        for (const perms of all) {
            for (const [scope, level] of Object.entries(perms)) {
                if (level === "write") expect(scope).toBe("pull-requests");
                else expect(["read", "none"]).toContain(level);
            }
        }
    });

    test("every job has a time limit", () => {
        for (const job of Object.values(wf.jobs)) expect(job["timeout-minutes"]).toBeGreaterThan(0);
    });

    test("Node 20 and a pinned major of every action", () => {
        for (const s of steps(wf).filter((s) => s.uses)) expect(s.uses).toMatch(/@v\d+$/);
        for (const s of steps(wf).filter((s) => s.uses?.startsWith("actions/setup-node@"))) {
            expect(String(s.with?.["node-version"])).toBe("20");
        }
    });
});

describe("the secret-echo check itself", () => {
    const workflow = (run: string, env: Record<string, string> = {}): Workflow => ({
        name: "x",
        on: { push: null },
        jobs: { j: { steps: [{ name: "s", run, env }] } },
    });

    test.each([
        ["echo ${{ secrets.TOKEN }}", {}],
        ['printf "%s" "${{ secrets.TOKEN }}" > f', {}],
        ['echo "$TOKEN"', { TOKEN: "${{ secrets.TOKEN }}" }],
        ["printf '%s\\n' ${TOKEN}", { TOKEN: "${{ secrets.TOKEN }}" }],
        ["printenv TOKEN", { TOKEN: "${{ secrets.TOKEN }}" }],
        ["set -x", {}],
        ["curl -H 'auth: ${{ secrets.TOKEN }}' x", {}],
    ])("catches %j", (run, env) => {
        expect(secretLeaks(workflow(run, env))).not.toEqual([]);
    });

    test.each([
        ["printenv TOKEN > ~/.ssh/key", { TOKEN: "${{ secrets.TOKEN }}" }],
        ['echo "no key configured"', { TOKEN: "${{ secrets.TOKEN }}" }],
        ['if [ -z "${TOKEN:-}" ]; then', { TOKEN: "${{ secrets.TOKEN }}" }],
    ])("lets %j pass", (run, env) => {
        expect(secretLeaks(workflow(run, env))).toEqual([]);
    });
});

describe("test.yml", () => {
    const wf = load("test.yml");

    test("runs on every push and pull request", () => {
        expect(Object.keys(wf.on).sort()).toEqual(["pull_request", "push"]);
        expect(wf.on.push).toBeNull(); // no branch filter
        expect(wf.on.pull_request).toBeNull();
    });

    test("checkout, setup-node 20, then bash .ci/run", () => {
        const s = steps(wf);
        const checkout = s.findIndex((x) => x.uses?.startsWith("actions/checkout@"));
        const node = s.findIndex((x) => x.uses?.startsWith("actions/setup-node@"));
        const run = s.findIndex((x) => x.run?.trim() === "bash .ci/run");
        expect(checkout).toBeGreaterThanOrEqual(0);
        expect(node).toBeGreaterThan(checkout);
        expect(run).toBeGreaterThan(node);
    });

    test("the job's time limit leaves half again the time a fresh-clone run needs (docs/testing.md)", () => {
        // docs/testing.md states how long `.ci/run` takes on a fresh clone; a limit below it cancels
        // every CI run before its summary line.
        const docs = fs.readFileSync(path.join(PROJECT_DIR, "docs", "testing.md"), "utf8");
        const needed = Number(/fresh-clone `\.ci\/run` takes about (\d+) minutes/.exec(docs)?.[1]);
        expect(needed).toBeGreaterThanOrEqual(40);
        const limit = wf.jobs.test["timeout-minutes"];
        expect(limit).toBeGreaterThanOrEqual(Math.ceil(needed * 1.5));
    });
});

describe("preview.yml", () => {
    const wf = load("preview.yml");
    const job = wf.jobs.preview;
    const pulumi = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));

    test("runs on pull requests", () => {
        expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    });

    test("the matrix covers every committed Pulumi.<stack>.yaml", () => {
        expect(committedStacks()).toEqual(expect.arrayContaining(["dev", "prod"]));
        expect([...(job.strategy?.matrix?.stack as string[])].sort()).toEqual(committedStacks());
    });

    test("pulumi/actions@v6 previews the matrix stack with a diff, commenting on the PR and editing that comment", () => {
        expect(pulumi?.uses).toBe("pulumi/actions@v6");
        expect(pulumi?.with).toMatchObject({
            command: "preview",
            "stack-name": "${{ matrix.stack }}",
            "comment-on-pr": true,
            "edit-pr-comment": true,
            diff: true,
            "work-dir": ".",
        });
    });

    test("dependencies are installed before the preview", () => {
        const install = job.steps.findIndex((s) => /^npm (ci|install)\b/.test(s.run?.trim() ?? ""));
        expect(install).toBeGreaterThanOrEqual(0);
        expect(install).toBeLessThan(job.steps.indexOf(pulumi as Step));
    });

    test("backend and passphrase come from secrets; the comment job may write pull requests", () => {
        const env = { ...wf.env, ...job.env, ...pulumi?.env };
        expect(env.PULUMI_CONFIG_PASSPHRASE).toBe("${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
        const backend = [env.PULUMI_ACCESS_TOKEN, env.PULUMI_BACKEND_URL].filter(Boolean);
        expect(backend.length).toBeGreaterThan(0);
        for (const v of backend) expect(v).toMatch(/^\$\{\{ secrets\.[A-Z_]+ \}\}$/);
        expect({ ...wf.permissions, ...job.permissions }["pull-requests"]).toBe("write");
    });

    test("the SSH key comes from a secret and is written to ~/.ssh without being printed", () => {
        const ssh = job.steps.find((s) => s.run?.includes("~/.ssh"));
        expect(ssh?.env?.DOCKER_SSH_KEY).toBe("${{ secrets.DOCKER_SSH_KEY }}");
        expect(ssh?.run).toContain("umask 077");
        expect(ssh?.run).toMatch(/printenv DOCKER_SSH_KEY > ~\/\.ssh\//);
        expect(job.steps.indexOf(ssh as Step)).toBeLessThan(job.steps.indexOf(pulumi as Step));
    });
});

describe("school-teardown.yml", () => {
    const wf = load("school-teardown.yml");

    test("triggers when a pull request is closed, by hand and on a schedule", () => {
        expect(wf.on.pull_request).toEqual({ types: ["closed"] });
        expect(wf.on).toHaveProperty("workflow_dispatch");
        expect(wf.on.schedule?.[0]?.cron).toMatch(/^\S+ \S+ \S+ \S+ \S+$/);
    });

    test("a closed pull request destroys school pr-<number> only if it exists", () => {
        const job = Object.values(wf.jobs).find((j) => j.if?.includes("pull_request"));
        expect(job).toBeDefined();
        expect(job?.env?.PR_NUMBER).toBe("${{ github.event.pull_request.number }}");
        const check = job!.steps.find((s) => s.run?.includes('npm run --silent school -- exists "pr-${PR_NUMBER}"'));
        const destroy = job!.steps.find((s) => s.run?.trim() === 'npm run school -- destroy "pr-${PR_NUMBER}"');
        expect(check?.id).toBeDefined();
        expect(check?.run).toContain('>> "$GITHUB_OUTPUT"');
        expect(destroy?.if).toBe(`steps.${check?.id}.outputs.exists == 'true'`);
        expect(job!.steps.indexOf(check as Step)).toBeLessThan(job!.steps.indexOf(destroy as Step));
    });

    test("scheduled and manual runs destroy schools older than 7 days", () => {
        const job = Object.values(wf.jobs).find((j) => j.if?.includes("schedule"));
        expect(job?.if).toContain("workflow_dispatch");
        expect(job?.steps.some((s) => s.run?.trim() === "npm run school -- destroy --older-than 7d")).toBe(true);
    });

    test("every job installs dependencies and the Pulumi CLI before running the school command", () => {
        for (const job of Object.values(wf.jobs)) {
            const first = job.steps.findIndex((s) => s.run?.includes("npm run"));
            const install = job.steps.findIndex((s) => /^npm (ci|install)\b/.test(s.run?.trim() ?? ""));
            const cli = job.steps.findIndex((s) => s.uses === "pulumi/actions@v6" && !s.with?.command);
            expect(install).toBeGreaterThanOrEqual(0);
            expect(cli).toBeGreaterThanOrEqual(0);
            expect(Math.max(install, cli)).toBeLessThan(first);
            const env = { ...wf.env, ...job.env };
            expect(env.PULUMI_CONFIG_PASSPHRASE).toBe("${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
        }
    });

    test("the school command's own steps never read secrets directly", () => {
        for (const s of runSteps(wf).filter((x) => x.run?.includes("npm run"))) {
            expect(s.run).not.toContain("secrets.");
        }
    });
});
