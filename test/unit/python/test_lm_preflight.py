"""Unit tests of containers/runtime/deploy/lm_preflight.py's time-zone check (run by test/unit/jobs.test.ts)."""
import os
import sys
import tempfile
import unittest

# The runtime image puts every role's helpers in one folder; here each role has its own.
RUNTIME = os.path.join(os.path.dirname(__file__), "..", "..", "..", "containers", "runtime")
sys.path[:0] = [os.path.join(RUNTIME, role) for role in ("app", "deploy", "jobs", "backups")]

import lm_preflight  # noqa: E402


class TimeZone(unittest.TestCase):
    def setUp(self):
        self.zoneinfo = tempfile.mkdtemp()
        os.makedirs(os.path.join(self.zoneinfo, "Europe"))
        open(os.path.join(self.zoneinfo, "Europe", "Berlin"), "wb").close()

    def test_a_zone_with_its_data_passes(self):
        self.assertIsNone(lm_preflight.time_zone_problem({"TZ": "Europe/Berlin"}, self.zoneinfo))

    def test_a_zone_without_its_data_fails_naming_it(self):
        problem = lm_preflight.time_zone_problem({"TZ": "Europe/Vienna"}, self.zoneinfo)
        self.assertIn("TZ=Europe/Vienna", problem)
        self.assertIn("tzdata", problem)

    def test_no_zone_fails(self):
        self.assertIn("TZ is not set", lm_preflight.time_zone_problem({}, self.zoneinfo))


class SqliteWalResetBug(unittest.TestCase):
    def test_the_versions_with_the_bug_are_named_with_the_fix(self):
        for version in ("3.7.0", "3.40.1", "3.46.1", "3.51.2"):
            warning = lm_preflight.sqlite_warning(version)
            self.assertIsNotNone(warning, version)
            self.assertIn(f"SQLite {version} has the WAL-reset bug", warning)
            self.assertIn("3.51.3 or newer", warning)

    def test_fixed_and_older_versions_pass_without_a_word(self):
        for version in ("3.51.3", "3.53.4", "3.100.0", "3.6.23", "4.0.0", "unknown"):
            self.assertIsNone(lm_preflight.sqlite_warning(version), version)


if __name__ == "__main__":
    unittest.main()
