"""Replaces the app's default admin password with the stack's generated one, while the default still works.

The app's init hook creates its first admin with a well-known password (Lernmanager: admin/admin
in the table `admin`). The migrate deploy step runs this after the init hook and the migrations:
when the admin's stored werkzeug hash still verifies the default password, it is replaced by a
hash of LM_ADMIN_PASSWORD (the stack's generated password, its secret output `adminPassword`).
A password an admin has changed never verifies the default, so it is left as it is. The new
password is read from the environment only and never printed.

Exit codes: 0 replaced or nothing to do; 2 the table or its columns are missing (wrong config).
"""
import argparse
import hashlib
import hmac
import os
import re
import sqlite3
import sys

from werkzeug.security import check_password_hash, generate_password_hash

TAG = "[lernmanager] admin password:"
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def say(text):
    print(f"{TAG} {text}", flush=True)


def quoted(name):
    if not IDENT.match(name):
        raise ValueError(f"not an SQL identifier: {name!r}")
    return f'"{name}"'


def verifies(stored, password):
    try:
        if stored and stored.startswith("scrypt:"):
            # werkzeug >= 2.3's default (scrypt:N:r:p$salt$hex), the Lernmanager's hashes; Debian
            # bookworm's werkzeug 2.2 cannot check them (it raises), which left admin/admin in place.
            method, salt, hashval = stored.split("$", 2)
            n, r, p = (int(x) for x in method.split(":")[1:4])
            made = hashlib.scrypt(
                password.encode("utf-8"), salt=salt.encode("utf-8"), n=n, r=r, p=p, maxmem=132 * n * r * p
            ).hex()
            return hmac.compare_digest(made, hashval)
        return bool(stored) and check_password_hash(stored, password)
    except (ValueError, TypeError):
        # Not a werkzeug hash (e.g. a legacy format): it is not the default we know of.
        return False


def replace_default(database, table, user_column, hash_column, username, default, new):
    """Returns 0 when done (replaced or nothing to replace), 2 when the table or a column is missing."""
    conn = sqlite3.connect(database, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        if not found:
            say(
                f"FAILED: the database has no table {table!r} (after the init hook and the migrations). "
                f"Fix: `pulumi config set adminTable <the app's admin table>`, or `pulumi config set adminTable \"\"` "
                f"to leave the app's default admin password in place."
            )
            return 2
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({quoted(table)})")}
        missing = [c for c in (user_column, hash_column) if c not in columns]
        if missing:
            say(
                f"FAILED: table {table!r} has no column {', '.join(map(repr, missing))} (it has {sorted(columns)}). "
                f"Fix: `pulumi config set adminUsernameColumn ...` / `pulumi config set adminPasswordColumn ...`."
            )
            return 2
        conn.execute("BEGIN IMMEDIATE")
        rows = conn.execute(
            f"SELECT {quoted(hash_column)} FROM {quoted(table)} WHERE {quoted(user_column)} = ?", (username,)
        ).fetchall()
        if not rows:
            conn.execute("ROLLBACK")
            say(f"no user {username!r} in table {table!r}: nothing to replace")
            return 0
        stale = [stored for (stored,) in rows if verifies(stored, default)]
        if not stale:
            conn.execute("ROLLBACK")
            say(f"{username!r} has a password of its own (not the default): left as it is")
            return 0
        for stored in stale:
            # Compare and set: only the row whose hash we checked.
            conn.execute(
                f"UPDATE {quoted(table)} SET {quoted(hash_column)} = ? "
                f"WHERE {quoted(user_column)} = ? AND {quoted(hash_column)} = ?",
                (generate_password_hash(new), username, stored),
            )
        conn.execute("COMMIT")
        say(f"the default password of {username!r} is replaced by the generated one (stack output adminPassword)")
        return 0
    finally:
        conn.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Replaces the default admin password once.")
    parser.add_argument("--database", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--user-column", required=True)
    parser.add_argument("--hash-column", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--default-password", required=True)
    args = parser.parse_args(argv)
    new = os.environ.get("LM_ADMIN_PASSWORD", "")
    if not new:
        say("FAILED: LM_ADMIN_PASSWORD is empty (the deploy step passes the generated password)")
        return 2
    if not os.path.exists(args.database):
        say(f"FAILED: no database at {args.database} (did the init hook run?)")
        return 2
    return replace_default(
        args.database, args.table, args.user_column, args.hash_column, args.username, args.default_password, new
    )


if __name__ == "__main__":
    sys.exit(main())
