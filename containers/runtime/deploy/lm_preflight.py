"""Checks, in the deploy's one-off container of a new app image, that the app will become healthy.

Run after the init hook and the migrations, before the new app container is created: it imports the
app the way gunicorn will (through lm_wsgi) and asks /healthz's own check. When the answer is not
"ok" (no such database file, an app that does not import, a missing setting), the deploy fails now,
with the reason, instead of after the health check's whole wait, and the running version goes on
serving.
"""
import os
import sys

ZONEINFO = "/usr/share/zoneinfo"


def time_zone_problem(env=os.environ, zoneinfo=ZONEINFO):
    """Why the app's local dates would be wrong here, or None. Without the zone's data file the C
    library takes TZ as UTC without a word, and attendance days and report weeks shift."""
    tz = env.get("TZ", "")
    if not tz:
        return "TZ is not set: the app's local dates would be UTC"
    if not os.path.isfile(os.path.join(zoneinfo, tz.lstrip(":"))):
        return f"TZ={tz}, but the image has no {zoneinfo}/{tz.lstrip(':')} (the tzdata package): the app's local dates would be UTC"
    return None


def main():
    problem = time_zone_problem()
    if problem:
        print(f"[lernmanager] preflight: {problem}", flush=True)
        return 1
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
