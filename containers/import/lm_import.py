"""Moves an old Lernmanager install's data into a stack's volumes (`npm run import`).

Three modes, one file (it is sent as a script, so it needs nothing installed but python3):

  pack ROOT FOLDER...     on the old server (`python3 - pack ...`, locally or over ssh): writes a tar
                          stream of the FOLDERs below ROOT to stdout. Every SQLite database is copied
                          by SQLite's online backup API (consistent even while the old app writes,
                          WAL content included), never as raw bytes; -wal/-shm/-journal files are
                          left out (the backup holds their content). The last stderr line is
                          `LMIMPORT {json}`: files, bytes, rows per table, the old .env's values.
  check [--overwrite] DIR...  in a helper container with the stack's volumes mounted: refuses (exit 3)
                          when a DIR is not empty, unless --overwrite (before the old server is read).
  unpack DBFILE DIR... [--overwrite]  in the same helper: extracts the stream from stdin into a
                          staging folder in each DIR, and only once it is complete replaces what the
                          DIRs held; gives everything to the app's user, checks the database
                          (integrity_check) and prints `LMIMPORT {json}` with what arrived.
"""
import json
import os
import shutil
import sqlite3
import sys
import tarfile
import tempfile

APP_UID = 10001
SKIP_SUFFIXES = ("-wal", "-shm", "-journal")
# cli/data-host-path-init.sh's marker in a folder under dataHostPath: it says the disk is mounted,
# belongs to the disk and not to the data, so an import neither counts it nor removes it.
MARKER = ".lernmanager-data-mount"
SQLITE_MAGIC = b"SQLite format 3\x00"


def is_sqlite(path):
    try:
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def table_rows(path):
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {n: conn.execute('SELECT count(*) FROM "%s"' % n.replace('"', '""')).fetchone()[0] for n in names}
    finally:
        conn.close()


def read_env(path):
    """The .env's values; None without one. A .env this user may not read (deploy/setup.sh makes it
    root's, mode 600) raises PermissionError: the caller reports it and copies the data anyway."""
    values = {}
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            name, value = line.split("=", 1)
            name = name.strip()
            if name.startswith("export "):
                name = name[len("export "):].strip()
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[name] = value
    return values


def copy_database(src, dst):
    """A consistent copy of SQLite database `src` by SQLite's online backup.

    As a user who may read the database but not write its folder (the old app's service user owns
    it, and with the app stopped no -shm file is there), SQLite cannot open a WAL database at all
    ("attempt to write a readonly database"). Then it is opened read-only as immutable, which is
    safe only while nobody writes and nothing is left in a -wal file: with a -wal file there, the
    copy stops with the reason instead of missing its last writes."""
    def backup(uri):
        source = sqlite3.connect(uri, uri=True, timeout=30)
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()

    try:
        backup(f"file:{src}")
        return
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc) and "unable to open" not in str(exc):
            raise
        first = exc
    if os.path.exists(src + "-wal") and os.path.getsize(src + "-wal") > 0:
        sys.exit(
            f"import: {src} cannot be read as this user ({first}), and its -wal file still holds writes: "
            "stop the old app cleanly (it writes them into the database) or import as its owner"
        )
    if os.path.exists(dst):
        os.remove(dst)
    backup(f"file:{src}?mode=ro&immutable=1")


def pack(root, folders):
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        sys.exit(f"import: {root} is not a folder on this machine")
    summary = {"side": "source", "root": root, "files": 0, "bytes": 0, "databases": {}, "skipped": [], "missing": []}
    # Before any data is sent: a .env that cannot be read must not fail the import after the copy.
    env_file = os.path.join(root, ".env")
    try:
        summary["env"] = read_env(env_file)
    except PermissionError:
        summary["env"] = None
        summary["env_error"] = (
            f"{env_file} is readable by root only (as deploy/setup.sh leaves it): its settings were not read. "
            f"See them with `ssh -t <server> sudo cat {env_file}` and set them with `pulumi config set`"
        )
    scratch = tempfile.mkdtemp(prefix="lm-import-")
    tar = tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT)
    try:
        for folder in folders:
            top = os.path.join(root, folder)
            if not os.path.isdir(top):
                summary["missing"].append(folder)
                continue
            # The folder itself as a folder, also where it is a symlink to another disk (data/ -> /srv/disk/data).
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(os.stat(top).st_mtime)
            tar.addfile(info)
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames.sort()
                rel_dir = os.path.relpath(dirpath, root)
                for d in dirnames:
                    tar.add(os.path.join(dirpath, d), arcname=os.path.join(rel_dir, d), recursive=False)
                for name in sorted(filenames):
                    src, arc = os.path.join(dirpath, name), os.path.join(rel_dir, name)
                    if name == MARKER and dirpath == top:
                        continue  # the other disk's marker, not the app's data
                    # Journals first: copying the database may have made and removed them since the walk.
                    if name.endswith(SKIP_SUFFIXES):
                        summary["skipped"].append(arc + " (SQLite journal: its content is in the backup)")
                        continue
                    if os.path.islink(src) or not os.path.isfile(src):
                        summary["skipped"].append(arc + " (not a regular file)")
                        continue
                    if is_sqlite(src):
                        copy = os.path.join(scratch, "backup.db")
                        copy_database(src, copy)
                        summary["databases"][arc] = table_rows(copy)
                        src = copy
                    tar.add(src, arcname=arc, recursive=False)
                    summary["files"] += 1
                    summary["bytes"] += os.path.getsize(src)
                    if src.startswith(scratch):
                        os.remove(src)
        tar.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("LMIMPORT " + json.dumps(summary, sort_keys=True), file=sys.stderr, flush=True)


