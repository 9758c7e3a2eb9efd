# Lernmanager demo app.
#
# A small Flask application shaped like the real "Lernmanager" (a school
# learning-progress app). It is the default app of the dev stack and the
# fixture for tests and benchmarks; see README.md for the route contract.
#
# Runs unchanged under `python3 -OO`: nothing here relies on docstrings or
# assert statements.

import hashlib
import io
import mimetypes
import os
import random
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

from flask import (
    Flask,
    Response,
    abort,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_caching import Cache
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.utils import secure_filename

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(BASE_DIR, "data")
DB_PATH = os.path.join(DATA_DIR, "lernmanager.db")
INSTANCE_DIR = os.path.join(BASE_DIR, "instance")
UPLOAD_DIR = os.path.join(INSTANCE_DIR, "uploads")
CACHE_DIR = os.environ.get("CACHE_DIR") or os.path.join(INSTANCE_DIR, "cache")

REPORT_CACHE_TIMEOUT = 3600
DEMO_ADMIN = "admin"
DEMO_STUDENT_PASSWORD = "lernen"
DEMO_HASH_METHOD = "pbkdf2:sha256:1000"

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY is not set")

app = Flask(__name__)
app.secret_key = SECRET_KEY
app.config["MAX_CONTENT_LENGTH"] = int(os.environ.get("MAX_UPLOAD_MB") or "64") * 1024 * 1024

os.makedirs(CACHE_DIR, exist_ok=True)
cache = Cache(
    app,
    config={
        "CACHE_TYPE": "FileSystemCache",
        "CACHE_DIR": CACHE_DIR,
        "CACHE_DEFAULT_TIMEOUT": REPORT_CACHE_TIMEOUT,
    },
)

SECRET_FINGERPRINT = hashlib.sha256(SECRET_KEY.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------

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


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _connect():
    os.makedirs(DATA_DIR, exist_ok=True)
    conn = sqlite3.connect(DB_PATH, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def get_db():
    conn = g.get("db")
    if conn is None:
        conn = _connect()
        g.db = conn
    return conn


@app.teardown_appcontext
def close_db(exc):
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def init_app():
    # Deliberately NOT safe against concurrent callers (same as the real
    # app): the "does an admin exist?" check and the inserts below are not
    # serialised. The deployment stack guarantees a single caller.
    os.makedirs(DATA_DIR, exist_ok=True)
    os.makedirs(UPLOAD_DIR, exist_ok=True)
    conn = _connect()
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO init_log (at) VALUES (?)", (_now(),))
        conn.commit()

        admin = conn.execute("SELECT id FROM users WHERE role = 'admin' LIMIT 1").fetchone()
        if admin is None:
            _create_demo_data(conn)
            conn.commit()
    finally:
        conn.close()


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


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def client_ip():
    # Same trust rule as the real app: X-Real-IP is honoured only when the
    # direct peer is loopback (i.e. the local reverse proxy).
    ip = request.remote_addr
    if ip in ("127.0.0.1", "::1") and request.headers.get("X-Real-IP"):
        return request.headers.get("X-Real-IP")
    return ip


def admin_allowed_ips():
    raw = os.environ.get("ADMIN_ALLOWED_IPS", "127.0.0.1,::1")
    return {part.strip() for part in raw.split(",") if part.strip()}


def current_user():
    if "user" in g:
        return g.user
    user = None
    user_id = session.get("user_id")
    if user_id is not None:
        user = get_db().execute(
            "SELECT u.id, u.username, u.role, u.class_id, c.name AS class_name "
            "FROM users u LEFT JOIN classes c ON c.id = u.class_id WHERE u.id = ?",
            (user_id,),
        ).fetchone()
        if user is None:
            session.clear()
    g.user = user
    return user


def user_tasks(user_id):
    rows = get_db().execute(
        "SELECT t.id, t.title, t.description, p.done_at "
        "FROM tasks t LEFT JOIN progress p ON p.task_id = t.id AND p.user_id = ? "
        "ORDER BY t.id",
        (user_id,),
    ).fetchall()
    return [
        {
            "id": r["id"],
            "title": r["title"],
            "description": r["description"],
            "done": r["done_at"] is not None,
            "done_at": r["done_at"],
        }
        for r in rows
    ]


def format_date(value):
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).strftime("%d.%m.%Y, %H:%M")
    except ValueError:
        return value


app.jinja_env.filters["datum"] = format_date


# --------------------------------------------------------------------------
# Auth
# --------------------------------------------------------------------------

@app.get("/")
def index():
    return redirect(url_for("login"))


@app.get("/login")
def login():
    return render_template("login.html", error=None, username="")


@app.post("/login")
def login_post():
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    row = get_db().execute(
        "SELECT id, password_hash, role FROM users WHERE username = ?", (username,)
    ).fetchone()
    if row is None or not check_password_hash(row["password_hash"], password):
        html = render_template(
            "login.html",
            error="Benutzername oder Passwort ist falsch.",
            username=username,
        )
        return html, 401
    session.clear()
    session["user_id"] = row["id"]
    if row["role"] == "admin":
        return redirect(url_for("admin"))
    return redirect(url_for("dashboard"))


@app.get("/logout")
def logout():
    session.clear()
    return redirect(url_for("login"))


# --------------------------------------------------------------------------
# Student pages and API
# --------------------------------------------------------------------------

@app.get("/dashboard")
def dashboard():
    user = current_user()
    if user is None:
        return redirect(url_for("login"))
    db = get_db()
    tasks = user_tasks(user["id"])
    done_count = sum(1 for t in tasks if t["done"])

    classmates = []
    task_done_counts = {}
    student_count = 0
    if user["class_id"] is not None:
        classmates = db.execute(
            "SELECT u.id, u.username, COUNT(p.task_id) AS done, MAX(p.done_at) AS last_done "
            "FROM users u LEFT JOIN progress p ON p.user_id = u.id "
            "WHERE u.class_id = ? AND u.role = 'student' "
            "GROUP BY u.id ORDER BY u.username",
            (user["class_id"],),
        ).fetchall()
        student_count = len(classmates)
        for r in db.execute(
            "SELECT p.task_id, COUNT(*) AS n FROM progress p JOIN users u ON u.id = p.user_id "
            "WHERE u.class_id = ? GROUP BY p.task_id",
            (user["class_id"],),
        ):
            task_done_counts[r["task_id"]] = r["n"]

    total = len(tasks)
    return render_template(
        "dashboard.html",
        user=user,
        tasks=tasks,
        done_count=done_count,
        open_count=total - done_count,
        total=total,
        percent=round(100 * done_count / total) if total else 0,
        classmates=classmates,
        student_count=student_count,
        task_done_counts=task_done_counts,
    )


@app.post("/tasks/<int:task_id>/done")
def task_done(task_id):
    user = current_user()
    if user is None:
        return jsonify({"ok": False, "error": "login required"}), 401

    write_id = request.form.get("write_id")
    if write_id is None:
        payload = request.get_json(silent=True)
        if isinstance(payload, dict):
            write_id = payload.get("write_id")

    now = _now()
    db = get_db()
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "INSERT OR REPLACE INTO progress (user_id, task_id, done_at) VALUES (?, ?, ?)",
            (user["id"], task_id, now),
        )
        db.execute(
            "INSERT INTO writes (write_id, user_id, task_id, at) VALUES (?, ?, ?, ?)",
            (None if write_id is None else str(write_id), user["id"], task_id, now),
        )
        db.commit()
    except Exception:
        db.rollback()
        raise
    return jsonify({"ok": True, "task_id": task_id, "user_id": user["id"], "write_id": write_id})


@app.get("/api/progress")
def api_progress():
    user = current_user()
    if user is None:
        return jsonify({"ok": False, "error": "login required"}), 401
    tasks = user_tasks(user["id"])
    done = sum(1 for t in tasks if t["done"])
    return jsonify(
        {
            "user_id": user["id"],
            "username": user["username"],
            "class_id": user["class_id"],
            "class_name": user["class_name"],
            "total": len(tasks),
            "done": done,
            "open": len(tasks) - done,
            "tasks": tasks,
        }
    )


@app.get("/api/writes/count")
def api_writes_count():
    (count,) = get_db().execute("SELECT COUNT(*) FROM writes").fetchone()
    return jsonify({"count": count})


@app.get("/api/writes/<write_id>")
def api_write_lookup(write_id):
    row = get_db().execute("SELECT 1 FROM writes WHERE write_id = ? LIMIT 1", (write_id,)).fetchone()
    if row is None:
        return jsonify({"found": False}), 404
    return jsonify({"found": True})


# --------------------------------------------------------------------------
# PDF report
# --------------------------------------------------------------------------

def build_class_report(class_id):
    db = get_db()
    klass = db.execute("SELECT id, name FROM classes WHERE id = ?", (class_id,)).fetchone()
    if klass is None:
        return None
    students = db.execute(
        "SELECT id, username FROM users WHERE class_id = ? AND role = 'student' ORDER BY username",
        (class_id,),
    ).fetchall()
    tasks = db.execute("SELECT id, title, description FROM tasks ORDER BY id").fetchall()
    done = {}
    for r in db.execute(
        "SELECT p.user_id, p.task_id, p.done_at FROM progress p JOIN users u ON u.id = p.user_id "
        "WHERE u.class_id = ?",
        (class_id,),
    ):
        done[(r["user_id"], r["task_id"])] = r["done_at"]

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    created = datetime.now().strftime("%d.%m.%Y %H:%M")
    story = [
        Paragraph("Lernstandsbericht Klasse %s" % klass["name"], styles["Title"]),
        Paragraph(
            "Erstellt am %s &middot; %d Schülerinnen und Schüler &middot; %d Aufgaben"
            % (created, len(students), len(tasks)),
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
    ]

    # Overview: students x tasks.
    header = ["Name"] + ["A%d" % (i + 1) for i in range(len(tasks))] + ["Summe", "%"]
    matrix = [header]
    for s in students:
        marks = ["x" if (s["id"], t["id"]) in done else "-" for t in tasks]
        n = marks.count("x")
        pct = round(100 * n / len(tasks)) if tasks else 0
        matrix.append([s["username"]] + marks + [str(n), "%d %%" % pct])
    totals = ["Erledigt"]
    for t in tasks:
        totals.append(str(sum(1 for s in students if (s["id"], t["id"]) in done)))
    totals += ["", ""]
    matrix.append(totals)

    table = Table(matrix, repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1f4e79")),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("ALIGN", (1, 0), (-1, -1), "CENTER"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#9aa7b4")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#eef3f8")]),
        ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#dde7f0")),
    ]
    for row_index, s in enumerate(students, start=1):
        for col_index, t in enumerate(tasks, start=1):
            if (s["id"], t["id"]) in done:
                style.append(("TEXTCOLOR", (col_index, row_index), (col_index, row_index), colors.HexColor("#1b7a3a")))
    table.setStyle(TableStyle(style))
    story += [Paragraph("Übersicht", styles["Heading2"]), table, PageBreak()]

    # Legend of tasks.
    story.append(Paragraph("Aufgaben", styles["Heading2"]))
    legend = [["Nr.", "Titel", "Beschreibung"]]
    for i, t in enumerate(tasks, start=1):
        legend.append(["A%d" % i, Paragraph(t["title"], small), Paragraph(t["description"], small)])
    legend_table = Table(legend, colWidths=[12 * mm, 60 * mm, 180 * mm], repeatRows=1)
    legend_table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1f4e79")),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#9aa7b4")),
            ]
        )
    )
    story += [legend_table, PageBreak()]

    # Details per task: who finished when.
    story.append(Paragraph("Details je Aufgabe", styles["Heading2"]))
    for i, t in enumerate(tasks, start=1):
        story.append(Paragraph("A%d – %s" % (i, t["title"]), styles["Heading3"]))
        rows = [["Name", "Status", "Erledigt am"]]
        for s in students:
            at = done.get((s["id"], t["id"]))
            rows.append([s["username"], "erledigt" if at else "offen", format_date(at)])
        detail = Table(rows, colWidths=[50 * mm, 30 * mm, 50 * mm], repeatRows=1)
        detail.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), "Helvetica", 7),
                    ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde7f0")),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#c3ccd6")),
                    ("TOPPADDING", (0, 0), (-1, -1), 1),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ]
            )
        )
        story += [detail, Spacer(1, 4 * mm)]

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(15 * mm, 8 * mm, "Lernmanager – Klasse %s" % klass["name"])
        canvas.drawRightString(doc.pagesize[0] - 15 * mm, 8 * mm, "Seite %d" % doc.page)
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=landscape(A4),
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title="Lernstandsbericht Klasse %s" % klass["name"],
        author="Lernmanager",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


