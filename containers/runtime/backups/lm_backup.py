"""Online SQLite backups with SQLite's backup API (never a file copy of a live database).

  lm_backup.py backup  --database DB --dir DIR [--keep N] [--retention hourly=H,daily=D,weekly=W]
                       [--label TEXT] [--done-file FILE] [--uploads DIR] [--folder SLUG=DIR ...]
      Copies DB into DIR/<name>-<UTC time>[-<label>].db through the backup API (consistent even
      while the app writes; WAL content included), checks the copy with PRAGMA integrity_check,
      then prunes: kept are the newest N backups and, per --retention, the newest backup of each of
      the last H hours, D days and W ISO weeks that have one. A missing database (first deploy) is
      not an error. With --uploads, the uploads folder is kept beside it (<backup>.uploads/): new or
      changed files are copied, unchanged ones hard-linked to the previous snapshot.
      With --done-file, the migrations done-file (lm_migrate.py) is kept beside the copy
      (<backup>.migrations_done.txt): the migrations that database has seen.
  lm_backup.py restore --database DB --dir DIR --from FILE|latest [--done-file FILE]
                       [--uploads DIR] [--folder SLUG=DIR ...]
      Copies a backup back into DB through the backup API (other connections see the restored
      content; writers wait on SQLite's lock while it runs). With --done-file, the done-file goes
      back to the one kept with the backup, so the next deploy runs the migrations the restored
      database has not seen (a backup without one leaves the done-file as it is). With --uploads and
      --folder, each folder the backup holds a snapshot of gets exactly that snapshot's files back (a
      backup without one, e.g. one taken before a deploy, leaves the folder as it is).
  lm_backup.py list    --dir DIR
"""
import argparse
import datetime
import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

from lm_init import marker_name as init_marker_name


DONE_SUFFIX = ".migrations_done.txt"
# Which copies on each off-host target this backups volume wrote: only those it ever prunes there.
# A new server (an empty volume) or another stack sharing the target has none of them listed, so
# neither removes a copy it did not write.
LEDGER_NAME = ".lernmanager-copies.json"
# Every file the backups write is 0600, every folder 0700: the copies hold minors' data.
PRIVATE_UMASK = 0o077
# Free space a backup needs beyond its own size: the margin of the space check.
SPACE_MARGIN_BYTES = 4 * 1024 * 1024
UPLOADS_SUFFIX = ".uploads"
# A further persistent folder's snapshot: <backup>.keep-<slug> (the slug of its volume's name).
KEEP_SUFFIX = ".keep-"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
STAMP_RE = re.compile(r"-(\d{8}T\d{6})(\d{6})Z(?:-[^/]*)?\.db$")


def backups(directory, stem):
    """The backups of one database, oldest first (the name starts with the UTC time)."""
    return sorted(p for p in glob.glob(os.path.join(directory, f"{stem}-*.db")) if STAMP_RE.search(p))


def taken_at(path):
    """The UTC time a backup was taken, from its name."""
    m = STAMP_RE.search(path)
    return datetime.datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=datetime.timezone.utc)


def parse_retention(text):
    counts = {"hourly": 0, "daily": 0, "weekly": 0}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        kind, _, n = part.partition("=")
        if kind not in counts or not n.isdigit():
            raise ValueError(f"retention: {part!r} is not hourly=N, daily=N or weekly=N")
        counts[kind] = int(n)
    return counts


def to_keep(paths, keep, retention):
    """The backups a prune keeps: the newest `keep`, plus the newest of each of the last N hours/days/weeks."""
    newest_first = sorted(paths, reverse=True)
    kept = set(newest_first[:keep])
    buckets = {
        "hourly": lambda t: t.strftime("%Y%m%d%H"),
        "daily": lambda t: t.strftime("%Y%m%d"),
        "weekly": lambda t: "%d-%02d" % t.isocalendar()[:2],
    }
    for kind, bucket in buckets.items():
        seen = []
        for path in newest_first:
            b = bucket(taken_at(path))
            if b in seen:
                continue
            if len(seen) >= retention.get(kind, 0):
                break
            seen.append(b)
            kept.add(path)
    return kept


def snapshot_suffixes(path):
    """The file snapshots a backup holds, by suffix: `.uploads` and `.keep-<slug>` per persistent folder."""
    found = [UPLOADS_SUFFIX] if os.path.isdir(path + UPLOADS_SUFFIX) else []
    keep = glob.glob(glob.escape(path + KEEP_SUFFIX) + "*")
    return found + sorted(p[len(path):] for p in keep if os.path.isdir(p) and not p.endswith(".partial"))


