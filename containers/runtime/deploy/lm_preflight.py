"""Checks, in the deploy's one-off container of a new app image, that the app will become healthy.

Run after the init hook and the migrations, before the new app container is created: it imports the
app the way gunicorn will (through lm_wsgi) and asks /healthz's own check. When the answer is not
"ok" (no such database file, an app that does not import, a missing setting), the deploy fails now,
with the reason, instead of after the health check's whole wait, and the running version goes on
serving.
"""
import sys


def main():
    try:
        import lm_wsgi
    except BaseException as exc:  # an app that does not import cannot become healthy
        print(f"[lernmanager] preflight: the app does not import: {type(exc).__name__}: {exc}", flush=True)
        return 1
    status, payload = lm_wsgi.health()
    if status != 200:
        print(f"[lernmanager] preflight: the new version cannot become healthy: {payload.get('error')}", flush=True)
        return 1
    print(f"[lernmanager] preflight: healthy ({payload.get('tables')} tables in {lm_wsgi.DATABASE})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
