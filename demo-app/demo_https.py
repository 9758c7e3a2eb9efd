"""FORCE_HTTPS, as the real app has it: with it set, session cookies are marked Secure and a request
that did not come over HTTPS is redirected to the same URL with https:// (the app learns the
scheme from the proxy's X-Forwarded-Proto, which gunicorn applies). /healthz stays reachable."""
import os

from flask import redirect, request


def setup(app):
    force = os.environ.get("FORCE_HTTPS", "").strip().lower() in ("1", "true", "yes", "on")
    app.config["FORCE_HTTPS"] = force
    app.config["SESSION_COOKIE_SECURE"] = force
    app.config["PREFERRED_URL_SCHEME"] = "https" if force else "http"
    if not force:
        return

    @app.before_request
    def _https_only():
        if not request.is_secure and request.path != "/healthz":
            return redirect("https://" + request.url.split("://", 1)[1], code=301)
        return None
