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


if __name__ == "__main__":
    unittest.main()
