"""Unit tests of containers/runtime/jobs/lm_cron.py (run by test/unit/jobs.test.ts through python3 -m unittest)."""

import io
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
import unittest
from contextlib import redirect_stdout
from unittest import mock
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

# The runtime image puts every role's helpers in one folder; here each role has its own.
RUNTIME = os.path.join(os.path.dirname(__file__), "..", "..", "..", "containers", "runtime")
sys.path[:0] = [os.path.join(RUNTIME, role) for role in ("app", "deploy", "jobs", "backups")]
import lm_admin  # noqa: E402
import lm_cron  # noqa: E402
import lm_guard  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")


def minute(text, tz=BERLIN):
    """Epoch minute of a local time 'YYYY-MM-DD HH:MM' in tz."""
    return lm_cron.minute_of(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=tz).timestamp())


def job(name, schedule, command="true", tz="Europe/Berlin"):
    return lm_cron.Job({"name": name, "schedule": schedule, "command": command, "timeZone": tz})


class Quiet(unittest.TestCase):
    def setUp(self):
        self.out = io.StringIO()
        self.redirect = redirect_stdout(self.out)
        self.redirect.__enter__()
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.redirect.__exit__(None, None, None)
        self.dir.cleanup()

    def scheduler(self, me, jobs):
        return lm_cron.Scheduler(jobs, self.dir.name, self.dir.name, me, "v-" + me)

    def state(self):
        with open(os.path.join(self.dir.name, lm_cron.STATE_FILE)) as f:
            return json.load(f)


class ParseTest(unittest.TestCase):
    def test_fields(self):
        s = lm_cron.Schedule("*/15 9-17 * jan,jul mon-fri")
        self.assertEqual(s.fields()["minute"], [0, 15, 30, 45])
        self.assertEqual(s.fields()["hour"], list(range(9, 18)))
        self.assertEqual(s.fields()["month"], [1, 7])
        self.assertEqual(s.fields()["dayOfWeek"], [1, 2, 3, 4, 5])

    def test_sunday_is_0_and_7_and_macros(self):
        self.assertEqual(lm_cron.Schedule("0 0 * * 7").fields()["dayOfWeek"], [0])
        self.assertEqual(lm_cron.Schedule("@weekly").fields(), lm_cron.Schedule("0 0 * * 0").fields())

    def test_errors(self):
        for bad in ["* * * *", "60 * * * *", "* 24 * * *", "5/10 * * * *", "*/0 * * * *", "5-1 * * * *",
                    "0 0 31 2 *", "0 0 * foo *", "a * * * *", "1,,2 * * * *"]:
            with self.assertRaises(lm_cron.CronError, msg=bad):
                lm_cron.Schedule(bad)


class MatchTest(unittest.TestCase):
    def test_day_fields_or_when_both_restricted(self):
        s = lm_cron.Schedule("0 0 13 * 5")  # the 13th, and every Friday
        self.assertTrue(s.matches(datetime(2026, 11, 13)))  # a Friday the 13th
        self.assertTrue(s.matches(datetime(2026, 11, 20)))  # a Friday
        self.assertTrue(s.matches(datetime(2026, 10, 13)))  # a Tuesday the 13th
        self.assertFalse(s.matches(datetime(2026, 11, 19)))

    def test_day_fields_and_when_one_is_star(self):
        s = lm_cron.Schedule("0 0 */2 * 1")  # starts with *: both must match
        self.assertFalse(s.matches(datetime(2026, 11, 30)))  # Monday the 30th (even day: not in 1,3,..)
        self.assertTrue(s.matches(datetime(2026, 11, 23)))  # Monday the 23rd

    def test_weekly_report_monday_midnight_berlin(self):
        j = job("weekly", "0 0 * * 1")
        now = minute("2026-11-30 00:00")  # Monday 00:00 in Berlin = Sunday 23:00 UTC
        self.assertEqual(lm_cron.latest_tick(j.schedule, j.tz, now, 60), now)
        self.assertEqual(lm_cron.local_time(now, timezone.utc).hour, 23)
        self.assertIsNone(lm_cron.latest_tick(j.schedule, j.tz, minute("2026-11-30 01:01"), 60))

    def test_daylight_saving(self):
        j = job("night", "30 2 * * *")
        spring = [m for m in range(minute("2026-03-29 00:00"), minute("2026-03-29 06:00"))
                  if j.schedule.matches(lm_cron.local_time(m, j.tz))]
        self.assertEqual(spring, [])  # 02:30 does not exist that night
        start = lm_cron.minute_of(datetime(2026, 10, 24, 22, 0, tzinfo=timezone.utc).timestamp())
        autumn = [m for m in range(start, start + 360) if j.schedule.matches(lm_cron.local_time(m, j.tz))]
        self.assertEqual(len(autumn), 2)  # 02:30 CEST and 02:30 CET
        self.assertEqual(autumn[1] - autumn[0], 60)


