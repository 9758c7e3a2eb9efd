"""WSGI wrapper around the app (LM_WSGI_APP, `module:attribute`).

* Answers GET /healthz: 200 with JSON only when the SQLite database can be read (and has tables),
  503 otherwise. The JSON carries the app version, sys.flags.optimize and the SQLite library's version.
* Sets REMOTE_ADDR to the client address nginx saw. nginx overwrites X-Forwarded-For with its
  $remote_addr, so exactly one proxy hop is trusted: the last entry. X-Real-IP is set to the same
  value, so an app that trusts X-Real-IP from loopback sees the same address.
"""
import importlib
import ipaddress
import json
import os
import sqlite3
import sys
import urllib.parse

# Set by the app image (containers/app.Dockerfile, from the stack's config): no defaults here.
APP_DIR = os.environ["LM_APP_DIR"]
if APP_DIR not in sys.path:
    sys.path.insert(0, APP_DIR)

_module, _attribute = os.environ["LM_WSGI_APP"].split(":", 1)
app = getattr(importlib.import_module(_module), _attribute)

DATABASE = os.path.join(APP_DIR, os.environ["LM_DATA_PATH"], os.environ["LM_DATABASE_FILE"])
VERSION = os.environ["LM_APP_VERSION"]
HEALTH_PATH = "/healthz"


def missing_database():
    """None when the database file exists; else why not, naming the file and the .db files present."""
    if os.path.isfile(DATABASE):
        return None
    folder = os.path.dirname(DATABASE)
    try:
        found = sorted(n for n in os.listdir(folder) if n.endswith(".db"))
    except OSError:
        found = []
    return (
        f"the database file {DATABASE} does not exist; .db files in {folder}: "
        + (", ".join(found) if found else "none")
        + ". Fix: set the stack's databaseFile to the file the app creates"
        + (f" (`pulumi config set databaseFile {found[0]}`)" if len(found) == 1 else "")
    )


def health():
    missing = missing_database()
    if missing:
        return 503, {"status": "unavailable", "error": missing, "version": VERSION}
    try:
        uri = "file:" + urllib.parse.quote(DATABASE) + "?mode=ro"
        con = sqlite3.connect(uri, uri=True, timeout=2)
        try:
            tables = con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        finally:
            con.close()
        if tables == 0:
            return 503, {"status": "unavailable", "error": "the database has no tables yet", "version": VERSION}
        return 200, {
            "status": "ok",
            "version": VERSION,
            "optimize": sys.flags.optimize,
            "database": "readable",
            # The SQLite library the app's processes use: 3.7.0 to 3.51.2 have the WAL-reset bug
            # (lm_preflight.py names it on every deploy); here an admin sees it on the running app.
            "sqlite": sqlite3.sqlite_version,
            "tables": tables,
            "pid": os.getpid(),
        }
    except Exception as exc:  # any failure to read is "unhealthy"
        return 503, {"status": "unavailable", "error": str(exc), "version": VERSION}


def _client_from_proxy(environ):
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
    if not forwarded:
        return None
    candidate = forwarded.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def application(environ, start_response):
    client = _client_from_proxy(environ)
    if client:
        environ["lernmanager.proxy_addr"] = environ.get("REMOTE_ADDR", "")
        environ["REMOTE_ADDR"] = client
        environ["HTTP_X_REAL_IP"] = client
        environ["HTTP_X_FORWARDED_FOR"] = client
    if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
        status, payload = health()
        body = json.dumps(payload).encode()
        start_response(
            "200 OK" if status == 200 else "503 Service Unavailable",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")],
        )
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
    return app(environ, start_response)
