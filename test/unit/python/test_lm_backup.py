"""Unit tests of containers/runtime/backups/lm_backup.py: retention and uploads snapshots (run by test/unit/jobs.test.ts)."""

import datetime
import os
import sys
import tempfile
import unittest

# The runtime image puts every role's helpers in one folder; here each role has its own.
RUNTIME = os.path.join(os.path.dirname(__file__), "..", "..", "..", "containers", "runtime")
sys.path[:0] = [os.path.join(RUNTIME, role) for role in ("app", "deploy", "jobs", "backups")]
import lm_backup  # noqa: E402


def name(stamp, label="scheduled"):
    return f"/b/lm-{stamp}000000Z-{label}.db"


class Retention(unittest.TestCase):
    def test_newest_plus_one_per_hour_day_week(self):
        # Every 30 minutes over 3 days.
        paths = [name(f"202611{d:02d}T{h:02d}{m:02d}00") for d in (28, 29, 30) for h in range(24) for m in (0, 30)]
        kept = lm_backup.to_keep(paths, 3, {"hourly": 4, "daily": 2, "weekly": 1})
        expected = {name(s) for s in ("20261130T233000", "20261130T230000", "20261130T223000",  # newest 3
                                      "20261130T213000", "20261130T203000",  # + hours 21, 20
                                      "20261129T233000")}  # + the previous day; the week: the newest
        self.assertEqual(kept, expected)

    def test_weekly_keeps_the_newest_of_each_iso_week(self):
        # One backup a day at noon, Monday 2026-11-02 to Wednesday 2026-12-02 (ISO weeks 45 to 49).
        days = [datetime.date(2026, 11, 2) + datetime.timedelta(days=i) for i in range(31)]
        paths = [name(d.strftime("%Y%m%dT120000")) for d in days]
        kept = lm_backup.to_keep(paths, 1, {"hourly": 0, "daily": 0, "weekly": 3})
        # The newest (Wed 2 Dec, week 49), then the newest of weeks 48 and 47: their Sundays.
        self.assertEqual(kept, {name(s) for s in ("20261202T120000", "20261129T120000", "20261122T120000")})

    def test_daily_keeps_the_newest_of_each_utc_day(self):
        paths = [name(f"202611{d:02d}T{h:02d}0000") for d in (27, 28, 29, 30) for h in range(0, 24, 6)]
        kept = lm_backup.to_keep(paths, 1, {"hourly": 0, "daily": 3, "weekly": 0})
        self.assertEqual(kept, {name(s) for s in ("20261130T180000", "20261129T180000", "20261128T180000")})

    def test_keep_counts_the_newest_whatever_their_age(self):
        paths = [name(f"202611{d:02d}T120000") for d in range(1, 31)]
        none = {"hourly": 0, "daily": 0, "weekly": 0}
        self.assertEqual(lm_backup.to_keep(paths, 5, none), set(sorted(paths)[-5:]))
        self.assertEqual(lm_backup.to_keep(paths, 1, none), {paths[-1]})

    def test_nothing_but_the_newest(self):
        paths = [name(f"20261130T{h:02d}0000") for h in range(10)]
        self.assertEqual(lm_backup.to_keep(paths, 2, {"hourly": 0, "daily": 0, "weekly": 0}), set(sorted(paths)[-2:]))

    def test_parse(self):
        self.assertEqual(lm_backup.parse_retention("hourly=2,weekly=1"), {"hourly": 2, "daily": 0, "weekly": 1})
        with self.assertRaises(ValueError):
            lm_backup.parse_retention("monthly=1")