class ExactlyOnceTest(Quiet):
    def test_a_newer_scheduler_takes_over_and_the_old_one_fires_nothing(self):
        jobs = [job("ticks", "* * * * *")]
        old, new = self.scheduler("old", jobs), self.scheduler("new", jobs)
        m = minute("2026-11-30 10:00")
        self.assertTrue(old.claim())
        self.assertEqual([(j.name, t) for j, t in old.due(m)], [("ticks", m)])
        self.assertEqual(old.due(m), [])  # same minute again: nothing
        self.assertTrue(new.claim())
        self.assertEqual(old.due(m + 1), [])
        self.assertIsNotNone(old.superseded_since)
        self.assertEqual([t for _, t in new.due(m + 1)], [m + 1])
        self.assertEqual(new.due(m + 1), [])
        self.assertEqual(self.state()["owner"]["id"], "new")
        self.assertEqual(self.state()["retired"], ["old"])

    def test_a_retired_scheduler_never_claims_again_after_a_restart(self):
        jobs = [job("ticks", "* * * * *")]
        self.assertTrue(self.scheduler("old", jobs).claim())
        self.assertTrue(self.scheduler("new", jobs).claim())
        self.assertFalse(self.scheduler("old", jobs).claim())
        self.assertEqual(self.state()["owner"]["id"], "new")

    def test_a_missed_tick_is_caught_up_once_never_twice(self):
        jobs = [job("ticks", "* * * * *")]
        a = self.scheduler("a", jobs)
        a.claim()
        m = minute("2026-11-30 10:00")
        a.due(m)
        b = self.scheduler("b", jobs)  # nothing ran for 10 minutes, then b starts
        b.claim()
        self.assertEqual([t for _, t in b.due(m + 10)], [m + 10])  # only the newest missed tick
        self.assertEqual(b.due(m + 10), [])

    def test_a_missed_tick_older_than_the_window_is_skipped(self):
        jobs = [job("weekly", "0 0 * * 1")]
        a = self.scheduler("a", jobs)
        a.claim()
        a.due(minute("2026-11-29 12:00"))
        self.assertEqual([t for _, t in a.due(minute("2026-11-30 00:45"))], [minute("2026-11-30 00:00")])
        b = self.scheduler("b", jobs)
        b.claim()
        b.due(minute("2026-12-06 12:00"))
        self.assertEqual(b.due(minute("2026-12-07 01:30")), [])  # 90 min late: skipped

    def test_a_new_job_starts_with_the_current_minute(self):
        a = self.scheduler("a", [job("daily", "0 6 * * *")])
        a.claim()
        self.assertEqual(a.due(minute("2026-11-30 06:05")), [])  # added after today's tick
        self.assertEqual([t for _, t in a.due(minute("2026-12-01 06:00"))], [minute("2026-12-01 06:00")])

    def test_jobs_removed_from_the_config_leave_the_state(self):
        a = self.scheduler("a", [job("one", "* * * * *"), job("two", "* * * * *")])
        a.claim()
        a.due(minute("2026-11-30 06:00"))
        b = self.scheduler("b", [job("one", "* * * * *")])
        b.claim()
        b.due(minute("2026-11-30 06:01"))
        self.assertEqual(sorted(self.state()["jobs"]), ["one"])