STAGE = ".lm-import-new"


def contents(folder):
    return [e for e in os.listdir(folder) if e not in (STAGE, MARKER)]


def check(dirs, overwrite):
    full = [d for d in dirs if contents(d)]
    marked = [d for d in dirs if os.path.isfile(os.path.join(d, MARKER))]
    print("LMIMPORT " + json.dumps({"side": "target", "notEmpty": full, "marked": marked}), flush=True)
    if full and not overwrite:
        sys.exit(3)


def clear(folder):
    for entry in contents(folder):
        path = os.path.join(folder, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def unpack(database, dirs, overwrite):
    """Extracts into a staging folder in each volume first: a source that fails half-way leaves the
    volumes as they were; only a complete stream replaces what they held (with --overwrite)."""
    roots = [os.path.relpath(d, "/target") for d in dirs]
    stages = {r: os.path.join("/target", r, STAGE) for r in roots}
    for stage in stages.values():
        shutil.rmtree(stage, ignore_errors=True)
        os.makedirs(stage)
    refused = []
    # Names are checked below; the filter argument only silences Python 3.12+'s warning.
    trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    try:
        tar = tarfile.open(fileobj=sys.stdin.buffer, mode="r|")
        for member in tar:
            name = os.path.normpath(member.name)
            root = next((r for r in roots if name == r or name.startswith(r + "/")), None)
            if root is None or name.startswith(("/", "..")) or not (member.isfile() or member.isdir()):
                refused.append(member.name)
                continue
            if name == root:
                continue
            member.name = os.path.relpath(os.path.join(stages[root], name[len(root) + 1:]), "/target")
            tar.extract(member, "/target", set_attrs=False, **trusted)
        tar.close()
    except BaseException:
        for stage in stages.values():
            shutil.rmtree(stage, ignore_errors=True)
        raise
    summary = {"side": "target", "refused": refused, "folders": {}, "databases": {}, "emptied": []}
    for d, rel in zip(dirs, roots):
        if contents(d):
            if not overwrite:
                shutil.rmtree(stages[rel], ignore_errors=True)
                sys.exit(f"import: {d} is no longer empty; nothing was changed there")
            clear(d)
            summary["emptied"].append(rel)
        for entry in os.listdir(stages[rel]):
            os.rename(os.path.join(stages[rel], entry), os.path.join(d, entry))
        os.rmdir(stages[rel])
        files = size = 0
        for dirpath, _, filenames in os.walk(d):
            os.chown(dirpath, APP_UID, APP_UID)
            for name in filenames:
                path = os.path.join(dirpath, name)
                os.chown(path, APP_UID, APP_UID)
                files += 1
                size += os.path.getsize(path)
                if is_sqlite(path):
                    conn = sqlite3.connect(path)
                    ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
                    conn.close()
                    summary["databases"][os.path.relpath(path, "/target")] = {"integrity": ok, "rows": table_rows(path)}
        summary["folders"][rel] = {"files": files, "bytes": size}
    done = os.path.join("/target", os.path.dirname(database), "migrations_done.txt")
    if os.path.isfile(done):
        with open(done, encoding="utf-8") as f:
            summary["migrationsDone"] = [l.strip() for l in f if l.strip()]
    summary["databaseFound"] = os.path.isfile(os.path.join("/target", database))
    print("LMIMPORT " + json.dumps(summary, sort_keys=True), flush=True)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "pack":
        pack(args[0], args[1:])
    elif mode == "check":
        check([a for a in args if a != "--overwrite"], "--overwrite" in args)
    elif mode == "unpack":
        unpack(args[0], [a for a in args[1:] if a != "--overwrite"], "--overwrite" in args)
    else:
        sys.exit(f"unknown mode {mode}")
