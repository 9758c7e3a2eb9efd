# Lernmanager demo app.
#
# A small Flask application shaped like the real "Lernmanager" (a school
# learning-progress app). It is the default app of the dev stack and the
# fixture for tests and benchmarks; see README.md for the route contract.
#
# Runs unchanged under `python3 -OO`: nothing here relies on docstrings or
# assert statements.

import hashlib
import os

from flask import (
    Flask,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_caching import Cache
from flask_wtf.csrf import CSRFProtect

# init_app is the init hook (LM_INIT_HOOK=app:init_app), imported here for it.
from demo_db import INSTANCE_DIR, close_db, db_session, get_db, init_app, utc_timestamp, verify_password  # noqa: F401
from demo_report import format_date
import demo_analytics
from demo_jobs import register_cli
import demo_https
from demo_topics import register_topics
from demo_files import REPORT_CACHE_TIMEOUT, register_files
from demo_admin import register_admin
import demo_compress
import demo_errors
import demo_import
import demo_grading

CACHE_DIR = os.environ.get("CACHE_DIR") or os.path.join(INSTANCE_DIR, "cache")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY is not set")

app = Flask(__name__)
app.secret_key = SECRET_KEY
# Hard-coded like the real app's config.py: no environment variable changes it.
app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
app.config["SESSION_COOKIE_HTTPONLY"] = True
app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
# Flask-WTF, as in the real app: every POST needs the session's token (form field csrf_token or
# header X-CSRFToken, signed, valid for an hour); over HTTPS the Referer must also be
# https://<Host the app sees>/ (WTF_CSRF_SSL_STRICT). A failure is a 400, which the error handlers
# below turn into a redirect.
csrf = CSRFProtect(app)
demo_compress.setup(app)  # Flask-Compress (gzip level 6), brotli when offered (demo_compress.py)
demo_errors.setup(app)  # 400/403/413/500/exceptions -> 302 + flash + error_log row (demo_errors.py)
register_cli(app)  # flask --app app auto-attendance (demo_jobs.py)
demo_https.setup(app)  # FORCE_HTTPS: Secure cookies, http -> https (demo_https.py)

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

# Schema, connections and the init hook are in demo_db.py.
app.teardown_appcontext(close_db)


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

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


app.jinja_env.filters["datum"] = format_date
register_topics(app, current_user)  # GET /topics/<id>: Markdown rendered per request (demo_topics.py)
register_files(app, cache)  # the class report PDF, uploads, downloads (demo_files.py)
register_admin(app, current_user, SECRET_FINGERPRINT)  # diagnostics and admin pages (demo_admin.py)
demo_import.register(app, current_user)  # question import: preview, then confirm (demo_import.py)
demo_grading.register(app, current_user, csrf)  # auth-check for nginx, grading upload page (demo_grading.py)


# --------------------------------------------------------------------------
# Auth
# --------------------------------------------------------------------------

@app.get("/")
def index():
    # Like the real app: the start page of whoever is logged in, else the login form.
    user = current_user()
    if user is not None:
        return redirect(url_for("admin" if user["role"] == "admin" else "dashboard"))
    return redirect(url_for("login"))


@app.after_request
def _record_page_view(response):
    # Every request queues one analytics event (the writer thread of this process stores it).
    if not request.path.startswith("/api/analytics/"):
        user_id = session.get("user_id")
        demo_analytics.record(request.path, request.method, response.status_code, user_id)
    return response


@app.get("/login")
def login():
    return render_template("login.html", error=None, username="")


@app.post("/login")
def login_post():
    # CSRFProtect checked the token (and, over HTTPS, the Referer) before this runs.
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    row = get_db().execute(
        "SELECT id, password_hash, role FROM users WHERE username = ?", (username,)
    ).fetchone()
    if row is None or not verify_password(row["password_hash"], password):
        html = render_template(
            "login.html",
            error="Benutzername oder Passwort ist falsch.",
            username=username,
        )
        return html, 401
    # The session (and its CSRF token) stays, as in the real app: the form's token keeps working.
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
        # One call per task, as the real dashboard gathers its parts (10+ connections a page).
        for t in tasks:
            (task_done_counts[t["id"]],) = db.execute(
                "SELECT COUNT(*) FROM progress p JOIN users u ON u.id = p.user_id "
                "WHERE u.class_id = ? AND p.task_id = ?",
                (user["class_id"], t["id"]),
            ).fetchone()

    total = len(tasks)
    return render_template(
        "dashboard.html",
        user=user,
        tasks=tasks,
        done_count=done_count,
        open_count=total - done_count,
        total=total,
        percent=round(100 * done_count / total) if total else 0,
        rank=1 + sum(1 for m in classmates if m["done"] > done_count) if classmates else None,
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

    now = utc_timestamp()
    # One models call: its own connection and transaction (deferred, 5 s timeout, as the real app's).
    with db_session() as db:
        db.execute(
            "INSERT OR REPLACE INTO progress (user_id, task_id, done_at) VALUES (?, ?, ?)",
            (user["id"], task_id, now),
        )
        db.execute(
            "INSERT INTO writes (write_id, user_id, task_id, at) VALUES (?, ?, ?, ?)",
            (None if write_id is None else str(write_id), user["id"], task_id, now),
        )
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
