"""Runs the app's init hook (LM_INIT_HOOK, `module:function`) once, before gunicorn forks.

A file lock in the data folder serialises containers that start at the same moment (two app
versions overlap during an update), so the hook never runs concurrently with itself.
"""
import fcntl
import importlib
import os
import sys
import time


def main():
    spec = os.environ["LM_INIT_HOOK"]
    app_dir = os.environ["LM_APP_DIR"]
    data_dir = os.path.join(app_dir, os.environ["LM_DATA_PATH"])
    module_name, attribute = spec.split(":", 1)
    sys.path.insert(0, app_dir)
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, ".lernmanager-init.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = time.monotonic()
        hook = getattr(importlib.import_module(module_name), attribute)
        hook()
        print(f"[lernmanager] init hook {spec} ran in {time.monotonic() - started:.2f} s", flush=True)


if __name__ == "__main__":
    main()