@app.get("/report/class/<int:class_id>.pdf")
def class_report(class_id):
    key = "class-report-%d" % class_id
    fresh = request.args.get("fresh") == "1"
    data = None if fresh else cache.get(key)
    status = "hit"
    if data is None:
        status = "miss"
        data = build_class_report(class_id)
        if data is None:
            abort(404)
        if not fresh:
            cache.set(key, data, timeout=REPORT_CACHE_TIMEOUT)
    resp = Response(data, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = "inline; filename=klasse-%d.pdf" % class_id
    resp.headers["X-Report-Cache"] = status
    return resp


# --------------------------------------------------------------------------
# Uploads and downloads
# --------------------------------------------------------------------------

@app.post("/upload")
def upload():
    f = request.files.get("file")
    if f is None:
        return jsonify({"ok": False, "error": "missing file field"}), 400
    name = secure_filename(f.filename or "")
    if not name:
        return jsonify({"ok": False, "error": "invalid file name"}), 400
    os.makedirs(UPLOAD_DIR, exist_ok=True)
    path = os.path.join(UPLOAD_DIR, name)
    f.save(path)
    return jsonify({"name": name, "size": os.path.getsize(path)})


@app.get("/files/<name>")
def download(name):
    safe = secure_filename(name)
    if not safe or not os.path.isfile(os.path.join(UPLOAD_DIR, safe)):
        abort(404)
    prefix = os.environ.get("LM_ACCEL_REDIRECT_PREFIX", "")
    if prefix:
        mimetype = mimetypes.guess_type(safe)[0] or "application/octet-stream"
        resp = Response(b"", mimetype=mimetype)
        resp.headers["X-Accel-Redirect"] = prefix + safe
        resp.headers["Content-Disposition"] = "attachment; filename=%s" % safe
        return resp
    return send_from_directory(UPLOAD_DIR, safe, as_attachment=True)


# --------------------------------------------------------------------------
# Diagnostics and admin
# --------------------------------------------------------------------------

@app.get("/whoami")
def whoami():
    return jsonify(
        {
            "remote_addr": request.remote_addr,
            "client_ip": client_ip(),
            "pid": os.getpid(),
            "thread": threading.current_thread().name,
            "secret_fingerprint": SECRET_FINGERPRINT,
        }
    )


@app.after_request
def _admin_frame_policy(response):
    # Admin pages set their own, stricter framing policy (the stack adds SAMEORIGIN elsewhere).
    if request.path.startswith("/admin"):
        response.headers["X-Frame-Options"] = "DENY"
    return response


@app.get("/admin/maintenance")
def admin_maintenance():
    ip = client_ip()
    if ip in admin_allowed_ips():
        return jsonify({"ok": True, "client_ip": ip})
    return jsonify({"ok": False, "client_ip": ip}), 403


@app.get("/admin")
def admin():
    user = current_user()
    if user is None:
        return redirect(url_for("login"))
    if user["role"] != "admin":
        abort(403)
    db = get_db()
    classes = db.execute(
        "SELECT c.id, c.name, COUNT(u.id) AS students "
        "FROM classes c LEFT JOIN users u ON u.class_id = c.id AND u.role = 'student' "
        "GROUP BY c.id ORDER BY c.name"
    ).fetchall()
    (task_count,) = db.execute("SELECT COUNT(*) FROM tasks").fetchone()
    (progress_count,) = db.execute("SELECT COUNT(*) FROM progress").fetchone()
    return render_template(
        "admin.html",
        user=user,
        classes=classes,
        task_count=task_count,
        progress_count=progress_count,
    )
