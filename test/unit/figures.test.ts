import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR } from "../../core/paths";

/**
 * The figures' rule (test/support/figuresEnvironment.ts): only a passed test's figures are written,
 * into one file of this run that names its commit, CI or not, and the nginx.
 */
test("a run writes the figures of its passed tests only, into its own file with the run's facts", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-runs-"));
    try {
        const config = {
            rootDir: PROJECT_DIR,
            testEnvironment: "<rootDir>/test/support/figuresEnvironment.ts",
            transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true }] },
            moduleFileExtensions: ["ts", "js", "json"],
            testMatch: ["<rootDir>/test/support/fixtures/figuresFixture.ts"],
        };
        const r = spawnSync("npx", ["jest", "--ci", "--config", JSON.stringify(config)], {
            cwd: PROJECT_DIR,
            encoding: "utf8",
            env: { ...process.env, LM_RUNS_DIR: dir, LM_RUN_ID: "2026-12-06T00-00-00Z", CI: "true" },
        });
        expect(r.stderr).toMatch(/Tests: +1 failed, 1 passed, 2 total/);
        expect(r.stderr).toContain("figures not written (their test failed): fromFailed");
        const files = fs.readdirSync(dir);
        expect(files).toHaveLength(1);
        expect(files[0]).toMatch(/^2026-12-06T00-00-00Z-[0-9a-f]{12}\.json$/);
        const data = JSON.parse(fs.readFileSync(path.join(dir, files[0]), "utf8"));
        expect(Object.keys(data.figures)).toEqual(["fromPassed"]);
        expect(data.figures.fromPassed).toMatchObject({
            requests: 10,
            failed: 0,
            passed: true,
            test: "test/support/fixtures/figuresFixture.ts › passes",
        });
        expect(data.run).toMatchObject({ started: "2026-12-06T00-00-00Z", ci: true });
        expect(data.run.commit).toMatch(/^[0-9a-f]{40}$/);
        expect(typeof data.run.uncommittedChanges).toBe("boolean");
        expect(data.run.nginx.image).toMatch(/nginx/);
        expect(["pooled", "per-request", "unknown"]).toContain(data.run.nginx.upstream);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});
