# Lernmanager demo app: diagnostics the tests read, and the admin pages.
#
# The client address follows the real app's trust rule (X-Real-IP only from loopback); /whoami shows
# what the app sees (address, scheme, process, analytics writer, settings); /api/writes/* and
# /api/analytics/count count what reached the database; /admin/maintenance is gated by address
# (ADMIN_ALLOWED_IPS), /admin by role.

import os
import threading

from flask import abort, jsonify, redirect, render_template, request, url_for

import demo_analytics
from demo_db import get_db


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


def register_admin(app, current_user, secret_fingerprint):
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

    @app.get("/api/analytics/count")
    def api_analytics_count():
        (count,) = get_db().execute("SELECT COUNT(*) FROM analytics_events").fetchone()
        return jsonify({"count": count})

    @app.get("/whoami")
    def whoami():
        return jsonify(
            {
                "analytics_writer": demo_analytics.writer_alive(),
                "settings_loaded_by": app.config.get("SETTINGS_LOADED_BY"),
                "remote_addr": request.remote_addr,
                "client_ip": client_ip(),
                "scheme": request.scheme,
                # The Host the app was asked for (port included): what CSRF referrer checks compare with.
                "host": request.host,
                "pid": os.getpid(),
                "thread": threading.current_thread().name,
                "secret_fingerprint": secret_fingerprint,
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
