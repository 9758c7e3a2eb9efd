"""Unit tests of containers/import/lm_import.py as the old server's admin user runs it on an install
deploy/setup.sh made: the database and its folder belong to the service user, the app is stopped,
.env is root's with mode 600 (run by test/unit/jobs.test.ts)."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "containers", "import", "lm_import.py")
NOBODY = 65534


def as_other_user(code, cwd):
    """Runs `code` in a child that is not the files' owner (nobody when we are root)."""
    def drop():
        if os.getuid() == 0:
            os.setgid(NOBODY)
            os.setuid(NOBODY)

    # Another user may not reach a Python under root's home (pyenv): the system's then.
    python = "/usr/bin/python3" if os.getuid() == 0 and os.path.exists("/usr/bin/python3") else sys.executable
    return subprocess.run([python, "-c", code], cwd=cwd, preexec_fn=drop, capture_output=True, text=True)


class OldInstall(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="lm-old-")
        os.chmod(self.root, 0o755)
        data = os.path.join(self.root, "data")
        os.mkdir(data)
        self.db = os.path.join(data, "mbi_tracker.db")
        conn = sqlite3.connect(self.db)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO users (name) VALUES (?)", [("a",), ("b",), ("c",)])
        conn.commit()
        conn.close()  # the app stopped: its last connection checkpointed and removed -wal and -shm
        with open(os.path.join(self.root, ".env"), "w") as f:
            f.write("SCHOOL_NAME=Walde\n")
        # Owner-only writes, as setup.sh leaves them; .env readable by its owner only.
        os.chmod(data, 0o755)
        os.chmod(self.db, 0o644)
        os.chmod(os.path.join(self.root, ".env"), 0o600)
        if os.getuid() != 0:
            os.chmod(data, 0o555)
            os.chmod(os.path.join(self.root, ".env"), 0o000)
        self.addCleanup(self.cleanup)

    def cleanup(self):
        for dirpath, dirnames, _ in os.walk(self.root):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(self.root, ignore_errors=True)

    def pack(self):
        code = (
            "import io, sys, tarfile\n"
            f"sys.path.insert(0, {os.path.dirname(os.path.abspath(SCRIPT))!r})\n"
            "import lm_import\n"
            "out = io.BytesIO()\n"
            "sys.stdout = type('O', (), {'buffer': out, 'write': lambda s, x: None, 'flush': lambda s: None})()\n"
            f"lm_import.pack({self.root!r}, ['data'])\n"
            "sys.__stdout__.write(str(len(out.getvalue())))\n"
        )
        return as_other_user(code, tempfile.gettempdir())

    def summary(self, stderr):
        line = [l for l in stderr.splitlines() if l.startswith("LMIMPORT ")][-1]
        return json.loads(line[len("LMIMPORT "):])

    def test_a_stopped_apps_database_is_copied_by_a_user_who_cannot_write_its_folder(self):
        r = self.pack()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.summary(r.stderr)["databases"]["data/mbi_tracker.db"], {"users": 3})

    def test_a_root_only_env_is_reported_and_the_data_still_copied(self):
        r = self.pack()
        self.assertEqual(r.returncode, 0, r.stderr)
        s = self.summary(r.stderr)
        self.assertIsNone(s["env"])
        self.assertIn("readable by root only", s["env_error"])
        self.assertEqual(s["files"], 1)

    def test_writes_left_in_a_wal_file_stop_the_copy_with_the_reason(self):
        with open(self.db + "-wal", "wb") as f:
            f.write(b"\0" * 32)
        r = self.pack()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("-wal file still holds writes", r.stderr)


class DataOnAnotherDisk(unittest.TestCase):
    """data/ a symlink to a folder on another disk; target folders under dataHostPath with its marker."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lm-disk-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        sys.path.insert(0, os.path.dirname(os.path.abspath(SCRIPT)))
        import lm_import
        self.m = lm_import

    def test_a_symlinked_data_folder_is_packed_as_a_folder_with_its_files(self):
        disk = os.path.join(self.tmp, "disk", "data")
        os.makedirs(disk)
        with open(os.path.join(disk, "migrations_done.txt"), "w") as f:
            f.write("migrate_001.py\n")
        root = os.path.join(self.tmp, "opt")
        os.makedirs(root)
        os.symlink(disk, os.path.join(root, "data"))
        code = (
            "import io, sys, tarfile\n"
            f"sys.path.insert(0, {os.path.dirname(os.path.abspath(SCRIPT))!r})\n"
            "import lm_import\n"
            "out = io.BytesIO()\n"
            "sys.stdout = type('O', (), {'buffer': out, 'write': lambda s, x: None, 'flush': lambda s: None})()\n"
            f"lm_import.pack({root!r}, ['data'])\n"
            "members = tarfile.open(fileobj=io.BytesIO(out.getvalue())).getmembers()\n"
            "sys.__stdout__.write(repr([(m.name, m.isdir(), m.isfile()) for m in members]))\n"
        )
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(eval(r.stdout), [("data", True, False), ("data/migrations_done.txt", False, True)])

    def test_the_disk_marker_is_neither_counted_nor_removed(self):
        d = os.path.join(self.tmp, "data")
        os.makedirs(d)
        open(os.path.join(d, self.m.MARKER), "w").close()
        self.assertEqual(self.m.contents(d), [])
        open(os.path.join(d, "old.db"), "w").close()
        self.m.clear(d)
        self.assertEqual(os.listdir(d), [self.m.MARKER])


if __name__ == "__main__":
    unittest.main()
