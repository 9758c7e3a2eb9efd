# Lernmanager demo app: the SQLite database (schema, connections, first start).
#
# app.py registers close_db on the Flask app and re-exports init_app, the hook
# that must run once before the WSGI server forks (LM_INIT_HOOK=app:init_app).

import os
import random
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from flask import g
import hashlib
import hmac
import secrets
import string

from werkzeug.security import check_password_hash

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(BASE_DIR, "data")
DB_PATH = os.path.join(DATA_DIR, "lernmanager.db")
INSTANCE_DIR = os.path.join(BASE_DIR, "instance")
UPLOAD_DIR = os.path.join(INSTANCE_DIR, "uploads")
# Scratch space (large uploads, imports); the real app writes here too and exports it as TMPDIR.
TMP_DIR = os.path.join(INSTANCE_DIR, "tmp")

DEMO_ADMIN = "admin"
DEMO_STUDENT_PASSWORD = "lernen"
# werkzeug >= 2.3's default, the one the real app's hashes have: scrypt with N=2**15, r=8, p=1 (about
# 32 MiB and tens of ms per login). bookworm's werkzeug 2.2 cannot make these (its method="scrypt"
# fails), so hash_password/verify_password below write and read that format with hashlib.scrypt.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'student')),
    class_id INTEGER REFERENCES classes(id)
);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS progress (
    user_id INTEGER NOT NULL,
    task_id INTEGER NOT NULL,
    done_at TEXT NOT NULL,
    PRIMARY KEY (user_id, task_id)
);
CREATE TABLE IF NOT EXISTS init_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS writes (
    id INTEGER PRIMARY KEY,
    write_id TEXT,
    user_id INTEGER,
    task_id INTEGER,
    at TEXT
);
CREATE INDEX IF NOT EXISTS idx_writes_write_id ON writes (write_id);
CREATE TABLE IF NOT EXISTS analytics_events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    pid INTEGER NOT NULL,
    path TEXT NOT NULL,
    method TEXT NOT NULL,
    status INTEGER NOT NULL,
    user_id INTEGER
);
CREATE TABLE IF NOT EXISTS error_log (
    id INTEGER PRIMARY KEY,
    timestamp DATETIME DEFAULT CURRENT_TIMESTAMP,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    traceback TEXT,
    user_id INTEGER,
    route TEXT,
    method TEXT,
    url TEXT
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

DEMO_TASKS = [
    ("Bruchrechnung: Grundlagen",
     "Erweitere und kürze die Brüche auf dem Arbeitsblatt 3. Notiere zu jeder "
     "Aufgabe deinen Rechenweg und markiere die Ergebnisse, bei denen du unsicher bist."),
    ("Lesetagebuch: Kapitel 1–4",
     "Fasse die ersten vier Kapitel von „Tschick“ in eigenen Worten zusammen "
     "(je fünf bis acht Sätze) und beschreibe eine Figur, die dir besonders aufgefallen ist."),
    ("Englisch: Simple Past",
     "Bearbeite im Workbook die Seiten 24 und 25. Schreibe danach zehn eigene "
     "Sätze über dein letztes Wochenende im Simple Past."),
    ("Biologie: Aufbau der Pflanzenzelle",
     "Zeichne eine Pflanzenzelle und beschrifte Zellwand, Zellmembran, Zellkern, "
     "Chloroplasten und Vakuole. Erkläre in zwei Sätzen den Unterschied zur Tierzelle."),
    ("Geschichte: Leben im Mittelalter",
     "Recherchiere den Alltag auf einer Burg und gestalte ein Plakat im Format A3. "
     "Gib mindestens zwei Quellen an."),
    ("Erdkunde: Klimazonen der Erde",
     "Ordne die Klimadiagramme M1 bis M6 den passenden Klimazonen zu und begründe "
     "deine Entscheidung jeweils mit Temperatur und Niederschlag."),
    ("Mathematik: Prozentrechnung im Alltag",
     "Löse die Aufgaben zu Rabatten und Mehrwertsteuer aus dem Buch (S. 112, Nr. 4–9). "
     "Erfinde eine eigene Textaufgabe mit Lösung."),
    ("Physik: Stromkreise",
     "Baue mit dem Experimentierkasten eine Reihen- und eine Parallelschaltung auf. "
     "Miss die Spannungen und halte die Ergebnisse im Versuchsprotokoll fest."),
    ("Deutsch: Argumentation",
     "Schreibe eine Erörterung (ca. eine Seite) zur Frage: „Sollten Handys in der "
     "Schule erlaubt sein?“ Achte auf These, Argument und Beispiel."),
    ("Kunst: Perspektive zeichnen",
     "Zeichne einen Straßenzug in Zentralperspektive mit einem Fluchtpunkt. "
     "Verwende Bleistift und Lineal; Hilfslinien dürfen sichtbar bleiben."),
    ("Informatik: Algorithmen im Alltag",
     "Beschreibe einen Alltagsvorgang (z. B. Zähneputzen) als Algorithmus mit "
     "Verzweigung und Schleife und stelle ihn als Struktogramm dar."),
    ("Musik: Rhythmus und Takt",
     "Übe die Rhythmusübungen 1–5 mit Bodypercussion. Notiere selbst einen "
     "viertaktigen Rhythmus im 4/4-Takt und stelle ihn der Gruppe vor."),
]


def utc_timestamp():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def local_timestamp():
    # The real app stamps its rows with naive local time (datetime.now()): right only when the
    # container's TZ is the school's (Europe/Berlin).
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def connect():
    # Like the real app's models.get_db(): a NEW connection for every data call, WAL and
    # synchronous=NORMAL set on each, Python's default 5 s timeout and no busy_timeout pragma.
    os.makedirs(DATA_DIR, exist_ok=True)
    conn = sqlite3.connect(DB_PATH)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def db_session():
    """One data call: its own connection, committed (or rolled back) and closed at the end."""
    conn = connect()
    try:
        yield conn
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()


class _Rows(list):
    # The fetched rows of one call, read like a cursor (fetchone/fetchall/iteration).
    def fetchone(self):
        return self[0] if self else None

    def fetchall(self):
        return list(self)


class _PerCall:
    # get_db().execute(...) opens a connection, runs the statement, fetches, commits and closes:
    # each query is one of the real app's models calls.
    def execute(self, sql, params=()):
        with db_session() as conn:
            return _Rows(conn.execute(sql, params).fetchall())


_PER_CALL = _PerCall()


def get_db():
    return _PER_CALL


def close_db(exc):
    # Nothing is held across a request: every call closed its own connection.
    return None


def _scrypt(password, salt, n, r, p):
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt.encode("utf-8"), n=n, r=r, p=p, maxmem=132 * n * r * p
    ).hex()


