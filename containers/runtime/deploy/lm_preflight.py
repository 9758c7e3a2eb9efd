"""Checks, in the deploy's one-off container of a new app image, that the app will become healthy.

Run after the init hook and the migrations, before the new app container is created: it imports the
app the way gunicorn will (through lm_wsgi) and asks /healthz's own check. When the answer is not
"ok" (no such database file, an app that does not import, a missing setting), the deploy fails now,
with the reason, instead of after the health check's whole wait, and the running version goes on
serving.
"""
import os
import sqlite3
import sys

ZONEINFO = "/usr/share/zoneinfo"
# SQLite's WAL-reset bug: in 3.7.0 to 3.51.2, fixed in 3.51.3 (2026-03-13). A checkpoint racing with
# another connection's commit that restarts the -wal file can mark frames as copied that were not: a
# commit is lost, or the database damaged. It needs several connections writing and checkpointing at
# once, which the app does (a connection per call in every worker, both versions during an update).
WAL_RESET_BUG = ((3, 7, 0), (3, 51, 3))


def time_zone_problem(env=os.environ, zoneinfo=ZONEINFO):
    """Why the app's local dates would be wrong here, or None. Without the zone's data file the C
    library takes TZ as UTC without a word, and attendance days and report weeks shift."""
    tz = env.get("TZ", "")
    if not tz:
        return "TZ is not set: the app's local dates would be UTC"
    if not os.path.isfile(os.path.join(zoneinfo, tz.lstrip(":"))):
        return f"TZ={tz}, but the image has no {zoneinfo}/{tz.lstrip(':')} (the tzdata package): the app's local dates would be UTC"
    return None


def sqlite_warning(version=sqlite3.sqlite_version):
    """A warning when the app's SQLite has the WAL-reset bug, else None. Not a failure: every
    Debian release before forky ships an affected SQLite (bookworm 3.40, trixie 3.46)."""
    try:
        parts = tuple(int(p) for p in version.split(".")[:3])
    except ValueError:
        return None
    if not WAL_RESET_BUG[0] <= parts < WAL_RESET_BUG[1]:
        return None
    return (
        f"warning: the app's SQLite {version} has the WAL-reset bug (3.7.0 to 3.51.2, fixed in 3.51.3): "
        "when several processes write at once (the app's workers, and both versions during an update), "
        "a commit can, rarely, be lost or the database damaged. Fix: a baseImage whose libsqlite3 is "
        "3.51.3 or newer (Debian forky and sid ship 3.53). Meanwhile the backups and their restore "
        "drill are the safety net."
    )


def main():
    problem = time_zone_problem()
    if problem:
        print(f"[lernmanager] preflight: {problem}", flush=True)
        return 1
    warning = sqlite_warning()
    if warning:
        print(f"[lernmanager] preflight: {warning}", flush=True)
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
