"""Runs the app's migration scripts that have not run yet, the way Lernmanager's own update script does.

Every file in the migrations folder whose name matches the pattern and is not listed in the
done-file runs, in name order, as `python3 <file>` from the app folder with PYTHONPATH set to the
app folder (so `import config` / `import models` find the app's own modules). After a migration
exits 0 its file name is appended to the done-file (flushed and fsynced). The first migration that
fails stops the run: it is not recorded, the ones after it do not run, and this script exits with
its exit code, which fails the deploy step (the running version keeps serving).

The migrations run without PYTHONOPTIMIZE (as under the app's update script: asserts and
docstrings intact) and without the stack's LM_ADMIN_* variables. Their output goes to the deploy
log, with one line per migration from this script.

Usage (the migrate deploy step, in a one-off container of the new image, data volume mounted):
  python3 -OO lm_migrate.py --folder migrate --pattern 'migrate_*.py' --done-file data/migrations_done.txt
"""
import argparse
import fcntl
import fnmatch
import os
import subprocess
import sys
import time

TAG = "[lernmanager] migrations:"


def say(text):
    print(f"{TAG} {text}", flush=True)


def read_done(path):
    """The file names recorded in the done-file (an absent file records none)."""
    try:
        with open(path, encoding="utf-8") as f:
            return {line.strip() for line in f if line.strip()}
    except FileNotFoundError:
        return set()


def migrations(folder, pattern):
    """The migration files of the folder in name order."""
    names = [
        name
        for name in os.listdir(folder)
        if fnmatch.fnmatchcase(name, pattern) and os.path.isfile(os.path.join(folder, name))
    ]
    return sorted(names)


def record(path, name):
    """Appends one name to the done-file and makes it durable before the next migration runs."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        # A hand-edited file may lack its last newline: never glue two names together.
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")
        os.write(fd, name.encode("utf-8") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def child_env(app_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LM_ADMIN_") and k != "PYTHONOPTIMIZE"}
    env["PYTHONPATH"] = app_dir
    return env


def run(app_dir, folder, pattern, done_file):
    """Runs the pending migrations; returns 0, or the exit code of the first one that failed."""
    folder_path = os.path.join(app_dir, folder)
    done_path = os.path.join(app_dir, done_file)
    if not os.path.isdir(folder_path):
        say(f"no folder {folder}/ in the app: nothing to run")
        return 0
    os.makedirs(os.path.dirname(done_path), exist_ok=True)
    with open(f"{done_path}.lock", "a") as lock:
        # One runner at a time on this data volume.
        fcntl.flock(lock, fcntl.LOCK_EX)
        names = migrations(folder_path, pattern)
        done = read_done(done_path)
        todo = [n for n in names if n not in done]
        say(
            f"{len(names)} in {folder}/ ({pattern}), {len(names) - len(todo)} already done "
            f"(listed in {done_file}), {len(todo)} to run"
        )
        env = child_env(app_dir)
        for i, name in enumerate(todo):
            say(f"running {name}")
            started = time.monotonic()
            code = subprocess.run([sys.executable, os.path.join(folder_path, name)], cwd=app_dir, env=env).returncode
            took = time.monotonic() - started
            if code != 0:
                left = len(todo) - i - 1
                say(
                    f"{name} FAILED with exit code {code} after {took:.2f} s: not recorded; "
                    f"stopping ({left} later migration(s) not run)."
                )
                return code if code > 0 else 1
            record(done_path, name)
            say(f"{name} ran in {took:.2f} s (recorded)")
        say(f"done: {len(todo)} ran, {len(names) - len(todo)} already done")
        return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description="Runs the app's pending migrations once.")
    parser.add_argument("--app-dir", default=os.environ.get("LM_APP_DIR", "/app"))
    parser.add_argument("--folder", required=True, help="migrations folder, relative to the app folder")
    parser.add_argument("--pattern", required=True, help="file name pattern, e.g. migrate_*.py")
    parser.add_argument("--done-file", required=True, help="done-file, relative to the app folder")
    args = parser.parse_args(argv)
    return run(args.app_dir, args.folder, args.pattern, args.done_file)


if __name__ == "__main__":
    sys.exit(main())
