"""Copies the image's static files into the static volume, changed files only, atomically.

A named volume is filled from the image only while it is empty, so after a rebuild nginx would
serve stale files; this runs on every start instead. Each changed file is written beside its target
and renamed over it, so nginx (which may hold the old file open) never sees a half-written file.
Files that did not change keep their mtime, so their ETag stays valid in browsers.
Usage: python3 lm_static.py SOURCE_DIR TARGET_DIR
"""
import filecmp
import os
import shutil
import sys


def sync(source, target):
    copied = same = 0
    for root, dirs, files in os.walk(source):
        rel = os.path.relpath(root, source)
        dest_dir = target if rel == "." else os.path.join(target, rel)
        os.makedirs(dest_dir, exist_ok=True)
        for name in files:
            src = os.path.join(root, name)
            dest = os.path.join(dest_dir, name)
            if os.path.isfile(dest) and filecmp.cmp(src, dest, shallow=False):
                same += 1
                continue
            tmp = os.path.join(dest_dir, f".{name}.lm-tmp-{os.getpid()}")
            shutil.copyfile(src, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
            copied += 1
    return copied, same


if __name__ == "__main__":
    copied, same = sync(sys.argv[1], sys.argv[2])
    print(f"[lernmanager] static files: {copied} updated, {same} unchanged", flush=True)
