// Summarises Stryker's report (bench/results/mutation/latest.json, not kept in git) of one module into
// bench/results/mutation/<date>-<module>.json: the counts, the score, the seconds, every survivor.
// Usage (scripts/mutate.sh): node scripts/mutationSummary.js <module> "<test files>" <seconds>
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const [moduleFile, tests, seconds] = process.argv.slice(2);
const dir = path.join(__dirname, "..", "bench", "results", "mutation");
const report = JSON.parse(fs.readFileSync(path.join(dir, "latest.json"), "utf8"));
const file = report.files[moduleFile];
if (!file) throw new Error(`the report has no ${moduleFile}`);
const count = (status) => file.mutants.filter((m) => m.status === status).length;
const killed = count("Killed");
const timeout = count("Timeout");
const survived = count("Survived");
const noCoverage = count("NoCoverage");
const errors = file.mutants.length - killed - timeout - survived - noCoverage;
const lines = file.source.split("\n");
const git = (...a) => execFileSync("git", a, { encoding: "utf8" }).trim();
const summary = {
    date: new Date().toISOString(),
    commit: git("rev-parse", "--short", "HEAD"),
    dirty: git("status", "--porcelain", "--untracked-files=no") !== "",
    module: moduleFile,
    tests: tests.split(/\s+/).filter(Boolean),
    seconds: Number(seconds),
    mutants: file.mutants.length,
    killed,
    timeout,
    survived,
    noCoverage,
    // Not in the score: e.g. CompileError, RuntimeError, Ignored, by status.
    notCounted: errors,
    notCountedByStatus: file.mutants
        .filter((m) => !["Killed", "Timeout", "Survived", "NoCoverage"].includes(m.status))
        .reduce((acc, m) => ({ ...acc, [m.status]: (acc[m.status] ?? 0) + 1 }), {}),
    // Stryker's score: detected (killed + timeout) over valid mutants.
    score: Math.round((1000 * (killed + timeout)) / (killed + timeout + survived + noCoverage)) / 10,
    survivors: file.mutants
        .filter((m) => m.status === "Survived" || m.status === "NoCoverage")
        .map((m) => ({
            status: m.status,
            line: m.location.start.line,
            mutator: m.mutatorName,
            replacement: m.replacement,
            code: lines[m.location.start.line - 1].trim().slice(0, 160),
        })),
};
const out = path.join(dir, `${summary.date.slice(0, 10)}-${moduleFile.replace(/[/.]/g, "-")}.json`);
fs.writeFileSync(out, JSON.stringify(summary, null, 2) + "\n");
fs.rmSync(path.join(dir, "latest.json"));
console.log(
    `${moduleFile}: ${summary.score} % (${killed} killed, ${timeout} timeout, ${survived} survived, ${noCoverage} no coverage) in ${seconds} s -> ${path.relative(process.cwd(), out)}`,
);
