// Two suites: `unit` (Pulumi mocks, pure functions, `nginx -t`) always runs; `e2e` realizes the
// program on a real Docker engine. Without a reachable engine, e2e is left out with one loud line
// outside CI, and fails the run in CI (where .ci/run must have started dockerd).
const { execFileSync } = require("child_process");

function dockerReachable() {
    try {
        execFileSync("docker", ["info", "--format", "{{.ServerVersion}}"], { stdio: "pipe", timeout: 15000 });
        return true;
    } catch {
        return false;
    }
}

const tsJest = { "^.+\\.ts$": ["ts-jest", { diagnostics: { warnOnly: false }, isolatedModules: false }] };
const common = {
    preset: undefined,
    testEnvironment: "node",
    transform: tsJest,
    moduleFileExtensions: ["ts", "js", "json"],
};
const projects = [{ ...common, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] }];

const wantsE2e = !process.argv.some((a) => a === "unit");
if (wantsE2e) {
    if (dockerReachable()) {
        projects.push({
            ...common,
            displayName: "e2e",
            testMatch: ["<rootDir>/test/e2e/**/*.test.ts"],
            globalSetup: "<rootDir>/test/support/cleanStale.ts",
            // Writes a test's figures only once it passed, into the run's file (test/support/figures.ts).
            testEnvironment: "<rootDir>/test/support/figuresEnvironment.ts",
        });
    } else if (process.env.CI === "true") {
        throw new Error(
            "CI=true but no Docker engine answers `docker info`: .ci/run must start dockerd (scripts/test-env.sh).",
        );
    } else {
        process.stderr.write(
            "\n!!! NO DOCKER ENGINE: the real-engine suite (test/e2e) is NOT RUN. Start one with `sudo scripts/test-env.sh up`. !!!\n\n",
        );
    }
}

// One worker: e2e files share one Docker engine and 2 cores; unit files take seconds anyway.
module.exports = { projects, testTimeout: 30000, maxWorkers: 1 };
