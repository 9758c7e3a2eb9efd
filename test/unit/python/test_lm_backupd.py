"""Unit tests of containers/runtime/backups/lm_backupd.py and lm_backup.py's failure paths: copy folders keep
their own retention and never another volume's copies, a folder must be set up on purpose, a failed backup
leaves nothing and backs off, a full disk refuses before writing, a backup dated in the future neither stops
the schedule nor stays unreported (run by test/unit/jobs.test.ts; on the real engine: test/e2e/disaster*.test.ts)."""

import datetime
import io
import os
import sqlite3
import stat
import sys
import tempfile
import types
import unittest
from unittest import mock
from contextlib import redirect_stdout

RUNTIME = os.path.join(os.path.dirname(__file__), "..", "..", "..", "containers", "runtime")
sys.path[:0] = [os.path.join(RUNTIME, role) for role in ("app", "deploy", "jobs", "backups")]
import lm_backup  # noqa: E402
import lm_backupd  # noqa: E402


def stamp(dt):
    return dt.strftime("%Y%m%dT%H%M%S%fZ")


class Volume:
    """A backups volume with a live database, a copy folder, and lm_backupd's config for them."""

    def __init__(self, root, name, folder, keep=3):
        self.dir = os.path.join(root, name)
        self.live = os.path.join(root, name + "-live")
        os.makedirs(self.live)
        self.db = os.path.join(self.live, "lernmanager.db")
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE t (x)")
        con.commit()
        con.close()
        self.cfg = {"stem": "lernmanager", "backups": self.dir, "keep": keep, "retention": "", "database": self.db,
                    "everySeconds": 60, "uploads": ""}
        self.folder = folder

    def backup(self, when):
        os.makedirs(self.dir, exist_ok=True)
        path = os.path.join(self.dir, f"lernmanager-{stamp(when)}-scheduled.db")
        lm_backup.copy_atomically(self.db, path)
        lm_backup.prune(self.dir, "lernmanager", self.cfg["keep"], {})
        return os.path.basename(path)

    def copy(self):
        return lm_backupd.copy_to_folder(self.cfg, "/mnt/nas", self.folder)


def names(folder):
    return sorted(os.path.basename(p) for p in lm_backup.backups(folder, "lernmanager"))