class RunTest(Quiet):
    def test_output_and_exit_code_reach_the_log_and_the_state(self):
        ok, bad = job("ok", "* * * * *", 'echo "in $PWD as $LM_JOB_NAME"'), job("bad", "* * * * *", "echo boom; exit 3")
        s = self.scheduler("a", [ok, bad])
        s.claim()
        m = minute("2026-11-30 10:00")
        for j, t in s.due(m):
            s.running[j.name] = None
            s.run(j, t)
        out = self.out.getvalue()
        self.assertIn("[job ok 2026-11-30T10:00+01:00] in %s as ok" % self.dir.name, out)
        self.assertIn("job bad tick 2026-11-30T10:00+01:00: exit code 3", out)
        self.assertIn("[job bad 2026-11-30T10:00+01:00] boom", out)
        jobs = self.state()["jobs"]
        self.assertEqual(jobs["ok"]["last_run"]["exitCode"], 0)
        self.assertEqual(jobs["bad"]["last_failure"]["exitCode"], 3)
        self.assertEqual(jobs["bad"]["last_failure"]["outputTail"], ["boom"])
        self.assertEqual(s.failed, {"bad": "2026-11-30T10:00+01:00"})
        self.assertEqual(s.running, {})

    def test_a_nothing_to_do_exit_code_is_no_failure(self):
        spec = {"name": "weekly", "schedule": "* * * * *", "command": "echo 'no report'; exit 1",
                "timeZone": "Europe/Berlin", "nothingToDoExitCodes": [1]}
        weekly, other = lm_cron.Job(spec), lm_cron.Job(dict(spec, name="other", command="exit 2"))
        s = self.scheduler("a", [weekly, other])
        s.claim()
        s.failed = {"weekly": "2026-11-23T10:00+01:00"}  # an earlier real failure is cleared by it
        for j, t in s.due(minute("2026-11-30 10:00")):
            s.running[j.name] = None
            s.run(j, t)
        out = self.out.getvalue()
        self.assertIn("job weekly tick 2026-11-30T10:00+01:00: exit code 1 after", out)
        self.assertRegex(out, r"job weekly tick \S+: exit code 1 after [0-9.]+ s: nothing to do\n")
        self.assertRegex(out, r"job other tick \S+: exit code 2 after [0-9.]+ s FAILED\n")
        jobs = self.state()["jobs"]
        self.assertEqual(jobs["weekly"]["last_run"]["outcome"], "nothing to do")
        self.assertEqual(jobs["weekly"]["last_run"]["outputTail"], ["no report"])
        self.assertNotIn("last_failure", jobs["weekly"])
        self.assertEqual(jobs["other"]["last_failure"]["outcome"], "FAILED")
        self.assertEqual(s.failed, {"other": "2026-11-30T10:00+01:00"})

    def test_without_nothing_to_do_codes_exit_1_is_a_failure(self):
        s = self.scheduler("a", [job("weekly", "* * * * *", "exit 1")])
        s.claim()
        for j, t in s.due(minute("2026-11-30 10:00")):
            s.running[j.name] = None
            s.run(j, t)
        self.assertEqual(self.state()["jobs"]["weekly"]["last_failure"]["outcome"], "FAILED")
        self.assertIn("weekly", s.failed)

    def test_runs_in_parallel_threads_share_the_state_file_safely(self):
        jobs = [job("job%d" % i, "* * * * *", "sleep 0.%d; echo %d" % (i % 3, i)) for i in range(8)]
        s = self.scheduler("a", jobs)
        s.claim()
        m = minute("2026-11-30 10:00")
        threads = []
        for j, t in s.due(m):
            th = threading.Thread(target=s.run, args=(j, t))
            s.running[j.name] = th
            threads.append(th)
            th.start()
        for th in threads:
            th.join(10)
        self.assertEqual(s.running, {})
        state = self.state()["jobs"]
        self.assertEqual(sorted(n for n in state if state[n]["last_run"]["exitCode"] == 0), sorted(j.name for j in jobs))
        self.assertNotIn("Traceback", self.out.getvalue())

    @mock.patch.dict(os.environ, {"TZ": "UTC"})
    def test_bad_jobs_or_a_missing_time_zone_stop_the_scheduler_with_a_reason(self):
        bad_tz = json.dumps([{"name": "a", "schedule": "* * * * *", "command": "true", "timeZone": "Mars/Base"}])
        self.assertEqual(lm_cron.main(["--jobs", bad_tz]), 2)
        self.assertIn("time zone not found in this image", self.out.getvalue())
        self.assertEqual(lm_cron.main(["--jobs", '[{"name": "a", "schedule": "* * *", "command": "true"}]']), 2)
        self.assertIn("invalid --jobs: needs 5 fields", self.out.getvalue())

    def test_a_container_time_zone_without_zone_data_stops_the_scheduler(self):
        jobs = json.dumps([{"name": "a", "schedule": "* * * * *", "command": "true"}])
        for tz, said in (("Mars/Base", "TZ=Mars/Base, but the image has no /usr/share/zoneinfo/Mars/Base"),
                         ("", "TZ is not set")):
            with self.subTest(tz=tz), mock.patch.dict(os.environ, {"TZ": tz}):
                self.assertEqual(lm_cron.main(["--jobs", jobs]), 2)
                self.assertIn("not starting: " + said, self.out.getvalue())
                self.assertIn("Fix: `pulumi config set timeZone Europe/Berlin`", self.out.getvalue())


