# Lernmanager demo app: the class report PDF (cached), uploads, and downloads served by nginx.
#
# GET /report/class/<id>.pdf: reportlab builds it (demo_report.py) and the report cache keeps it
# (`?fresh=1` builds it again). POST /upload stores a file in instance/uploads; GET /files/<name>
# answers, like the real app, with X-Accel-Redirect: /protected-files/<name> (a prefix fixed in the
# code, not configurable) whenever the request carries X-Forwarded-For (it came through a proxy),
# and with the file itself otherwise.

import mimetypes
import os

from flask import Response, abort, jsonify, request, send_from_directory
from werkzeug.utils import secure_filename

from demo_db import UPLOAD_DIR
from demo_report import build_class_report

REPORT_CACHE_TIMEOUT = 3600
ACCEL_PREFIX = "/protected-files/"


def register_files(app, cache):
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
        if request.headers.get("X-Forwarded-For"):
            prefix = ACCEL_PREFIX
            mimetype = mimetypes.guess_type(safe)[0] or "application/octet-stream"
            resp = Response(b"", mimetype=mimetype)
            resp.headers["X-Accel-Redirect"] = prefix + safe
            resp.headers["Content-Disposition"] = "attachment; filename=%s" % safe
            return resp
        return send_from_directory(UPLOAD_DIR, safe, as_attachment=True)