def parse_folders(items):
    """--folder SLUG=DIR arguments → [(slug, dir)]."""
    result = []
    for item in items or []:
        slug, _, folder = item.partition("=")
        if not SLUG_RE.match(slug) or not folder:
            raise ValueError(f"--folder {item!r} is not SLUG=DIR (slug: lower-case letters, digits and -)")
        result.append((slug, folder))
    return result


def remove_backup(path):
    """Removes a backup with its done-file and file snapshots."""
    if os.path.exists(path + DONE_SUFFIX):
        os.remove(path + DONE_SUFFIX)
    for suffix in snapshot_suffixes(path):
        shutil.rmtree(path + suffix, ignore_errors=True)
    os.remove(path)


def prune(directory, stem, keep, retention):
    """Removes the backups the policy does not keep; returns (kept, removed) counts."""
    found = backups(directory, stem)
    kept = to_keep(found, keep, retention)
    for path in found:
        if path not in kept:
            remove_backup(path)
    return len(kept), len(found) - len(kept)


def snapshot(source, target, previous=None):
    """Copies the folder source to target: files unchanged since the previous snapshot (same size and
    modification time) are hard-linked to it, new or changed ones copied. Returns counts."""
    stats = {"files": 0, "copied": 0, "linked": 0, "bytes_copied": 0}
    partial = target + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial, mode=0o700)
    try:
        _fill_snapshot(source, partial, previous, stats)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    os.replace(partial, target)
    return stats


def snapshot_files(source, partial):
    """The regular files under `source` in a stable order, as (src, rel, dst under `partial`), each
    folder made in `partial` (0700) before its files; links and special files are left out."""
    for root, dirs, files in os.walk(source):
        dirs.sort()
        rel_root = os.path.relpath(root, source)
        os.makedirs(os.path.join(partial, rel_root), mode=0o700, exist_ok=True)
        for name in sorted(files):
            src = os.path.join(root, name)
            if os.path.islink(src) or not os.path.isfile(src):
                continue
            rel = os.path.normpath(os.path.join(rel_root, name))
            yield src, rel, os.path.join(partial, rel)


def _fill_snapshot(source, partial, previous, stats):
    for src, rel, dst in snapshot_files(source, partial):
        st = os.stat(src)
        stats["files"] += 1
        old = os.path.join(previous, rel) if previous else None
        if old and os.path.isfile(old):
            o = os.stat(old)
            if o.st_size == st.st_size and int(o.st_mtime) == int(st.st_mtime):
                os.link(old, dst)
                stats["linked"] += 1
                continue
        # Content and modification time (what the next snapshot compares), never the mode: 0600.
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o600)
        os.utime(dst, (st.st_atime, st.st_mtime))
        stats["copied"] += 1
        stats["bytes_copied"] += st.st_size


def previous_snapshot(directory, stem, before, suffix=UPLOADS_SUFFIX):
    """The newest snapshot (uploads, or the folder of `suffix`) of a backup older than `before`, or None."""
    for path in reversed(backups(directory, stem)):
        if path < before and os.path.isdir(path + suffix):
            return path + suffix
    return None


def copy_atomically(source, target):
    """Writes target (0600) with source's content, durably, in one rename; nothing left on failure."""
    partial = f"{target}.{os.getpid()}.partial"
    try:
        with open(source, "rb") as src, open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            shutil.copyfileobj(src, f, 1024 * 1024)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, target)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise


AGE_SUFFIX = ".age"


class Sealer:
    """Encrypts files with age to the recipients of backupEncryptTo (the copies leave the backup
    container only encrypted; the private key is never on the server). Files 0600; nothing is left
    of a failed encryption."""

    def __init__(self, recipients):
        if not shutil.which("age"):
            raise RuntimeError("the app image has no age (Debian package age), needed by backupEncryptTo")
        fd, self.recipients_file = tempfile.mkstemp(prefix="lm-age-recipients-")
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(recipients) + "\n")

    def seal(self, source, target):
        partial = f"{target}.{os.getpid()}.partial"
        try:
            done = subprocess.run(["age", "-R", self.recipients_file, "-o", partial, source],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"age could not encrypt {os.path.basename(source)}: {done.stderr.strip()[-300:]}")
            os.chmod(partial, 0o600)
            os.replace(partial, target)
        finally:
            if os.path.exists(partial):
                os.remove(partial)

    def close(self):
        if os.path.exists(self.recipients_file):
            os.remove(self.recipients_file)