class Snapshot(unittest.TestCase):
    def test_unchanged_files_are_linked_changed_ones_copied(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "uploads")
            os.makedirs(os.path.join(src, "a"))
            for f, text in (("a/one.txt", "1"), ("two.txt", "2")):
                with open(os.path.join(src, f), "w") as fh:
                    fh.write(text)
            first = lm_backup.snapshot(src, os.path.join(d, "s1"))
            self.assertEqual((first["files"], first["copied"], first["linked"]), (2, 2, 0))
            with open(os.path.join(src, "two.txt"), "w") as fh:
                fh.write("changed!")
            second = lm_backup.snapshot(src, os.path.join(d, "s2"), os.path.join(d, "s1"))
            self.assertEqual((second["copied"], second["linked"]), (1, 1))
            self.assertEqual(os.stat(os.path.join(d, "s1/a/one.txt")).st_ino, os.stat(os.path.join(d, "s2/a/one.txt")).st_ino)
            with open(os.path.join(d, "s2/two.txt")) as fh:
                self.assertEqual(fh.read(), "changed!")


class PersistentFolders(unittest.TestCase):
    """A backup keeps each persistent folder (--folder SLUG=DIR) as <backup>.keep-<slug>, prunes it with
    the backup, and a restore gives the uploads and the folders exactly the snapshot's files back."""

    def setUp(self):
        import sqlite3
        from unittest import mock
        patch = mock.patch.dict(os.environ, {"LM_INIT_MARKER": ".lernmanager-init"})
        patch.start()
        self.addCleanup(patch.stop)
        self.tmp = tempfile.TemporaryDirectory()
        d = self.tmp.name
        self.db, self.dir = os.path.join(d, "lm.db"), os.path.join(d, "backups")
        self.uploads, self.reports = os.path.join(d, "uploads"), os.path.join(d, "reports")
        for folder in (self.uploads, os.path.join(self.reports, "2026")):
            os.makedirs(folder)
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE t (x)")
        con.execute("INSERT INTO t VALUES ('before')")
        con.commit()
        con.close()
        self.write(self.uploads, "a.txt", "upload")
        self.write(os.path.join(self.reports, "2026"), "w49.pdf", "report")

    def tearDown(self):
        self.tmp.cleanup()

    @staticmethod
    def write(folder, name, text):
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)

    def args(self, **kw):
        import types
        base = dict(database=self.db, dir=self.dir, keep=1, retention="", label="scheduled", done_file="",
                    uploads=self.uploads, folders=[f"instance-reports={self.reports}"])
        return types.SimpleNamespace(**{**base, **kw})

    def test_backup_keeps_the_folder_and_prune_removes_it(self):
        import time
        first = lm_backup.take_backup(self.args())["file"]
        self.assertEqual(lm_backup.snapshot_suffixes(first), [".uploads", ".keep-instance-reports"])
        with open(first + ".keep-instance-reports/2026/w49.pdf") as f:
            self.assertEqual(f.read(), "report")
        self.assertEqual(os.stat(first + ".keep-instance-reports/2026/w49.pdf").st_mode & 0o777, 0o600)
        time.sleep(0.01)
        second = lm_backup.take_backup(self.args())
        self.assertEqual(second["folders"]["instance-reports"]["linked"], 1)
        self.assertFalse(os.path.exists(first + ".keep-instance-reports"))
        self.assertFalse(os.path.exists(first))

    def test_restore_puts_the_uploads_and_folders_back_exactly(self):
        import sqlite3
        import types
        made = lm_backup.take_backup(self.args())["file"]
        self.write(self.uploads, "later.txt", "after the backup")
        self.write(self.uploads, "a.txt", "changed")
        self.write(os.path.join(self.reports, "2026"), "w50.pdf", "later")
        restored = lm_backup.restore(types.SimpleNamespace(
            database=self.db, dir=self.dir, source=os.path.basename(made), done_file="",
            uploads=self.uploads, folders=[f"instance-reports={self.reports}"]))
        self.assertEqual(restored, 0)
        self.assertEqual(sorted(os.listdir(self.uploads)), ["a.txt"])
        with open(os.path.join(self.uploads, "a.txt")) as f:
            self.assertEqual(f.read(), "upload")
        self.assertEqual(os.listdir(os.path.join(self.reports, "2026")), ["w49.pdf"])
        # Readable by nginx's own user (it serves the uploads), as the app writes them.
        self.assertEqual(os.stat(os.path.join(self.uploads, "a.txt")).st_mode & 0o777, 0o644)
        self.assertEqual(os.stat(os.path.join(self.reports, "2026")).st_mode & 0o777, 0o755)
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT x FROM t").fetchall(), [("before",)])
        con.close()

    def test_a_backup_without_snapshots_leaves_the_folders_as_they_are(self):
        import types
        made = lm_backup.take_backup(self.args(uploads="", folders=[]))["file"]
        self.write(self.uploads, "later.txt", "kept")
        lm_backup.restore(types.SimpleNamespace(database=self.db, dir=self.dir, source=made, done_file="",
                                                uploads=self.uploads, folders=[f"instance-reports={self.reports}"]))
        self.assertIn("later.txt", os.listdir(self.uploads))

    def test_a_bad_folder_argument_names_the_form(self):
        with self.assertRaisesRegex(ValueError, "SLUG=DIR"):
            lm_backup.parse_folders(["Instance/Reports=/x"])


