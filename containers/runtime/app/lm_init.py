"""Runs the app's init hook (LM_INIT_HOOK, `module:function`) once, before gunicorn forks.

A file lock in the data folder serialises containers that start at the same moment (two app
versions overlap during an update), so the hook never runs concurrently with itself.

After the hook succeeded, the marker file `.lernmanager-init` in the data folder names the app
version (LM_APP_VERSION) it ran for. The migrate deploy step runs this before a new app container
starts, so the container's entry script finds the marker and does not import the app a second time
(about 0.2 s of every start). Delete the marker to make the next start run the hook again;
cli/restore.sh does so.
"""
import fcntl
import importlib
import os
import sys
import time

def marker_name():
    """The marker's file name: containers/runtime/Dockerfile sets it, entrypoint.sh reads the same."""
    return os.environ["LM_INIT_MARKER"]


def main():
    spec = os.environ["LM_INIT_HOOK"]
    app_dir = os.environ["LM_APP_DIR"]
    data_dir = os.path.join(app_dir, os.environ["LM_DATA_PATH"])
    module_name, attribute = spec.split(":", 1)
    sys.path.insert(0, app_dir)
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, marker_name() + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = time.monotonic()
        hook = getattr(importlib.import_module(module_name), attribute)
        hook()
        print(f"[lernmanager] init hook {spec} ran in {time.monotonic() - started:.2f} s", flush=True)
        write_marker(os.path.join(data_dir, marker_name()), os.environ.get("LM_APP_VERSION", ""))


def run_in_worker():
    """The init hook again, in a gunicorn worker right after the fork (gunicorn.conf.py post_fork).

    The app module is already imported (preload_app), so this calls the same function object; the
    hook's per-process work (threads, settings) happens in this worker. Its schema work finds
    everything in place: the hook already ran alone before gunicorn started.
    """
    spec = os.environ["LM_INIT_HOOK"]
    module_name, attribute = spec.split(":", 1)
    started = time.monotonic()
    getattr(importlib.import_module(module_name), attribute)()
    print(f"[lernmanager] init hook {spec} ran in worker {os.getpid()} in {time.monotonic() - started:.2f} s", flush=True)


def write_marker(path, version):
    """Atomically records an app version in a marker file (nothing for an unknown version).
    Also used by lm_static.py for the static volume's marker."""
    if not version:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(version + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
