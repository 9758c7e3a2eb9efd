#!/bin/sh
# Entry script of the app container (PID 1 is docker's init, so signals reach gunicorn).
#   (a) runs the app's init hook exactly once, before gunicorn forks its workers, unless it already
#       ran for this app version on this database (the migrate deploy step runs it first; marker
#       written by lm_init.py);
#   (b) copies the image's static files into the static volume (a named volume is only filled
#       while empty, so without this nginx would serve stale CSS after a rebuild), unless the
#       volume's marker says this app version's files are there already (a restart);
#   (c) execs gunicorn.
set -eu
cd "$LM_APP_DIR"

# The app's dates are naive local time (attendance days, report weeks): a TZ whose zone data the
# image lacks is taken as UTC by the C library without a word. Refuse to start instead, so the
# deploy's candidate fails with this line (the migrate step's preflight checks the same).
tz="${TZ:-}"
if [ -z "$tz" ] || [ ! -f "/usr/share/zoneinfo/${tz#:}" ]; then
    echo "[lernmanager] TZ=$tz has no zone data in this image (/usr/share/zoneinfo/${tz#:}): the app's local dates would be UTC. Fix: \`pulumi config set timeZone Europe/Berlin\` (an IANA name; the runtime image installs tzdata). Not starting." >&2
    exit 78
fi

# True when the marker file $1 names this app version.
marks_this_version() {
    [ -n "${LM_APP_VERSION:-}" ] && [ "$(cat "$1" 2>/dev/null || true)" = "$LM_APP_VERSION" ]
}

data_dir="$LM_APP_DIR/$LM_DATA_PATH"
# With dataHostPath, the data folder must be the one on the mounted disk (marker written at setup).
if [ -n "${LM_DATA_HOST_PATH:-}" ] && [ ! -f "$data_dir/.lernmanager-data-mount" ]; then
    echo "[lernmanager] $LM_DATA_HOST_PATH is not mounted (no .lernmanager-data-mount in its data folder): unlock and mount the disk, then start the app again. Not starting." >&2
    exit 78
fi
if [ -n "${LM_INIT_HOOK:-}" ]; then
    if marks_this_version "$data_dir/$LM_INIT_MARKER" && [ -s "$data_dir/$LM_DATABASE_FILE" ]; then
        echo "[lernmanager] init hook $LM_INIT_HOOK already ran for version $LM_APP_VERSION on this database: skipped"
    else
        python3 -OO "$LM_RUNTIME_DIR/lm_init.py"
    fi
fi

if [ -d "$LM_APP_DIR/$LM_STATIC_PATH" ]; then
    if marks_this_version "/srv/static/$LM_STATIC_MARKER"; then
        echo "[lernmanager] static files already synced for version $LM_APP_VERSION: skipped"
    else
        python3 -OO "$LM_RUNTIME_DIR/lm_static.py" "$LM_APP_DIR/$LM_STATIC_PATH" /srv/static
    fi
fi

exec python3 -OO -m gunicorn --config "$LM_RUNTIME_DIR/gunicorn.conf.py" \
    --pythonpath "$LM_RUNTIME_DIR,$LM_APP_DIR" lm_wsgi:application