class AdminGuardTest(Quiet):
    """A renamed admin brings admin/admin back with the app's next init_app(); the guard replaces it."""

    def setUp(self):
        super().setUp()
        from werkzeug.security import generate_password_hash

        self.hash = generate_password_hash
        self.db = os.path.join(self.dir.name, "app.db")
        conn = sqlite3.connect(self.db)
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT, password_hash TEXT)")
        conn.execute("INSERT INTO users (username, password_hash) VALUES ('chef', ?)", (self.hash("admin"),))
        conn.commit()
        conn.close()
        spec = {"database": self.db, "table": "users", "usernameColumn": "username", "hashColumn": "password_hash",
                "username": "admin", "defaultPassword": "admin"}
        self.guard = lm_guard.AdminGuard.from_spec(spec)
        self.s = lm_cron.Scheduler([], self.dir.name, self.dir.name, "a", "v", guard=self.guard)
        self.s.claim()

    def recreate_default(self):
        conn = sqlite3.connect(self.db)
        conn.execute("INSERT INTO users (username, password_hash) VALUES ('admin', ?)", (self.hash("admin"),))
        conn.commit()
        conn.close()

    def hashes(self):
        return dict(sqlite3.connect(self.db).execute("SELECT username, password_hash FROM users"))

    def test_a_recreated_default_admin_gets_a_random_password(self):
        self.s.guard_admin()
        self.assertNotIn("admin guard:", self.out.getvalue())  # nothing to do: no user named admin
        self.recreate_default()
        self.s.guard_admin()
        now = self.hashes()
        self.assertFalse(lm_admin.verifies(now["admin"], "admin"))
        # Only the user of that name: the renamed admin (whose password happens to be admin too) stays.
        self.assertTrue(lm_admin.verifies(now["chef"], "admin"))
        self.assertIn("admin guard: 'admin' had the default password again", self.out.getvalue())
        guard = self.state()["adminGuard"]
        self.assertEqual((guard["replaced"], guard["last"]["user"], guard["last"]["scheduler"]), (1, "admin", "a"))
        # Its own password from now on: the next check leaves it alone (and verifies nothing).
        with mock.patch.object(lm_admin, "verifies", side_effect=AssertionError("checked again")):
            self.s.guard_admin()
        self.assertEqual(self.hashes()["admin"], now["admin"])

    def test_a_password_set_in_the_app_is_left_alone(self):
        conn = sqlite3.connect(self.db)
        conn.execute("INSERT INTO users (username, password_hash) VALUES ('admin', ?)", (self.hash("geheim-123"),))
        conn.commit()
        conn.close()
        before = self.hashes()["admin"]
        self.s.guard_admin()
        self.assertEqual(self.hashes()["admin"], before)
        self.assertNotIn("adminGuard", self.state())

    def test_a_superseded_scheduler_does_not_guard(self):
        self.recreate_default()
        self.s.superseded_since = time.time()
        self.s.guard_admin()
        self.assertTrue(lm_admin.verifies(self.hashes()["admin"], "admin"))

    def test_a_job_that_runs_init_app_is_followed_by_the_check(self):
        self.s.jobs = [job("attendance", "* * * * *", "python3 -c \"%s\"" % (
            "import sqlite3; c = sqlite3.connect('%s'); c.execute(\\\"INSERT INTO users (username, password_hash) "
            "VALUES ('admin', '%s')\\\"); c.commit()" % (self.db, self.hash("admin"))))]
        for j, t in self.s.due(minute("2026-11-30 10:00")):
            self.s.running[j.name] = None
            self.s.run(j, t)
        self.assertIn("admin", self.hashes())
        self.assertFalse(lm_admin.verifies(self.hashes()["admin"], "admin"))

    def test_a_missing_table_is_no_crash(self):
        guard = lm_guard.AdminGuard(self.db, "admin", "username", "password_hash", "admin", "admin")
        self.assertEqual(guard.check(), 0)
        self.assertIn("no such table", guard.problem)

    def test_status_prints_jobs_and_the_guard(self):
        self.recreate_default()
        self.s.guard_admin()
        self.out.truncate(0)
        self.out.seek(0)
        lm_cron.status(self.dir.name)
        printed = json.loads(self.out.getvalue())
        self.assertEqual(printed["adminGuard"]["replaced"], 1)
        self.assertEqual(printed["jobs"], {})