def changed_upload_bytes(source, previous):
    """Bytes of the files in the uploads folder that a snapshot would copy (not linkable to previous)."""
    total = 0
    for root, _dirs, files in os.walk(source):
        rel_root = os.path.relpath(root, source)
        for name in files:
            src = os.path.join(root, name)
            if os.path.islink(src) or not os.path.isfile(src):
                continue
            st = os.stat(src)
            old = os.path.join(previous, rel_root, name) if previous else None
            if old and os.path.isfile(old):
                o = os.stat(old)
                if o.st_size == st.st_size and int(o.st_mtime) == int(st.st_mtime):
                    continue
            total += st.st_size
    return total


def space_needed(database, uploads, previous, folders=()):
    """Bytes a backup will write: the database with its WAL, the changed uploads (and changed files of
    the folders: [(dir, previous snapshot)]), and a margin."""
    size = sum(os.path.getsize(p) for p in (database, database + "-wal") if os.path.exists(p))
    for folder, before in [(uploads, previous), *folders]:
        if folder and os.path.isdir(folder):
            size += changed_upload_bytes(folder, before)
    return int(size * 1.1) + SPACE_MARGIN_BYTES


class NoSpace(RuntimeError):
    """Not enough free space for a backup: nothing was written."""


def check_space(directory, needed):
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise NoSpace(
            f"not enough free space in {directory} for a backup: {needed // 1024} KiB needed (database, "
            f"changed uploads and a margin), {free // 1024} KiB free; nothing was written. Free space there "
            f"(fewer kept backups: backupKeep/backupRetention) or give the backups volume a larger disk")


def discard(target):
    """Removes whatever a failed backup left: the .partial, the .db, its done-file and uploads snapshot."""
    for path in (target + ".partial", target, target + DONE_SUFFIX):
        if os.path.exists(path):
            os.remove(path)
    for path in (target + UPLOADS_SUFFIX, target + UPLOADS_SUFFIX + ".partial",
                 *glob.glob(glob.escape(target + KEEP_SUFFIX) + "*")):
        shutil.rmtree(path, ignore_errors=True)


