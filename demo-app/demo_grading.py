# Lernmanager demo app: the grading service's side of the app, as the real app has it.
#
# A teacher's upload page sends a class's work (one ZIP) from the browser straight to /grading/jobs,
# which nginx forwards to the grading service after asking GET /internal/auth-check (204: this
# session may grade, 401: not); the page then registers the service's job id with the app. The
# service calls back under /internal/grading/ with the callback secret. /internal/ is for nginx
# and the service only: the stack's nginx answers 404 to everyone else.

import hmac
import os

from flask import abort, jsonify, redirect, render_template, request, url_for

from demo_db import db_session, get_db, local_timestamp


def register(app, current_user, csrf):
    def admin_or_none():
        user = current_user()
        return user if user is not None and user["role"] == "admin" else None

    @app.get("/internal/auth-check")
    def internal_auth_check():
        # Asked by nginx's auth_request with the browser's cookies: no body, only the status.
        return ("", 204) if admin_or_none() is not None else ("", 401)

    @app.get("/admin/klasse/<int:class_id>/grading/upload")
    def grading_upload(class_id):
        user = current_user()
        if user is None:
            return redirect(url_for("login"))
        if user["role"] != "admin":
            abort(403)
        klasse = get_db().execute("SELECT id, name FROM classes WHERE id = ?", (class_id,)).fetchone()
        if klasse is None:
            abort(404)
        students = get_db().execute(
            "SELECT username FROM users WHERE class_id = ? AND role = 'student' ORDER BY username", (class_id,)
        ).fetchall()
        manifest = {"klasse": klasse["name"], "students": [{"login": s["username"]} for s in students]}
        return render_template(
            "grading_upload.html",
            user=user,
            klasse=klasse,
            manifest=manifest,
            configured=bool(os.environ.get("GRADING_SERVICE_URL")),
        )

    @app.post("/admin/klasse/<int:class_id>/grading/upload/complete")
    def grading_upload_complete(class_id):
        if admin_or_none() is None:
            return jsonify({"error": "Bitte melden Sie sich an."}), 401
        data = request.get_json(silent=True) or {}
        job_id = data.get("job_id")
        if not isinstance(job_id, str) or not job_id:
            return jsonify({"error": "job_id fehlt"}), 400
        with db_session() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS grading_runs (id INTEGER PRIMARY KEY, job_id TEXT UNIQUE, class_id INTEGER, at TEXT, results TEXT)"
            )
            conn.execute(
                "INSERT OR IGNORE INTO grading_runs (job_id, class_id, at) VALUES (?, ?, ?)",
                (job_id, class_id, local_timestamp()),
            )
        return jsonify({"ok": True, "job_id": job_id}), 201

    @app.post("/internal/grading/results")
    @csrf.exempt
    def grading_results():
        # The service signs nothing else: the shared secret in a header, compared in constant time.
        secret = os.environ.get("GRADING_SERVICE_CALLBACK_SECRET", "")
        given = request.headers.get("X-Grading-Callback-Secret", "")
        if not secret or not hmac.compare_digest(secret.encode(), given.encode()):
            return jsonify({"error": "forbidden"}), 403
        data = request.get_json(silent=True) or {}
        return jsonify({"ok": True, "job_id": data.get("job_id")})