def hash_password(password):
    """A werkzeug-format scrypt hash: scrypt:N:r:p$salt$hex (what the real app stores)."""
    salt = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
    return "scrypt:%d:%d:%d$%s$%s" % (
        SCRYPT_N, SCRYPT_R, SCRYPT_P, salt, _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    )


def verify_password(stored, password):
    """Checks scrypt hashes (werkzeug >= 2.3 format) and werkzeug's pbkdf2 ones (older databases)."""
    if stored.startswith("scrypt:"):
        try:
            method, salt, hashval = stored.split("$", 2)
            n, r, p = (int(x) for x in method.split(":")[1:4])
        except ValueError:
            return False
        return hmac.compare_digest(_scrypt(password, salt, n, r, p), hashval)
    if stored.startswith("pbkdf2:"):
        return check_password_hash(stored, password)
    return False


def init_app():
    # Like the real app's init_app(), and per process: creates its folders (instance/tmp too: on a
    # read-only root that needs a writable mount there), the schema, the first admin (admin/admin
    # unless ADMIN_PASSWORD is set) when none exists, loads its settings into app.config and starts
    # this process's analytics writer thread.
    # Deliberately NOT safe against concurrent callers on an empty database (same as the real
    # app): the "does an admin exist?" check and the inserts below are not serialised. The
    # deployment stack runs it once alone before the WSGI server forks.
    import demo_analytics

    os.makedirs(DATA_DIR, exist_ok=True)
    os.makedirs(UPLOAD_DIR, exist_ok=True)
    os.makedirs(TMP_DIR, exist_ok=True)
    _load_settings()
    demo_analytics.start_writer()
    conn = connect()
    try:
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO init_log (at) VALUES (?)", (utc_timestamp(),))
        conn.commit()

        # Like the real app's create_admin('admin', 'admin') on every init: a user NAMED admin is
        # looked for; if there is none (never created, or renamed), admin/admin is created again.
        admin = conn.execute("SELECT id FROM users WHERE username = ?", (DEMO_ADMIN,)).fetchone()
        if admin is None:
            conn.execute(
                "INSERT INTO users (username, password_hash, role, class_id) VALUES (?, ?, 'admin', NULL)",
                (DEMO_ADMIN, hash_password("admin")),
            )
            print("Default admin created: admin/admin")
            # The demo school (class, students, tasks) only on a first start: no class yet.
            has_class = conn.execute("SELECT 1 FROM classes LIMIT 1").fetchone()
            if has_class is None and os.environ.get("DEMO_DATA", "1") != "0":
                _create_demo_data(conn)
            conn.commit()
    finally:
        conn.close()


def _load_settings():
    # The real app loads its settings into app.config in every process; a process whose init did
    # not run has none (the pages then show no school name).
    import app as app_module  # imported lazily: app.py imports this module

    app_module.app.config["SCHOOL_NAME"] = os.environ.get("SCHOOL_NAME", "")
    app_module.app.config["SETTINGS_LOADED_BY"] = os.getpid()


def _create_demo_data(conn):
    class_id = conn.execute("INSERT INTO classes (name) VALUES ('7a')").lastrowid

    student_ids = []
    # One scrypt hash shared by the demo students (each with the same password): 30 hashes would
    # add seconds of CPU to every first start.
    student_hash = hash_password(DEMO_STUDENT_PASSWORD)
    for n in range(1, 31):
        cur = conn.execute(
            "INSERT INTO users (username, password_hash, role, class_id) VALUES (?, ?, 'student', ?)",
            (
                "student%02d" % n,
                student_hash,
                class_id,
            ),
        )
        student_ids.append(cur.lastrowid)

    task_ids = []
    for title, description in DEMO_TASKS:
        cur = conn.execute("INSERT INTO tasks (title, description) VALUES (?, ?)", (title, description))
        task_ids.append(cur.lastrowid)

    # Deterministic, plausible progress: earlier tasks are done by more students.
    rng = random.Random(7)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=28)
    rows = []
    for uid in student_ids:
        diligence = rng.uniform(0.2, 0.95)
        for index, tid in enumerate(task_ids):
            chance = diligence * (1.0 - index / (len(task_ids) + 2))
            if rng.random() < chance:
                done_at = start + timedelta(days=2 * index + rng.randint(0, 5), minutes=rng.randint(0, 600))
                rows.append((uid, tid, done_at.isoformat()))
    conn.executemany("INSERT OR IGNORE INTO progress (user_id, task_id, done_at) VALUES (?, ?, ?)", rows)