class ClockTest(Quiet):
    def test_the_wall_clock_unless_a_test_clock_is_given(self):
        wall = lm_cron.Clock(None)
        self.assertAlmostEqual(wall.now(), time.time(), delta=1)
        self.assertEqual(lm_cron.Clock("").speed, 1)
        since = int(time.time()) - 10
        fast = lm_cron.Clock("6x@%d" % since)
        self.assertAlmostEqual(fast.now(), since + 60, delta=6)
        self.assertIn("TEST clock, 6x the wall clock since %d" % since, str(fast))

    def test_a_malformed_test_clock_stops_the_scheduler_with_a_reason(self):
        for bad in ("6", "x@1", "0.5x@1", "100x@1", "6x@%d" % (time.time() + 3600), "fastx@1", "6x@soon"):
            with self.assertRaisesRegex(ValueError, "LM_CRON_CLOCK=.*must be <speed>x@<epoch seconds>"):
                lm_cron.Clock(bad)
        jobs = json.dumps([{"name": "a", "schedule": "* * * * *", "command": "true"}])
        os.environ[lm_cron.CLOCK_ENV] = "6"
        try:
            with mock.patch.dict(os.environ, {"TZ": "UTC"}):
                self.assertEqual(lm_cron.main(["--jobs", jobs]), 2)
        finally:
            del os.environ[lm_cron.CLOCK_ENV]
        self.assertIn("for tests only, unset it for real stacks", self.out.getvalue())

    def test_the_loop_fires_each_tick_of_a_fast_clock_once(self):
        saved = lm_cron.HEALTH_FILE
        lm_cron.HEALTH_FILE = os.path.join(self.dir.name, "health.json")
        log = os.path.join(self.dir.name, "ticks.log")
        s = lm_cron.Scheduler([job("ticks", "* * * * *", 'echo "$LM_JOB_TICK" >> %s' % log)], self.dir.name,
                              self.dir.name, "a", "v", lm_cron.Clock("60x@%d" % (time.time() - 1)))
        loop = threading.Thread(target=s.loop)
        try:
            loop.start()
            time.sleep(3.5)  # 3.5 minutes on the clock
        finally:
            s.stopping.set()
            loop.join(10)
            lm_cron.HEALTH_FILE = saved
        with open(log) as f:
            minutes = [lm_cron.minute_of(datetime.fromisoformat(t).timestamp()) for t in f.read().split()]
        self.assertGreaterEqual(len(minutes), 3)
        self.assertEqual(minutes, list(range(minutes[0], minutes[0] + len(minutes))))
        self.assertIn("on a TEST clock, 60x", self.out.getvalue())


class HealthTest(Quiet):
    def setUp(self):
        super().setUp()
        self.saved = lm_cron.HEALTH_FILE, lm_cron.HEALTH_ARMED
        lm_cron.HEALTH_FILE = os.path.join(self.dir.name, "health.json")
        lm_cron.HEALTH_ARMED = os.path.join(self.dir.name, "armed")

    def tearDown(self):
        lm_cron.HEALTH_FILE, lm_cron.HEALTH_ARMED = self.saved
        super().tearDown()

    def test_a_failure_counts_only_once_healthy_and_until_the_job_succeeds(self):
        s = self.scheduler("a", [])
        s.failed = {"bad": "2026-11-30T10:00+01:00"}
        s.write_health()
        self.assertEqual(lm_cron.health(), 0)  # first check: not armed yet (a deploy's wait passes)
        self.assertEqual(lm_cron.health(), 1)
        s.failed = {}
        s.write_health()
        self.assertEqual(lm_cron.health(), 0)

    def test_a_silent_loop_is_unhealthy(self):
        s = self.scheduler("a", [])
        s.write_health()
        with open(lm_cron.HEALTH_FILE) as f:
            h = json.load(f)
        h["heartbeat"] -= 120
        with open(lm_cron.HEALTH_FILE, "w") as f:
            json.dump(h, f)
        self.assertEqual(lm_cron.health(), 1)


if __name__ == "__main__":
    unittest.main()