class CopyFolders(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        self.nas = os.path.join(self.root, "nas")
        os.makedirs(self.nas)
        self.t0 = datetime.datetime(2026, 12, 1, 8, 0, tzinfo=datetime.timezone.utc)

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_folder_without_the_marker_is_refused_empty_or_not(self):
        v = Volume(self.root, "a", self.nas)
        v.backup(self.t0)
        with self.assertRaisesRegex(RuntimeError, r"/mnt/nas is empty but has no \.lernmanager-backup-target: .*init-target"):
            v.copy()
        self.assertEqual(os.listdir(self.nas), [])
        with open(os.path.join(self.nas, "x"), "w"):
            pass
        with self.assertRaisesRegex(RuntimeError, "has files but has no"):
            v.copy()
        self.assertEqual(lm_backupd.init_target(self.nas, "/mnt/nas"), 0)
        self.assertEqual(stat.S_IMODE(os.stat(self.nas).st_mode), 0o700)
        self.assertEqual(v.copy()["copied"], 1)

    def test_a_new_server_never_prunes_the_old_servers_copies(self):
        lm_backupd.init_target(self.nas, "/mnt/nas")
        old = Volume(self.root, "old", self.nas)
        for i in range(5):
            old.backup(self.t0 + datetime.timedelta(minutes=i))
            old.copy()
        before = names(self.nas)
        self.assertEqual(before, names(old.dir))  # keep 3: the target's own retention prunes alike
        # The server dies; a new one (empty volume) backs up its empty database more often than keep.
        new = Volume(self.root, "new", self.nas)
        fresh = []
        for i in range(6):
            fresh.append(new.backup(self.t0 + datetime.timedelta(hours=1, minutes=i)))
            new.copy()
        there = names(self.nas)
        for n in before:
            self.assertIn(n, there)
        # The new volume's own copies follow its retention there (3), but never below its local set.
        self.assertEqual(sorted(set(there) - set(before)), sorted(fresh[-3:]))
        for p in lm_backup.backups(new.dir, "lernmanager"):
            self.assertIn(os.path.basename(p), there)

    def test_two_stacks_on_one_target_never_touch_each_others_copies(self):
        lm_backupd.init_target(self.nas, "/mnt/nas")
        a, b = Volume(self.root, "a", self.nas, keep=2), Volume(self.root, "b", self.nas, keep=2)
        for i in range(5):
            a.backup(self.t0 + datetime.timedelta(minutes=2 * i))
            a.copy()
            b.backup(self.t0 + datetime.timedelta(minutes=2 * i + 1))
            b.copy()
        there = names(self.nas)
        for v in (a, b):
            for p in lm_backup.backups(v.dir, "lernmanager"):
                self.assertIn(os.path.basename(p), there)
        self.assertEqual(len(there), 4)  # each pruned its own to 2

    def test_copies_are_private(self):
        lm_backupd.init_target(self.nas, "/mnt/nas")
        v = Volume(self.root, "a", self.nas)
        os.umask(lm_backup.PRIVATE_UMASK)
        up = os.path.join(self.root, "uploads")
        os.makedirs(os.path.join(up, "c1"))
        with open(os.path.join(up, "c1", "a.txt"), "w") as f:
            f.write("x")
        os.chmod(os.path.join(up, "c1", "a.txt"), 0o644)
        v.cfg["uploads"] = up
        args = types.SimpleNamespace(database=v.db, dir=v.dir, keep=3, retention="", label="manual", done_file="", uploads=up)
        info = lm_backup.take_backup(args)
        v.copy()
        for base in (v.dir, self.nas):
            target = os.path.join(base, os.path.basename(info["file"]))
            self.assertEqual(stat.S_IMODE(os.stat(target).st_mode), 0o600)
            self.assertEqual(stat.S_IMODE(os.stat(target + ".uploads/c1/a.txt").st_mode), 0o600)
            self.assertEqual(stat.S_IMODE(os.stat(target + ".uploads/c1").st_mode), 0o700)


class FakeSealer:
    """Stands in for age (not on every test machine): "encrypts" by reversing the bytes."""

    def __init__(self, recipients):
        self.recipients = recipients

    def seal(self, source, target):
        with open(source, "rb") as f:
            data = f.read()
        with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(b"AGE" + data[::-1])

    def close(self):
        pass


class EncryptedCopies(unittest.TestCase):
    def test_every_file_leaves_encrypted_and_unchanged_uploads_are_linked(self):
        with tempfile.TemporaryDirectory() as root, mock.patch.object(lm_backup, "Sealer", FakeSealer):
            nas = os.path.join(root, "nas")
            os.makedirs(nas)
            lm_backupd.init_target(nas, "/mnt/nas")
            v = Volume(root, "a", nas)
            v.cfg["encryptTo"] = ["age1" + "q" * 58]
            up = os.path.join(root, "uploads")
            os.makedirs(os.path.join(up, "c1"))
            with open(os.path.join(up, "c1", "a.txt"), "w") as f:
                f.write("bericht")
            args = types.SimpleNamespace(database=v.db, dir=v.dir, keep=3, retention="", label="manual", done_file="", uploads=up)
            first = os.path.basename(lm_backup.take_backup(args)["file"])
            v.copy()
            second = os.path.basename(lm_backup.take_backup(args)["file"])
            self.assertEqual(v.copy()["copied"], 1)
            for name in (first, second):
                self.assertFalse(os.path.exists(os.path.join(nas, name)))
                with open(os.path.join(nas, name + ".age"), "rb") as f, open(os.path.join(v.dir, name), "rb") as g:
                    self.assertEqual(f.read(), b"AGE" + g.read()[::-1])
                self.assertTrue(os.path.isfile(os.path.join(nas, name + ".uploads", "c1", "a.txt.age")))
            a, b = (os.stat(os.path.join(nas, n + ".uploads", "c1", "a.txt.age")) for n in (first, second))
            self.assertTrue(os.path.samestat(a, b))
            self.assertEqual(lm_backupd.copies_in(nas, "lernmanager"), {first, second})
            lm_backupd.remove_copy(nas, first)
            self.assertEqual(lm_backupd.copies_in(nas, "lernmanager"), {second})


class FailingBackups(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.v = Volume(self.tmp.name, "a", None)
        self.args = types.SimpleNamespace(database=self.v.db, dir=self.v.dir, keep=3, retention="", label="scheduled",
                                          done_file="", uploads="")

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_failed_backup_leaves_nothing(self):
        with mock.patch.object(lm_backup, "_write_backup", side_effect=OSError(28, "No space left on device")):
            with self.assertRaises(OSError):
                lm_backup.take_backup(self.args)
        self.assertEqual([n for n in os.listdir(self.v.dir) if not n.startswith(".")], [])
        real = lm_backup.snapshot

        def broken(source, target, previous=None):
            os.makedirs(target + ".partial")
            raise OSError(28, "No space left on device")
        with mock.patch.object(lm_backup, "snapshot", side_effect=broken):
            os.makedirs(os.path.join(self.tmp.name, "up"))
            self.args.uploads = os.path.join(self.tmp.name, "up")
            with self.assertRaises(OSError):
                lm_backup.take_backup(self.args)
        self.assertIsNotNone(real)
        self.assertEqual(os.listdir(self.v.dir), [])

    def test_too_little_space_refuses_before_writing(self):
        with mock.patch.object(lm_backup.shutil, "disk_usage", return_value=types.SimpleNamespace(free=1024, total=10**9)):
            with self.assertRaisesRegex(lm_backup.NoSpace, r"not enough free space in .* KiB needed .* 1 KiB free; nothing was written"):
                lm_backup.take_backup(self.args)
        self.assertFalse(os.path.exists(self.v.dir) and os.listdir(self.v.dir))

    def test_a_failure_backs_off_minutes_and_is_reported(self):
        status = {}
        with mock.patch.object(lm_backup, "take_backup", side_effect=lm_backup.NoSpace("not enough free space")):
            self.assertFalse(lm_backupd.cycle(self.v.cfg, "scheduled", status))
            self.assertFalse(lm_backupd.cycle(self.v.cfg, "scheduled", status))
        self.assertEqual(status["failures"], 2)
        wait = (datetime.datetime.fromisoformat(status["retryAfter"]) - lm_backupd.now()).total_seconds()
        self.assertGreater(wait, 590)
        self.assertEqual([lm_backupd.backoff_seconds(n) for n in (1, 2, 3, 5, 9)], [300, 600, 1200, 3600, 3600])
        os.makedirs(self.v.dir, exist_ok=True)
        lm_backupd.write_json(os.path.join(self.v.dir, lm_backupd.STATUS_NAME), status)
        self.assertIsNone(lm_backupd.due(self.v.cfg))
        # A backup taken meanwhile (before a deploy) is still drilled; no scheduled one while backing off.
        self.v.backup(lm_backupd.now() - datetime.timedelta(hours=1))
        self.assertEqual(lm_backupd.due(self.v.cfg), "drill")
        self.assertIn("the last backup failed: not enough free space", lm_backupd.health(self.v.cfg))

    def test_a_backup_dated_in_the_future_neither_stops_the_schedule_nor_goes_unreported(self):
        now = lm_backupd.now()
        self.v.backup(now - datetime.timedelta(seconds=120))
        future = self.v.backup(now + datetime.timedelta(days=1))
        self.assertEqual(lm_backupd.due(self.v.cfg), "scheduled")
        problems = [p for p in lm_backupd.health(self.v.cfg) if "future" in p]
        self.assertEqual(len(problems), 1)
        self.assertIn(future, problems[0])
        # Only future backups (the clock went back): elapsed time since the loop's last backup decides.
        os.remove(os.path.join(self.v.dir, sorted(os.listdir(self.v.dir))[0]))
        self.assertEqual(lm_backupd.due(self.v.cfg, None), "scheduled")
        self.assertIsNone(lm_backupd.due(self.v.cfg, 10))
        self.assertEqual(lm_backupd.due(self.v.cfg, 61), "scheduled")


class TestSpeed(unittest.TestCase):
    """The loop's test clock (LM_BACKUPD_SPEED): the schedule's interval and poll divided."""

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
        self.assertNotEqual(lm_backupd.due(self.cfg, None, 2), "scheduled")  # 20 s < 60/2
        self.assertEqual(lm_backupd.due(self.cfg, None, 6), "scheduled")  # 20 s >= 60/6

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



class FolderSnapshotsInCopies(unittest.TestCase):
    def test_a_copy_folder_gets_each_persistent_folder_and_prunes_it_with_its_backup(self):
        with tempfile.TemporaryDirectory() as root:
            nas = os.path.join(root, "nas")
            os.makedirs(nas)
            open(os.path.join(nas, lm_backupd.COPY_MARKER), "w").close()
            v = Volume(root, "a", nas, keep=1)
            t0 = datetime.datetime(2026, 12, 1, 8, 0, tzinfo=datetime.timezone.utc)
            first = v.backup(t0)
            os.makedirs(os.path.join(v.dir, first + ".keep-instance-reports"))
            with open(os.path.join(v.dir, first + ".keep-instance-reports", "r.pdf"), "w") as f:
                f.write("report")
            v.copy()
            with open(os.path.join(nas, first + ".keep-instance-reports", "r.pdf")) as f:
                self.assertEqual(f.read(), "report")
            second = v.backup(t0 + datetime.timedelta(hours=1))
            v.copy()
            self.assertEqual(names(nas), [second])
            self.assertFalse(os.path.exists(os.path.join(nas, first + ".keep-instance-reports")))


if __name__ == "__main__":
    unittest.main()
