"""Restore drill: proves that a backup restores into a working app.

Runs in the backup container (components/backups.ts): a container of the current app image
without network (the drill's app listens on 127.0.0.1 only), whose app data folder, uploads folder
and the app's other folders are throwaway tmpfs mounts, while the live data is mounted elsewhere.
The drill copies the backup into the throwaway data folder (its migrations done-file beside it),
runs `PRAGMA integrity_check`, counts the rows of every table, runs the current image's pending
migrations and the init hook the way a restore does, starts gunicorn on it and asks for /healthz.

  lm_drill.py BACKUP.db   (prints the result as JSON; exit 0 when it passed)
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

APP_DIR = os.environ.get("LM_APP_DIR", "/app")
RUNTIME = os.environ.get("LM_RUNTIME_DIR", "/opt/lernmanager")
DRILL_PORT = 8001
HEALTH_SECONDS = 90


def clear(folder):
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)


def row_counts(database):
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        check = con.execute("PRAGMA integrity_check").fetchone()[0]
        tables = [
            r[0]
            for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        ]
        rows = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()
    return check, rows


def healthz(seconds, process):
    """(status, body) of /healthz once it answers 200, or the last answer when it never does."""
    deadline = time.monotonic() + seconds
    last = (0, "no answer")
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{DRILL_PORT}/healthz", timeout=3) as r:
                return r.status, r.read().decode("utf-8", "replace")[:300]
        except urllib.error.HTTPError as e:
            last = (e.code, e.read().decode("utf-8", "replace")[:300])
        except OSError as e:
            last = (0, str(e))
        time.sleep(0.5)
    if process.poll() is not None:
        last = (last[0], f"{last[1]}; the app exited with code {process.returncode}")
    return last


def run_step(what, cmd, env, log):
    done = subprocess.run(cmd, cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=600)
    log.extend(f"[{what}] {line}" for line in (done.stdout + done.stderr).splitlines()[-20:])
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed with exit code {done.returncode}")


def is_tmpfs(folder):
    """True when folder is a tmpfs mount point (the drill never touches a live data folder)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if fields[4] == folder and fields[fields.index("-") + 1] == "tmpfs":
                return True
    return False


def drill(backup, migrations=None):
    started = time.monotonic()
    result = {"backup": os.path.basename(backup), "bytes": os.path.getsize(backup), "ok": False, "log": []}
    data_dir = os.path.join(APP_DIR, os.environ.get("LM_DATA_PATH", "data"))
    database = os.path.join(data_dir, os.environ.get("LM_DATABASE_FILE", "app.db"))
    app = None
    if not is_tmpfs(data_dir):
        result.update(error=f"{data_dir} is not a throwaway tmpfs: the drill runs only in the backup container")
        return result
    try:
        clear(data_dir)
        shutil.copyfile(backup, database)
        check, rows = row_counts(database)
        result.update(integrity=check, rows=rows)
        if check != "ok":
            raise RuntimeError(f"PRAGMA integrity_check says {check}")
        if not rows:
            raise RuntimeError("the backup has no tables")
        env = dict(os.environ)
        if migrations:
            kept = backup + ".migrations_done.txt"
            if os.path.exists(kept):
                shutil.copyfile(kept, os.path.join(APP_DIR, migrations["doneFile"]))
            run_step("migrations", [sys.executable, "-OO", f"{RUNTIME}/lm_migrate.py", "--folder", migrations["folder"],
                                    "--pattern", migrations["pattern"], "--done-file", migrations["doneFile"]], env, result["log"])
        if env.get("LM_INIT_HOOK"):
            run_step("init", [sys.executable, "-OO", f"{RUNTIME}/lm_init.py"], env, result["log"])
        errors = tempfile.TemporaryFile(mode="w+")
        app = subprocess.Popen(
            [sys.executable, "-OO", "-m", "gunicorn", "--config", f"{RUNTIME}/gunicorn.conf.py", "--pythonpath",
             f"{RUNTIME},{APP_DIR}", "--bind", f"127.0.0.1:{DRILL_PORT}", "--workers", "1", "lm_wsgi:application"],
            cwd=APP_DIR, env=env, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True,
        )
        app.errors = errors
        status, body = healthz(HEALTH_SECONDS, app)
        result.update(healthz=status)
        if status != 200:
            raise RuntimeError(f"/healthz answered {status or 'nothing'}: {body}")
        result["ok"] = True
    except Exception as e:  # noqa: BLE001 - every failure is the drill's result
        result["error"] = str(e)
    finally:
        if app is not None:
            stop(app, result)
        try:
            clear(data_dir)
        except OSError:
            pass
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def stop(app, result):
    if app.poll() is None:
        os.killpg(app.pid, signal.SIGTERM)
        try:
            app.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait()
    app.errors.seek(0)
    if not result.get("ok"):
        result["log"].extend(f"[app] {line}" for line in app.errors.read().splitlines()[-20:])
    app.errors.close()


if __name__ == "__main__":
    migrations = json.loads(os.environ["LM_DRILL_MIGRATIONS"]) if os.environ.get("LM_DRILL_MIGRATIONS") else None
    outcome = drill(sys.argv[1], migrations)
    print(json.dumps(outcome))
    sys.exit(0 if outcome["ok"] else 1)
