"""Unit tests of containers/runtime/deploy/lm_admin.py (run with the other Python tests by test/unit/jobs.test.ts).

The Lernmanager stores werkzeug >= 2.3 scrypt hashes (scrypt:N:r:p$salt$hex); the app image's
werkzeug (Debian bookworm, 2.2) cannot check those, so lm_admin.py does it itself.
"""

import hashlib
import os
import sqlite3
import sys
import tempfile
import unittest

# The runtime image puts every role's helpers in one folder; here each role has its own.
RUNTIME = os.path.join(os.path.dirname(__file__), "..", "..", "..", "containers", "runtime")
sys.path[:0] = [os.path.join(RUNTIME, role) for role in ("app", "deploy", "jobs", "backups")]
import lm_admin  # noqa: E402


def scrypt_hash(password, salt="abcdefgh12345678", n=2**14, r=8, p=1):
    made = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p).hex()
    return "scrypt:%d:%d:%d$%s$%s" % (n, r, p, salt, made)


class ScryptTest(unittest.TestCase):
    def test_verifies_scrypt_hashes(self):
        stored = scrypt_hash("admin")
        self.assertTrue(lm_admin.verifies(stored, "admin"))
        self.assertFalse(lm_admin.verifies(stored, "Admin"))
        self.assertFalse(lm_admin.verifies("scrypt:broken", "admin"))

    def test_replaces_a_default_scrypt_password_once(self):
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "lm.db")
            conn = sqlite3.connect(db)
            conn.execute("CREATE TABLE admin (id INTEGER PRIMARY KEY, username TEXT, password_hash TEXT)")
            conn.execute("INSERT INTO admin (username, password_hash) VALUES ('admin', ?)", (scrypt_hash("admin"),))
            conn.commit()
            conn.close()
            args = (db, "admin", "username", "password_hash", "admin", "admin")
            self.assertEqual(lm_admin.replace_default(*args, "generated-1"), 0)
            (stored,) = sqlite3.connect(db).execute("SELECT password_hash FROM admin").fetchone()
            self.assertTrue(lm_admin.verifies(stored, "generated-1"))
            self.assertFalse(lm_admin.verifies(stored, "admin"))
            # Not the default any more: a second run leaves it alone.
            self.assertEqual(lm_admin.replace_default(*args, "generated-2"), 0)
            (again,) = sqlite3.connect(db).execute("SELECT password_hash FROM admin").fetchone()
            self.assertEqual(again, stored)


if __name__ == "__main__":
    unittest.main()
