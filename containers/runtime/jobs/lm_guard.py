"""Between deploys, the default admin password must not come back: the scheduler's admin guard.

The app's init_app() creates `admin`/`admin` whenever no user of that NAME exists (Lernmanager:
app.py, models.create_admin). The deploy's migrate step replaces that password once (lm_admin.py),
but a school that renames its admin brings the default back with the next init_app(): every
gunicorn worker start (a restart, a worker recycled after a crash) and every
`flask --app app auto-attendance` run. Until the next deploy, anyone could log in as admin/admin.

The scheduler (lm_cron.py) runs AdminGuard.check() once per minute of its clock and after every job:
a row of `username` whose hash verifies the default password gets the hash of a random password
nobody knows (never printed, never stored), in a compare-and-set update (only the hash it checked).
The recreated user is then locked out; the school's admin is the renamed user, who can set a
password for `admin` in the app if it is wanted. A hash already seen not to verify is not checked
again, so the minute's check costs one SELECT, not a scrypt verify.
"""
import os
import secrets
import sqlite3

SEEN_KEPT = 100


class AdminGuard:
    def __init__(self, database, table, user_column, hash_column, username, default_password):
        import lm_admin  # the deploy's helper: its verify (scrypt too) and identifier quoting

        self.lm_admin = lm_admin
        self.database, self.username, self.default = database, username, default_password
        self.select = "SELECT %s FROM %s WHERE %s = ?" % (
            lm_admin.quoted(hash_column), lm_admin.quoted(table), lm_admin.quoted(user_column))
        self.update = "UPDATE %s SET %s = ? WHERE %s = ? AND %s = ?" % (
            lm_admin.quoted(table), lm_admin.quoted(hash_column), lm_admin.quoted(user_column),
            lm_admin.quoted(hash_column))
        self.seen = []
        self.problem = None

    @classmethod
    def from_spec(cls, spec):
        return cls(spec["database"], spec["table"], spec["usernameColumn"], spec["hashColumn"],
                   spec["username"], spec["defaultPassword"])

    def check(self):
        """The number of rows whose default password was replaced now (0: nothing to do). A missing
        database or table is no error here (a fresh stack before its first init); `problem` says it."""
        if not os.path.exists(self.database):
            self.problem = "no database at %s yet" % self.database
            return 0
        conn = sqlite3.connect(self.database, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            try:
                hashes = [h for (h,) in conn.execute(self.select, (self.username,))]
            except sqlite3.OperationalError as e:  # no such table or column
                self.problem = str(e)
                return 0
            self.problem = None
            fresh = [h for h in hashes if h not in self.seen]
            stale = [h for h in fresh if self.lm_admin.verifies(h, self.default)]
            self.seen = (self.seen + [h for h in fresh if h not in stale])[-SEEN_KEPT:]
            if not stale:
                return 0
            from werkzeug.security import generate_password_hash

            replaced = 0
            conn.execute("BEGIN IMMEDIATE")
            for h in stale:
                replaced += conn.execute(
                    self.update, (generate_password_hash(secrets.token_urlsafe(24)), self.username, h)).rowcount
            conn.execute("COMMIT")
            return replaced
        finally:
            conn.close()