def read_ledger(directory):
    """{target: [backup names this volume wrote there]} (LEDGER_NAME)."""
    try:
        with open(os.path.join(directory, LEDGER_NAME), encoding="utf-8") as f:
            value = json.load(f)
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def write_ledger(directory, ledger):
    path = os.path.join(directory, LEDGER_NAME)
    partial = f"{path}.{os.getpid()}.partial"
    with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
        json.dump({k: sorted(set(v)) for k, v in ledger.items()}, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def record_sent(directory, target, names):
    """Adds names to what this volume wrote to target (before they are written: a copy interrupted
    half-way is still ours to finish or remove)."""
    ledger = read_ledger(directory)
    ledger[target] = sorted(set(ledger.get(target, [])) | set(names))
    write_ledger(directory, ledger)


def set_sent(directory, target, names):
    ledger = read_ledger(directory)
    ledger[target] = sorted(set(names))
    write_ledger(directory, ledger)


def kept_on_target(local_names, ours_there, keep, retention):
    """What one copy target keeps of this volume's backups: its own list (what this volume wrote
    there and what it is about to copy) under the retention policy, and always every backup of the
    local set: a target never holds less than the local set could give it back."""
    local_names = set(local_names)
    return to_keep(local_names | set(ours_there), keep, retention) | local_names


def backup(args):
    info = take_backup(args)
    if info is None:
        print(f"backup: {args.database} does not exist yet (first deploy): nothing to back up")
        return 0
    uploads = info.get("uploads")
    print(
        f"backup: wrote {info['file']} ({info['bytes']} bytes) in {info['seconds']:.2f} s"
        + (f"; uploads: {uploads['files']} files, {uploads['copied']} new or changed" if uploads else "")
        + f"; keeping {info['kept']}"
    )
    return 0


def take_backup(args):
    """One backup (see the module's help); None when the database does not exist yet."""
    if not os.path.exists(args.database):
        return None
    started = datetime.datetime.now(datetime.timezone.utc)
    os.makedirs(args.dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(args.database))[0]
    stamp = started.strftime("%Y%m%dT%H%M%S%fZ")
    label = f"-{args.label}" if args.label else ""
    target = os.path.join(args.dir, f"{stem}-{stamp}{label}.db")
    uploads = getattr(args, "uploads", "")
    previous = previous_snapshot(args.dir, stem, target) if uploads and os.path.isdir(uploads) else None
    folders = [(slug, folder, previous_snapshot(args.dir, stem, target, KEEP_SUFFIX + slug))
               for slug, folder in parse_folders(getattr(args, "folders", None)) if os.path.isdir(folder)]
    # Before anything is written: a full disk refuses here, with the reason, and leaves nothing behind.
    check_space(args.dir, space_needed(args.database, uploads, previous, [(f, p) for _, f, p in folders]))
    os.umask(PRIVATE_UMASK)
    try:
        info = _write_backup(args, target, started, uploads, previous, folders)
    except BaseException:
        discard(target)
        raise
    info["kept"], info["removed"] = prune(args.dir, stem, args.keep, parse_retention(args.retention))
    info["seconds"] = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
    return info


def copy_step_pages(source):
    """Pages per step of SQLite's online backup from `source`: all in one step for a WAL database.

    Any commit of another connection between two steps restarts the copy from its first page. While
    a class works, the app commits every few milliseconds: a copy in pieces of a large database then
    finishes only in a pause, possibly never (160 MB under steady commits: 360 restarts, 20 s, done only
    when the writer stopped; in one step 0.3 s). In WAL mode one step is one read transaction: the
    app's writers go on meanwhile (into the -wal file) and the copy is the database as of its start.
    In the other journal modes one step would hold the app's commits off for the whole copy, so the
    copy goes in pieces there."""
    mode = source.execute("PRAGMA journal_mode").fetchone()[0]
    return -1 if str(mode).lower() == "wal" else 1024


def _write_backup(args, target, started, uploads, previous, folders=()):
    partial = target + ".partial"
    source = sqlite3.connect(f"file:{args.database}?mode=ro", uri=True, timeout=30)
    dest = sqlite3.connect(partial)
    try:
        source.backup(dest, pages=copy_step_pages(source))
        dest.execute("PRAGMA journal_mode=DELETE")
        check = dest.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise RuntimeError(f"integrity_check of the copy says {check}")
    finally:
        dest.close()
        source.close()
    os.chmod(partial, 0o600)
    if args.done_file and os.path.exists(args.done_file):
        copy_atomically(args.done_file, target + DONE_SUFFIX)
    info = {"file": target, "time": started.isoformat()}
    if uploads and os.path.isdir(uploads):
        info["uploads"] = snapshot(uploads, target + UPLOADS_SUFFIX, previous)
    for slug, folder, before in folders:
        info.setdefault("folders", {})[slug] = snapshot(folder, target + KEEP_SUFFIX + slug, before)
    # The .db last: a .db in the folder means its done-file and uploads snapshot are complete.
    os.replace(partial, target)
    info["bytes"] = os.path.getsize(target)
    return info


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
    marker = os.path.join(os.path.dirname(os.path.abspath(args.database)), init_marker_name())
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
    wanted = [(UPLOADS_SUFFIX, getattr(args, "uploads", ""))]
    wanted += [(KEEP_SUFFIX + s, f) for s, f in parse_folders(getattr(args, "folders", None))]
    for suffix, folder in wanted:
        if not folder:
            continue
        if os.path.isdir(source_path + suffix):
            files = put_files_back(source_path + suffix, folder)
            print(f"restore: {folder} holds the {files} file(s) of that backup's snapshot again")
        else:
            print(f"restore: that backup has no {suffix[1:]} snapshot; {folder} left as it is")
    return 0


RESTORE_STAGE = ".lm-restore-new"


def put_files_back(snap, folder):
    """Makes folder hold exactly the snapshot's files: copied into a stage inside it first (a failure
    leaves the folder as it was), then what it held goes and the stage's files take its place. Files
    0644 and folders 0755, as the app writes them (nginx's own user reads the uploads)."""
    stage = os.path.join(folder, RESTORE_STAGE)
    shutil.rmtree(stage, ignore_errors=True)
    files = 0
    try:
        for src, _rel, dst in snapshot_files(snap, stage):
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)
            st = os.stat(src)
            os.utime(dst, (st.st_atime, st.st_mtime))
            files += 1
        for root, dirs, _files in os.walk(stage):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    for entry in os.listdir(folder):
        if entry != RESTORE_STAGE:
            path = os.path.join(folder, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
    for entry in os.listdir(stage):
        os.rename(os.path.join(stage, entry), os.path.join(folder, entry))
    os.rmdir(stage)
    return files


def main():
    parser = argparse.ArgumentParser(prog="lm_backup.py")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backup")
    b.add_argument("--database", required=True)
    b.add_argument("--dir", required=True)
    b.add_argument("--keep", type=int, default=10)
    b.add_argument("--retention", default="")
    b.add_argument("--label", default="")
    b.add_argument("--done-file", default="")
    b.add_argument("--uploads", default="")
    b.add_argument("--folder", dest="folders", action="append", default=[])
    r = sub.add_parser("restore")
    r.add_argument("--database", required=True)
    r.add_argument("--dir", required=True)
    r.add_argument("--from", dest="source", required=True)
    r.add_argument("--done-file", default="")
    r.add_argument("--uploads", default="")
    r.add_argument("--folder", dest="folders", action="append", default=[])
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
