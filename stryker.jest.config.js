// The unit suite as `npm run mutate` runs it for each mutant (stryker.config.json): the same files
// but for those that only spawn other processes against copies of the project (the Python helpers'
// planted bugs, the nested jest of the figures' rule, the school command through a stand-in CLI):
// they do not cover config/, render/ or components/ in this process, and take a minute each.
const base = require("./jest.config.js");
const unit = base.projects.find((p) => p.displayName === "unit");
module.exports = {
    ...unit,
    displayName: undefined,
    testPathIgnorePatterns: ["/node_modules/", "/test/unit/(plantedBugs|figures|schoolWorkspace)\\.test\\.ts$"],
    testTimeout: base.testTimeout,
};
