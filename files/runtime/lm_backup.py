"""Online SQLite backups with SQLite's backup API (never a file copy of a live database).

  lm_backup.py backup  --database DB --dir DIR [--keep N] [--label TEXT] [--done-file FILE]
      Copies DB into DIR/<name>-<UTC time>[-<label>].db through the backup API (consistent even
      while the app writes; WAL content included), checks the copy with PRAGMA integrity_check,
      then keeps only the newest N backups. A missing database (first deploy) is not an error.
      With --done-file, the migrations done-file (lm_migrate.py) is kept beside the copy
      (<backup>.migrations_done.txt): the migrations that database has seen.
  lm_backup.py restore --database DB --dir DIR --from FILE|latest [--done-file FILE]
      Copies a backup back into DB through the backup API (other connections see the restored
      content; writers wait on SQLite's lock while it runs). With --done-file, the done-file goes
      back to the one kept with the backup, so the next deploy runs the migrations the restored
      database has not seen (a backup without one leaves the done-file as it is).
  lm_backup.py list    --dir DIR
"""
import argparse
import datetime
import glob
import os
import sqlite3
import sys

from lm_init import MARKER as INIT_MARKER


DONE_SUFFIX = ".migrations_done.txt"


def backups(directory, stem):
    return sorted(glob.glob(os.path.join(directory, f"{stem}-*.db")))


def copy_atomically(source, target):
    """Writes target with source's content, durably, in one rename."""
    with open(source, "rb") as f:
        data = f.read()
    partial = f"{target}.{os.getpid()}.partial"
    with open(partial, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, target)


def backup(args):
    if not os.path.exists(args.database):
        print(f"backup: {args.database} does not exist yet (first deploy): nothing to back up")
        return 0
    os.makedirs(args.dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(args.database))[0]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    label = f"-{args.label}" if args.label else ""
    target = os.path.join(args.dir, f"{stem}-{stamp}{label}.db")
    partial = target + ".partial"
    source = sqlite3.connect(f"file:{args.database}?mode=ro", uri=True, timeout=30)
    dest = sqlite3.connect(partial)
    try:
        source.backup(dest, pages=1024)
        dest.execute("PRAGMA journal_mode=DELETE")
        check = dest.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise RuntimeError(f"integrity_check of the copy says {check}")
    finally:
        dest.close()
        source.close()
    os.replace(partial, target)
    if args.done_file and os.path.exists(args.done_file):
        copy_atomically(args.done_file, target + DONE_SUFFIX)
    kept = backups(args.dir, stem)
    for old in kept[: max(0, len(kept) - args.keep)]:
        os.remove(old)
        if os.path.exists(old + DONE_SUFFIX):
            os.remove(old + DONE_SUFFIX)
    print(f"backup: wrote {target} ({os.path.getsize(target)} bytes); keeping {min(len(kept), args.keep)}")
    return 0


def restore(args):
    stem = os.path.splitext(os.path.basename(args.database))[0]
    if args.source == "latest":
        found = backups(args.dir, stem)
        if not found:
            print(f"restore: no backups of {stem} in {args.dir}", file=sys.stderr)
            return 1
        source_path = found[-1]
    else:
        source_path = args.source if os.path.isabs(args.source) else os.path.join(args.dir, args.source)
    if not os.path.exists(source_path):
        print(f"restore: {source_path} does not exist", file=sys.stderr)
        return 1
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    dest = sqlite3.connect(args.database, timeout=30)
    try:
        source.backup(dest)
    finally:
        dest.close()
        source.close()
    # The backup may predate the app version's init hook (e.g. its schema changes): the next app
    # start runs the hook again (see lm_init.py).
    marker = os.path.join(os.path.dirname(os.path.abspath(args.database)), INIT_MARKER)
    if os.path.exists(marker):
        os.remove(marker)
    print(f"restore: {args.database} restored from {source_path}; the init hook runs again at the next app start")
    kept = source_path + DONE_SUFFIX
    if args.done_file and os.path.exists(kept):
        copy_atomically(kept, args.done_file)
        with open(args.done_file, encoding="utf-8") as f:
            count = sum(1 for line in f if line.strip())
        print(
            f"restore: {args.done_file} lists the {count} migration(s) that backup had seen; "
            "the next deploy runs the ones after them"
        )
    elif args.done_file:
        # Unknown which migrations that database has seen: running them all again could repeat a
        # data migration, so the done-file stays as it is.
        print(f"restore: that backup kept no migrations done-file; {args.done_file} left as it is (check it)")
    return 0


def main():
    parser = argparse.ArgumentParser(prog="lm_backup.py")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backup")
    b.add_argument("--database", required=True)
    b.add_argument("--dir", required=True)
    b.add_argument("--keep", type=int, default=10)
    b.add_argument("--label", default="")
    b.add_argument("--done-file", default="")
    r = sub.add_parser("restore")
    r.add_argument("--database", required=True)
    r.add_argument("--dir", required=True)
    r.add_argument("--from", dest="source", required=True)
    r.add_argument("--done-file", default="")
    ls = sub.add_parser("list")
    ls.add_argument("--dir", required=True)
    args = parser.parse_args()
    if args.command == "backup":
        return backup(args)
    if args.command == "restore":
        return restore(args)
    for path in sorted(glob.glob(os.path.join(args.dir, "*.db"))):
        print(f"{os.path.basename(path)}\t{os.path.getsize(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
