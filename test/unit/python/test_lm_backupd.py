"""Unit tests of files/runtime/lm_backupd.py's loop timing (run by test/unit/jobs.test.ts)."""

import datetime
import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "files", "runtime"))
import lm_backupd  # noqa: E402


class Due(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.cfg = {"backups": self.dir.name, "stem": "lm", "everySeconds": 60,
                    "database": os.path.join(self.dir.name, "live.db")}
        open(self.cfg["database"], "w").close()

    def tearDown(self):
        self.dir.cleanup()

    def backup_taken(self, seconds_ago):
        at = lm_backupd.now() - datetime.timedelta(seconds=seconds_ago)
        open(os.path.join(self.dir.name, f"lm-{at.strftime('%Y%m%dT%H%M%S%fZ')}-scheduled.db"), "w").close()

    def test_a_scheduled_backup_once_the_newest_is_every_seconds_old(self):
        self.assertEqual(lm_backupd.due(self.cfg), "scheduled")  # none yet
        self.backup_taken(70)
        self.assertEqual(lm_backupd.due(self.cfg), "scheduled")
        self.backup_taken(20)
        self.assertEqual(lm_backupd.due(self.cfg), "drill")  # not due; the newest is not drilled yet

    def test_a_test_speed_divides_the_interval(self):
        self.backup_taken(20)
        self.assertNotEqual(lm_backupd.due(self.cfg, 2), "scheduled")  # 20 s < 60/2
        self.assertEqual(lm_backupd.due(self.cfg, 6), "scheduled")  # 20 s >= 60/6

    def test_the_speed_comes_from_the_environment_tests_only(self):
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop(lm_backupd.SPEED_ENV, None)
            self.assertEqual(lm_backupd.loop_speed(), 1)
            os.environ[lm_backupd.SPEED_ENV] = "6"
            self.assertEqual(lm_backupd.loop_speed(), 6)
            for bad in ("0", "61", "1.5", "fast", "-2"):
                os.environ[lm_backupd.SPEED_ENV] = bad
                with self.assertRaisesRegex(ValueError, "LM_BACKUPD_SPEED=.*whole number from 1 to 60.*tests only"):
                    lm_backupd.loop_speed()
            out = io.StringIO()
            with redirect_stdout(out):
                self.assertEqual(lm_backupd.loop(self.cfg), 2)
            self.assertIn("unset it for real stacks", out.getvalue())


if __name__ == "__main__":
    unittest.main()
