# Lernmanager demo app: the question import in two steps, as the real app's import pages do it.
#
# POST /admin/import/preview (admin, multipart field `file`: a ZIP of JSON files) keeps the ZIP in
# $TMPDIR/lernmanager_import/<id>.zip and answers with the preview (the JSON files in it and the
# import id); POST /admin/import/confirm (form `import_id`) imports it later (within 2 hours:
# older ZIPs are removed at the next preview) and deletes it. Between the two requests the ZIP
# lives only in that folder: a confirm that reaches a process (or container) that cannot see it
# ends in a redirect to /admin with an error flash, like every other failure of the real app.

import json
import os
import re
import tempfile
import time
import uuid
import zipfile

from flask import flash, jsonify, redirect, request, url_for

from demo_db import db_session, local_timestamp

MAX_AGE_SECONDS = 2 * 3600


def import_dir():
    # tempfile honours TMPDIR (the stack points it at instance/tmp).
    return os.path.join(tempfile.gettempdir(), "lernmanager_import")


def _prune(folder):
    now = time.time()
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        try:
            if now - os.path.getmtime(path) > MAX_AGE_SECONDS:
                os.remove(path)
        except OSError:
            pass


def register(app, current_user):
    def admin_or_none():
        user = current_user()
        return user if user is not None and user["role"] == "admin" else None

    @app.post("/admin/import/preview")
    def import_preview():
        if admin_or_none() is None:
            return redirect(url_for("login"))
        f = request.files.get("file")
        if f is None:
            flash("Keine Datei ausgewählt.", "danger")
            return redirect(url_for("admin"))
        folder = import_dir()
        os.makedirs(folder, exist_ok=True)
        _prune(folder)
        import_id = uuid.uuid4().hex
        path = os.path.join(folder, import_id + ".zip")
        f.save(path)
        try:
            with zipfile.ZipFile(path) as z:
                files = sorted(n for n in z.namelist() if n.endswith(".json"))
        except zipfile.BadZipFile:
            os.remove(path)
            flash("Die Datei ist kein ZIP-Archiv.", "danger")
            return redirect(url_for("admin"))
        return jsonify({"import_id": import_id, "files": files, "folder": folder})

    @app.post("/admin/import/confirm")
    def import_confirm():
        if admin_or_none() is None:
            return redirect(url_for("login"))
        import_id = request.form.get("import_id") or ""
        path = os.path.join(import_dir(), import_id + ".zip")
        if not re.fullmatch(r"[0-9a-f]{32}", import_id) or not os.path.isfile(path):
            flash("Die Import-Datei ist nicht mehr vorhanden. Bitte erneut hochladen.", "danger")
            return redirect(url_for("admin"))
        questions = 0
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.endswith(".json"):
                    data = json.loads(z.read(name).decode("utf-8"))
                    questions += len(data.get("questions", [])) if isinstance(data, dict) else 0
        os.remove(path)
        with db_session() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS question_imports (id INTEGER PRIMARY KEY, import_id TEXT, questions INTEGER, at TEXT)"
            )
            conn.execute(
                "INSERT INTO question_imports (import_id, questions, at) VALUES (?, ?, ?)",
                (import_id, questions, local_timestamp()),
            )
        flash("%d Fragen importiert." % questions, "success")
        return redirect(url_for("admin"))
