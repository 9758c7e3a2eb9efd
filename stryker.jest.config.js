// The unit suite as `npm run mutate` runs it for each mutant (stryker.config.json): the same files
// but for those that only spawn other processes against copies of the project (the Python helpers'
// planted bugs, the nested jest of the figures' rule, the school command through a stand-in CLI):
// they do not cover config/, render/ or components/ in this process, and take a minute each.
//
// Speed (a mutant runs every test that covers it, and nearly every test runs the whole program):
// TypeScript is only transpiled (no type check: tsc checks the real tree), and LM_MUTATE_TESTS
// (file names in test/unit, space-separated; scripts/mutate.sh sets it per module) narrows the
// suite to the tests written for the module under mutation.
const base = require("./jest.config.js");
const unit = base.projects.find((p) => p.displayName === "unit");
const only = (process.env.LM_MUTATE_TESTS ?? "").split(/\s+/).filter(Boolean);
module.exports = {
    ...unit,
    displayName: undefined,
    transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false, isolatedModules: true }] },
    ...(only.length ? { testMatch: only.map((f) => `<rootDir>/test/unit/${f}`) } : {}),
    testPathIgnorePatterns: ["/node_modules/", "/test/unit/(plantedBugs|figures|schoolWorkspace)\\.test\\.ts$"],
    testTimeout: base.testTimeout,
};