class BackupWhileTheAppWrites(unittest.TestCase):
    """A backup taken while another process commits steadily (the app's workers during a lesson)."""

    # Commits one row at a time, a new connection each (as the app does), until the stop file exists
    # or 60 s passed; prints its number of commits.
    WRITER = (
        "import os, sqlite3, sys, time\n"
        "end = time.monotonic() + 60\n"
        "n = 0\n"
        "while time.monotonic() < end and not os.path.exists(sys.argv[2]):\n"
        "    c = sqlite3.connect(sys.argv[1], timeout=5)\n"
        "    c.execute('INSERT INTO writes (at) VALUES (?)', (time.time(),))\n"
        "    c.commit()\n"
        "    c.close()\n"
        "    n += 1\n"
        "print(n)\n"
    )

    def test_a_large_database_is_copied_while_another_process_goes_on_committing(self):
        import argparse
        import sqlite3
        import subprocess
        import time

        with tempfile.TemporaryDirectory() as tmp:
            db, stop = os.path.join(tmp, "app.db"), os.path.join(tmp, "stop")
            c = sqlite3.connect(db)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("CREATE TABLE writes (id INTEGER PRIMARY KEY, at REAL)")
            c.execute("CREATE TABLE pages (b BLOB)")
            # About 160 MB: a copy in pieces of 1,024 pages has about 40 gaps for a commit to fall in.
            c.executemany("INSERT INTO pages VALUES (randomblob(4000))", [()] * 40000)
            c.commit()
            c.close()
            writer = subprocess.Popen([sys.executable, "-c", self.WRITER, db, stop], stdout=subprocess.PIPE, text=True)
            try:
                # Until a commit of the writer is visible to another connection: a -wal file that is
                # not empty is not enough (its frames are written before the commit frame, and a backup
                # that begins in between copies no row: seen once in a fresh-clone run).
                while True:
                    probe = sqlite3.connect(db, timeout=5)
                    try:
                        if probe.execute("SELECT count(*) FROM writes").fetchone()[0] > 0:
                            break
                    finally:
                        probe.close()
                    self.assertIsNone(writer.poll(), "the writer stopped before its first commit")
                    time.sleep(0.01)
                args = argparse.Namespace(database=db, dir=os.path.join(tmp, "backups"), keep=3, retention=None,
                                          label="t", done_file=None)
                info = lm_backup.take_backup(args)
                # In pieces, the copy restarted at every commit between two pieces: it finished only
                # once the writer gave up (after its 60 s).
                self.assertIsNone(writer.poll(), "the backup finished only after the writer stopped committing")
            finally:
                open(stop, "w").close()
                commits = int(writer.communicate(timeout=70)[0])
            copied = sqlite3.connect(info["file"])
            try:
                self.assertEqual(copied.execute("PRAGMA integrity_check").fetchone()[0], "ok")
                self.assertEqual(copied.execute("SELECT count(*) FROM pages").fetchone()[0], 40000)
                self.assertGreater(copied.execute("SELECT count(*) FROM writes").fetchone()[0], 0)
            finally:
                copied.close()
            self.assertGreater(commits, 0)


if __name__ == "__main__":
    unittest.main()
