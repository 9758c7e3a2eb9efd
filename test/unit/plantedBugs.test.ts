/**
 * Planted bugs in the Python helpers, kept as a test: each is applied as a patch to a copy of the
 * helper (in a temp folder laid out like the project), and the test named for the behaviour must
 * fail on the copy. A test that passes on a planted bug proves nothing about that behaviour.
 * The same table for the TypeScript side is in docs/testing.md.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR } from "../../core/paths";

interface PlantedBug {
    /** What a user would see. */
    readonly bug: string;
    /** The helper, under containers/runtime/. */
    readonly helper: string;
    /** Exactly once in the helper; replaced by `planted`. */
    readonly original: string;
    readonly planted: string;
    /** The Python test file and the test (Class.method) that must fail. */
    readonly testFile: string;
    readonly catchesIt: string;
}

export const PLANTED_PYTHON_BUGS: readonly PlantedBug[] = [
    {
        bug: "the weekly bucket of the retention is really daily",
        helper: "backups/lm_backup.py",
        original: `"weekly": lambda t: "%d-%02d" % t.isocalendar()[:2],`,
        planted: `"weekly": lambda t: t.strftime("%Y%m%d"),`,
        testFile: "test_lm_backup.py",
        catchesIt: "Retention.test_weekly_keeps_the_newest_of_each_iso_week",
    },
    {
        bug: "the daily bucket is really hourly",
        helper: "backups/lm_backup.py",
        original: `"daily": lambda t: t.strftime("%Y%m%d"),`,
        planted: `"daily": lambda t: t.strftime("%Y%m%d%H"),`,
        testFile: "test_lm_backup.py",
        catchesIt: "Retention.test_daily_keeps_the_newest_of_each_utc_day",
    },
    {
        bug: "--keep ignored (always the default 10)",
        helper: "backups/lm_backup.py",
        original: "kept = set(newest_first[:keep])",
        planted: "kept = set(newest_first[:10])",
        testFile: "test_lm_backup.py",
        catchesIt: "Retention.test_keep_counts_the_newest_whatever_their_age",
    },
    {
        bug: "the smoke test accepts the old version answering /healthz",
        helper: "deploy/lm_smoke.py",
        original: `check("app /healthz answers with the new version", version in versions,`,
        planted: `check("app /healthz answers with the new version", bool(versions),`,
        testFile: "test_lm_smoke.py",
        catchesIt: "PlainHttp.test_only_the_old_version_answering_fails",
    },
    {
        bug: "the smoke test's HSTS check cannot fail",
        helper: "deploy/lm_smoke.py",
        original: `check("HSTS", hsts_got == hsts_want,`,
        planted: `check("HSTS", True,`,
        testFile: "test_lm_smoke.py",
        catchesIt: "Https.test_hsts_missing_or_different_fails",
    },
    {
        bug: "the smoke test passes while nginx serves a certificate other than the agent's (the placeholder)",
        helper: "deploy/lm_smoke.py",
        original: `check("nginx serves the current certificate", served == want,`,
        planted: `check("nginx serves the current certificate", bool(served),`,
        testFile: "test_lm_smoke.py",
        catchesIt: "Https.test_a_certificate_other_than_the_agents_fails",
    },
];

const RUNTIME = path.join(PROJECT_DIR, "containers", "runtime");
const PY_TESTS = path.join(PROJECT_DIR, "test", "unit", "python");

/** Runs one Python test against a copy of the helpers with `patch` applied to one of them. */
function runOnCopy(testFile: string, test: string, patch?: { helper: string; original: string; planted: string }) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-planted-"));
    try {
        fs.cpSync(RUNTIME, path.join(root, "containers", "runtime"), { recursive: true });
        fs.cpSync(PY_TESTS, path.join(root, "test", "unit", "python"), {
            recursive: true,
            filter: (src) => !src.includes("__pycache__"),
        });
        if (patch) {
            const file = path.join(root, "containers", "runtime", patch.helper);
            const text = fs.readFileSync(file, "utf8");
            // The patch must still apply: a helper that changed makes this table fail, not pass.
            expect(text.split(patch.original)).toHaveLength(2);
            fs.writeFileSync(file, text.replace(patch.original, patch.planted));
        }
        const module = testFile.replace(/\.py$/, "");
        return spawnSync("python3", ["-B", "-m", "unittest", `${module}.${test}`], {
            cwd: path.join(root, "test", "unit", "python"),
            encoding: "utf8",
            env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
        });
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
    }
}

describe("planted bugs in the Python helpers are caught by the test named for the behaviour", () => {
    test.each(PLANTED_PYTHON_BUGS.map((b) => [b.bug, b] as const))("%s", (_bug, b) => {
        const clean = runOnCopy(b.testFile, b.catchesIt);
        expect(clean.stderr).toMatch(/\nOK\s*$/);
        const planted = runOnCopy(b.testFile, b.catchesIt, b);
        expect(planted.stderr).toMatch(/\nFAILED \((failures|errors)=1\)\s*$/);
        expect(planted.status).toBe(1);
    });
});
