# Lernmanager demo app: the SQLite database (schema, connections, first start).
#
# app.py registers close_db on the Flask app and re-exports init_app, the hook
# that must run once before the WSGI server forks (LM_INIT_HOOK=app:init_app).

import os
import random
import sqlite3
from datetime import datetime, timedelta, timezone

from flask import g
from werkzeug.security import generate_password_hash

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(BASE_DIR, "data")
DB_PATH = os.path.join(DATA_DIR, "lernmanager.db")
INSTANCE_DIR = os.path.join(BASE_DIR, "instance")
UPLOAD_DIR = os.path.join(INSTANCE_DIR, "uploads")
# Scratch space (large uploads, imports); the real app writes here too and exports it as TMPDIR.
TMP_DIR = os.path.join(INSTANCE_DIR, "tmp")

DEMO_ADMIN = "admin"
DEMO_STUDENT_PASSWORD = "lernen"
DEMO_HASH_METHOD = "pbkdf2:sha256:1000"

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


def connect():
    os.makedirs(DATA_DIR, exist_ok=True)
    conn = sqlite3.connect(DB_PATH, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def get_db():
    conn = g.get("db")
    if conn is None:
        conn = connect()
        g.db = conn
    return conn


def close_db(exc):
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


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
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO init_log (at) VALUES (?)", (utc_timestamp(),))
        conn.commit()

        admin = conn.execute("SELECT id FROM users WHERE role = 'admin' LIMIT 1").fetchone()
        if admin is None:
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
    admin_password = os.environ.get("ADMIN_PASSWORD") or "admin"
    conn.execute(
        "INSERT INTO users (username, password_hash, role, class_id) VALUES (?, ?, 'admin', NULL)",
        (DEMO_ADMIN, generate_password_hash(admin_password, method=DEMO_HASH_METHOD)),
    )
    if os.environ.get("DEMO_DATA", "1") == "0":
        # Only the first admin (a test school that starts empty).
        return
    class_id = conn.execute("INSERT INTO classes (name) VALUES ('7a')").lastrowid

    student_ids = []
    for n in range(1, 31):
        cur = conn.execute(
            "INSERT INTO users (username, password_hash, role, class_id) VALUES (?, ?, 'student', ?)",
            (
                "student%02d" % n,
                generate_password_hash(DEMO_STUDENT_PASSWORD, method=DEMO_HASH_METHOD),
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
