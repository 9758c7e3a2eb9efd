# Lernmanager demo app: the error handlers, as the real app's app.py has them.
#
# 400 (a CSRF failure is one), 403, 500 and every other exception (413 included) do not answer with
# their status: each writes a row to error_log at once (its own connection, in the request) and
# answers 302 with a flash message: 400 back to the Referer (or /), the others to /. Only 404 and 405
# keep their status (an error page, nothing logged). A client that counts only non-2xx/3xx answers
# sees none of these failures.

import traceback

from flask import flash, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from demo_db import db_session, local_timestamp


def log_error(level, message, tb=None):
    try:
        with db_session() as conn:
            conn.execute(
                "INSERT INTO error_log (timestamp, level, message, traceback, user_id, route, method, url) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (local_timestamp(), level, message, tb, session.get("user_id"), request.endpoint,
                 request.method, request.url),
            )
    except Exception as e:  # the log row is best effort; the redirect is still sent
        print("ERROR: error_log row not written: %s" % e)


def setup(app):
    @app.errorhandler(400)
    def bad_request(error):
        log_error("WARNING", "Bad Request: %s" % error, traceback.format_exc())
        flash("Da ist etwas schiefgelaufen. Bitte die Seite neu laden.", "warning")
        return redirect(request.referrer or url_for("index"))

    @app.errorhandler(403)
    def forbidden(error):
        log_error("WARNING", "Forbidden: %s" % error)
        flash("Zugriff verweigert.", "danger")
        return redirect(url_for("index"))

    @app.errorhandler(404)
    def not_found(error):
        return render_template("error.html", error_code=404, error_message="Seite nicht gefunden"), 404

    @app.errorhandler(405)
    def method_not_allowed(error):
        return render_template("error.html", error_code=405, error_message="Methode nicht erlaubt"), 405

    @app.errorhandler(500)
    def internal_error(error):
        log_error("ERROR", "Internal Server Error: %s" % error, traceback.format_exc())
        flash("Ein interner Fehler ist aufgetreten. Der Fehler wurde protokolliert.", "danger")
        return redirect(url_for("index"))

    @app.errorhandler(Exception)
    def unhandled(error):
        if isinstance(error, HTTPException) and error.code in (404, 405):
            return not_found(error) if error.code == 404 else method_not_allowed(error)
        log_error(
            "CRITICAL",
            "Unhandled Exception: %s: %s" % (error.__class__.__name__, error),
            traceback.format_exc(),
        )
        flash("Ein unerwarteter Fehler ist aufgetreten. Der Fehler wurde protokolliert.", "danger")
        return redirect(url_for("index"))
