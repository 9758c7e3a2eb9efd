"""The backup container's loop (components/backups.ts): scheduled backups, off-host copies and a
restore drill after every backup, with a status file and a health check.

  lm_backupd.py --config JSON   the loop (the container's command; the config is kept in /tmp)
  lm_backupd.py --now           one backup + copies + drill now (`npm run backup`); exit 1 on failure
  lm_backupd.py --status        the status file as JSON
  lm_backupd.py --health        the health check: exit 1 (with the reason) when a person is needed
  lm_backupd.py --init-target DIR --label HOSTDIR
                                sets a copy folder up once, on purpose (`npm run backup -- init-target`):
                                the marker, the folder 0700; a folder without it is never copied to

Every `everySeconds` (and right away when the newest backup, e.g. the one taken before a deploy,
has not been drilled yet): lm_backup.py's backup of the live database and uploads (mounted under
/srv/live), pruned by the retention policy; a copy of every kept backup into each copy folder
(mounted under /srv/copy/N) and SFTP target, those folders pruned to the same set; then the drill
(lm_drill.py) of the newest backup. The result goes to BACKUPS/.lernmanager-backup-status.json
and the log; a failed step makes the container unhealthy until it next succeeds.

Tests only: LM_BACKUPD_SPEED=N (see loop_speed) runs the loop N times faster. The program never sets it.
"""
import argparse
import datetime
import fcntl
import glob
import json
import os
import shutil
import subprocess
import sys
import time
import types

import lm_backup

CONFIG_FILE = "/tmp/lm-backupd.json"
HEARTBEAT = "/tmp/lm-backupd.heartbeat"
STATUS_NAME = ".lernmanager-backup-status.json"
COPY_MARKER = ".lernmanager-backup-target"
POLL_SECONDS = 10
SPEED_ENV = "LM_BACKUPD_SPEED"
MAX_SPEED = 60
# After a failed backup the next try waits: 5 min, doubling, at most an hour (a full disk is not
# retried every few seconds, and each try costs the app I/O).
BACKOFF_SECONDS = (300, 3600)
# A backup dated more than this ahead of the clock is "in the future": the clock was wrong when it
# was taken, or is wrong now.
FUTURE_SLACK_SECONDS = 300


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def say(text):
    print(f"[lernmanager] backups: {text}", flush=True)


def read_json(path, default):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def write_json(path, value):
    partial = f"{path}.{os.getpid()}.partial"
    with open(partial, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def target_refused(label, folder):
    """Why a copy folder is refused (None when it was set up): only a folder set up on purpose with
    `npm run backup -- init-target` holds the marker; an empty mount point of an unmounted disk does not."""
    if os.path.exists(os.path.join(folder, COPY_MARKER)):
        return None
    what = "is empty" if not os.listdir(folder) else "has files"
    return (f"{label} {what} but has no {COPY_MARKER}: it was never set up for backups, or the disk is not "
            f"mounted there. Mount the disk; a new target: `npm run backup -- init-target <stack> {label}` once")


def copies_in(folder, stem):
    """The backups of a copy folder by their .db name, plain (<name>) or encrypted (<name>.age)."""
    found = set()
    for pattern in (f"{stem}-*.db", f"{stem}-*.db{lm_backup.AGE_SUFFIX}"):
        for p in glob.glob(os.path.join(folder, pattern)):
            name = os.path.basename(p)
            name = name[: -len(lm_backup.AGE_SUFFIX)] if name.endswith(lm_backup.AGE_SUFFIX) else name
            if lm_backup.STAMP_RE.search(name):
                found.add(name)
    return found


def remove_copy(folder, name):
    """Removes one backup's copy, plain or encrypted, with its done-file and uploads snapshot."""
    base = os.path.join(folder, name)
    shutil.rmtree(base + lm_backup.UPLOADS_SUFFIX, ignore_errors=True)
    shutil.rmtree(base + lm_backup.UPLOADS_SUFFIX + ".partial", ignore_errors=True)
    for snap in glob.glob(glob.escape(base + lm_backup.KEEP_SUFFIX) + "*"):
        shutil.rmtree(snap, ignore_errors=True)
    for suffix in ("", lm_backup.AGE_SUFFIX):
        for path in (base + lm_backup.DONE_SUFFIX + suffix, base + suffix):
            if os.path.exists(path):
                os.remove(path)


def copy_snapshot(source, target, previous, write):
    """The uploads snapshot of one backup into a copy folder: a file the local snapshot shares with the
    previous one (a hard link there) is linked to the previous copy's file, every other one written
    with write(src, dst_without_suffix). previous: (local snapshot, its copy) or None."""
    partial = target + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial, mode=0o700)
    for src, rel, dst in lm_backup.snapshot_files(source, partial):
        if previous:
            old_local, old_copy = os.path.join(previous[0], rel), os.path.join(previous[1], rel)
            if os.path.isfile(old_local) and os.path.samestat(os.stat(old_local), os.stat(src)):
                linked = write(None, old_copy, dst)
                if linked:
                    continue
        write(src, None, dst)
    os.replace(partial, target)


def copy_to_folder(cfg, label, folder):
    """Copies the kept backups the folder lacks (encrypted with age when backupEncryptTo is set); then
    removes there the copies this volume wrote that the folder's own retention no longer keeps (never
    below the local set, never another's copy)."""
    why = target_refused(label, folder)
    if why:
        raise RuntimeError(why)
    stem, local = cfg["stem"], lm_backup.backups(cfg["backups"], cfg["stem"])
    names = {os.path.basename(p) for p in local}
    mine = set(lm_backup.read_ledger(cfg["backups"]).get(label, []))
    there = copies_in(folder, stem)
    lacking = [p for p in local if os.path.basename(p) not in there]
    lm_backup.record_sent(cfg["backups"], label, [os.path.basename(p) for p in lacking])
    recipients = cfg.get("encryptTo") or []
    sealer = lm_backup.Sealer(recipients) if recipients and lacking else None
    suffix = lm_backup.AGE_SUFFIX if recipients else ""

    def put(src, dst):
        if sealer:
            sealer.seal(src, dst + suffix)
        else:
            lm_backup.copy_atomically(src, dst)

    def write(src, old, dst):
        if src is None:  # link to the previous copy's file when it is there in this form
            if os.path.isfile(old + suffix):
                os.link(old + suffix, dst + suffix)
                return True
            return False
        put(src, dst)
        if not sealer:
            st = os.stat(src)
            os.utime(dst, (st.st_atime, st.st_mtime))
        return True

    copied = 0
    previous = {}  # per snapshot suffix (uploads, each persistent folder)
    try:
        for path in local:
            target = os.path.join(folder, os.path.basename(path))
            kinds = lm_backup.snapshot_suffixes(path)
            if path in lacking:
                try:
                    # The file snapshots and done-file first, the .db last: a .db there is a complete copy.
                    remove_copy(folder, os.path.basename(path))
                    for kind in kinds:
                        copy_snapshot(path + kind, target + kind, previous.get(kind), write)
                    if os.path.exists(path + lm_backup.DONE_SUFFIX):
                        put(path + lm_backup.DONE_SUFFIX, target + lm_backup.DONE_SUFFIX)
                    put(path, target)
                except BaseException:
                    remove_copy(folder, os.path.basename(path))
                    raise
                copied += 1
            for kind in kinds:
                if os.path.isdir(target + kind):
                    # Only this volume's own previous copy is linked to, never another stack's file.
                    previous[kind] = (path + kind, target + kind)
    finally:
        if sealer:
            sealer.close()
    there = copies_in(folder, stem)
    kept = lm_backup.kept_on_target(names, mine & there, cfg["keep"], lm_backup.parse_retention(cfg["retention"]))
    removed = 0
    for name in sorted((mine & there) - kept):
        remove_copy(folder, name)
        removed += 1
    lm_backup.set_sent(cfg["backups"], label, kept & copies_in(folder, stem))
    return {"copied": copied, "kept": len(kept), "removed": removed, "encrypted": bool(recipients)}


def in_future(path):
    return (lm_backup.taken_at(path) - now()).total_seconds() > FUTURE_SLACK_SECONDS


def newest_real(found):
    """The newest backup not dated in the future (the schedule and the drill go by it), or None."""
    real = [p for p in found if not in_future(p)]
    return real[-1] if real else None


def backoff_seconds(failures):
    low, high = BACKOFF_SECONDS
    return min(high, low * 2 ** max(0, failures - 1))


def copy_sftp(cfg, target):
    """Mirrors the kept backups to an SFTP target with the sftp client (lm_sftp.py; key in $LM_SFTP_KEY)."""
    import lm_sftp

    return lm_sftp.mirror(cfg, target)


def cycle(cfg, reason, status):
    """Backup (unless the newest is undrilled), copies, drill. Returns True when all passed."""
    ok = True
    marker = os.path.join(os.path.dirname(cfg["database"]), ".lernmanager-data-mount")
    if os.environ.get("LM_DATA_HOST_PATH") and not os.path.exists(marker):
        status["lastBackupError"] = {"time": now().isoformat(), "error": f"{os.environ['LM_DATA_HOST_PATH']} is not mounted: unlock the disk"}
        say(f"BACKUP REFUSED: {os.environ['LM_DATA_HOST_PATH']} is not mounted (no marker in its data folder): unlock the disk")
        return False
    if reason != "drill":
        args = types.SimpleNamespace(
            database=cfg["database"], dir=cfg["backups"], keep=cfg["keep"], retention=cfg["retention"],
            label=reason, done_file=cfg.get("doneFile", ""), uploads=cfg.get("uploads", ""),
            folders=[f"{slug}={live}" for slug, live, *_ in cfg.get("folders") or []],
        )
        try:
            info = lm_backup.take_backup(args)
            if info is None:
                say(f"{cfg['database']} does not exist yet: nothing to back up")
                return True
            info["reason"] = reason
            status["lastBackup"] = info
            for key in ("lastBackupError", "failures", "retryAfter"):
                status.pop(key, None)
            up = info.get("uploads") or {}
            say(f"{reason} backup {os.path.basename(info['file'])}: {info['bytes']} bytes in {info['seconds']:.2f} s; "
                f"uploads {up.get('files', 0)} files, {up.get('copied', 0)} new or changed; {info['removed']} old removed")
        except Exception as e:  # noqa: BLE001
            failures = int(status.get("failures") or 0) + 1
            wait = backoff_seconds(failures)
            retry = now() + datetime.timedelta(seconds=wait)
            status.update(failures=failures, retryAfter=retry.isoformat(),
                          lastBackupError={"time": now().isoformat(), "error": str(e)})
            say(f"BACKUP FAILED: {e}; nothing of it was kept; next try in {wait // 60} min "
                f"({retry.strftime('%H:%M')} UTC) or now with `npm run backup -- <stack>`")
            return False
    found = lm_backup.backups(cfg["backups"], cfg["stem"])
    drilled = newest_real(found) or (found[-1] if found else None)
    if not found:
        return ok
    copies = status.setdefault("copies", {})
    for label, where in [(t, f) for t, f in cfg.get("copyDirs", [])] + [(t, None) for t in cfg.get("sftp", [])]:
        started = time.monotonic()
        try:
            result = copy_to_folder(cfg, label, where) if where else copy_sftp(cfg, label)
            copies[label] = {"time": now().isoformat(), "ok": True, "seconds": round(time.monotonic() - started, 2), **result}
            sent = f", {result['bytes']} bytes sent in {copies[label]['seconds']} s" if "bytes" in result else ""
            say(f"copy to {label}: {result['copied']} new backup(s), {result['kept']} kept there{sent}")
        except Exception as e:  # noqa: BLE001
            copies[label] = {"time": now().isoformat(), "ok": False, "error": str(e)}
            say(f"COPY TO {label} FAILED: {e}")
            ok = False
    env = dict(os.environ, LM_DRILL_MIGRATIONS=json.dumps(cfg["migrations"]) if cfg.get("migrations") else "")
    done = subprocess.run([sys.executable, "-OO", f"{os.path.dirname(__file__)}/lm_drill.py", drilled],
                          env=env, capture_output=True, text=True, timeout=900)
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"ok": False, "backup": os.path.basename(drilled), "error": f"drill crashed: {done.stderr[-500:]}"}
    result["time"] = now().isoformat()
    status["lastDrill"] = result
    if result["ok"]:
        say(f"drill of {result['backup']} passed in {result['seconds']} s: integrity ok, rows {result['rows']}, /healthz 200")
    else:
        say(f"DRILL FAILED for {result['backup']}: {result.get('error')}")
        for line in result.get("log", []):
            say(f"  {line}")
    return ok and result["ok"]


def locked_cycle(cfg, reason):
    os.makedirs(cfg["backups"], exist_ok=True)
    with open(os.path.join(cfg["backups"], ".lernmanager-backup.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        status_path = os.path.join(cfg["backups"], STATUS_NAME)
        status = read_json(status_path, {})
        ok = cycle(cfg, reason, status)
        status["everySeconds"] = cfg.get("everySeconds")
        write_json(status_path, status)
        return ok


def loop_speed():
    """LM_BACKUPD_SPEED=N (tests only, 1 to MAX_SPEED; unset: 1): the loop looks every POLL_SECONDS/N s
    and takes a scheduled backup once the newest is everySeconds/N s old, so the real-engine tests
    see several scheduled cycles (backup, copies, drill) in little time. Backup names, retention,
    back-off, the status and the health check keep wall-clock time."""
    text = os.environ.get(SPEED_ENV, "")
    if not text:
        return 1
    if not text.isdigit() or not 1 <= int(text) <= MAX_SPEED:
        raise ValueError(f"{SPEED_ENV}={text!r}: must be a whole number from 1 to {MAX_SPEED}; it is for tests only, unset it for real stacks")
    return int(text)


def due(cfg, since_last=None, speed=1):
    """What the loop should do now: "scheduled", "drill" (the newest backup is undrilled) or None.
    since_last: seconds since the loop last took a scheduled backup (None: not since it started), the
    schedule's clock when the newest backup is dated in the future. speed: see loop_speed."""
    status = read_json(os.path.join(cfg["backups"], STATUS_NAME), {})
    found = lm_backup.backups(cfg["backups"], cfg["stem"])
    every = cfg.get("everySeconds")
    every = every / speed if every else every
    retry = status.get("retryAfter")
    wait = (datetime.datetime.fromisoformat(retry) - now()).total_seconds() if retry else 0
    # Backing off after a failed backup (a retry time further off than the longest back-off: the
    # clock went back; try now). A backup taken meanwhile (before a deploy) is still drilled.
    backing_off = 0 < wait <= BACKOFF_SECONDS[1]
    newest = newest_real(found)
    if every and not backing_off:
        if newest is None or (now() - lm_backup.taken_at(newest)).total_seconds() >= every:
            # A backup dated in the future never becomes old: elapsed time decides instead.
            if newest is not None or not found or since_last is None or since_last >= every:
                return "scheduled" if os.path.exists(cfg["database"]) else None
    if newest and (status.get("lastDrill") or {}).get("backup") != os.path.basename(newest):
        return "drill"
    return None


def loop(cfg):
    try:
        speed = loop_speed()
    except ValueError as e:
        say(str(e))
        return 2
    write_json(CONFIG_FILE, cfg)
    say(f"every {cfg.get('everySeconds') or 'deploy only'} s; retention {cfg['retention']}, newest {cfg['keep']}; "
        f"copies: {[t for t, _ in cfg.get('copyDirs', [])] + cfg.get('sftp', [])}"
        + (f"; TEST speed {speed}x: interval and poll divided by {speed}" if speed != 1 else ""))
    last = None
    while True:
        with open(HEARTBEAT, "w") as f:
            f.write(now().isoformat())
        reason = due(cfg, None if last is None else time.monotonic() - last, speed)
        if reason:
            if reason == "scheduled":
                last = time.monotonic()
            locked_cycle(cfg, reason)
        time.sleep(POLL_SECONDS / speed)


def health(cfg):
    """Reasons a person is needed (empty: healthy)."""
    problems = []
    try:
        beat = os.path.getmtime(HEARTBEAT)
        if time.time() - beat > 900 + 3 * POLL_SECONDS:
            problems.append("the backup loop has stopped")
    except OSError:
        problems.append("the backup loop has not started")
    status = read_json(os.path.join(cfg["backups"], STATUS_NAME), {})
    if status.get("lastBackupError"):
        problems.append(f"the last backup failed: {status['lastBackupError']['error']}")
    drill = status.get("lastDrill")
    if drill and not drill.get("ok"):
        problems.append(f"the last restore drill failed ({drill.get('backup')}): {drill.get('error')}")
    for target, copy in (status.get("copies") or {}).items():
        if not copy.get("ok"):
            problems.append(f"the last copy to {target} failed: {copy.get('error')}")
    found = lm_backup.backups(cfg["backups"], cfg["stem"])
    future = [p for p in found if in_future(p)]
    if future:
        problems.append(
            f"{len(future)} backup(s) dated in the future, newest {os.path.basename(future[-1])}: the server's clock "
            f"was ahead when it was taken or is behind now (check `timedatectl`); the schedule goes on by elapsed time. "
            f"Once the clock is right, remove them (docker exec <backup container> rm /backups/<name>)")
    newest = newest_real(found)
    every = cfg.get("everySeconds")
    if every and newest and (now() - lm_backup.taken_at(newest)).total_seconds() > 2 * every + 600:
        problems.append(f"no backup for {int((now() - lm_backup.taken_at(newest)).total_seconds() // 60)} minutes")
    return problems


def init_target(folder, label):
    """Writes the marker into a copy folder (a person said this is the backup disk)."""
    marker = os.path.join(folder, COPY_MARKER)
    if os.path.exists(marker):
        print(f"{label} is set up for backups already ({COPY_MARKER} is there); nothing changed")
        return 0
    entries = [e for e in os.listdir(folder)]
    try:
        with open(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write("lernmanager backups: copies of the stacks' backups are written here "
                    "(set up with `npm run backup -- init-target`)\n")
        os.chmod(folder, 0o700)
    except OSError as e:
        print(f"init-target: cannot write into {label} ({e.strerror}): it must be owned by uid 10001: "
              f"`sudo install -d -o 10001 -g 10001 -m 700 {label}` on the Docker host", file=sys.stderr)
        return 1
    print(f"{label} is set up for backups ({COPY_MARKER} written, folder 0700)"
          + (f"; it already held {len(entries)} entries, left as they are" if entries else ""))
    return 0


def main():
    parser = argparse.ArgumentParser(prog="lm_backupd.py")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--config")
    mode.add_argument("--now", action="store_true")
    mode.add_argument("--status", action="store_true")
    mode.add_argument("--health", action="store_true")
    mode.add_argument("--init-target")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    os.umask(lm_backup.PRIVATE_UMASK)
    if args.config:
        return loop(json.loads(args.config))
    if args.init_target:
        return init_target(args.init_target, args.label or args.init_target)
    cfg = read_json(CONFIG_FILE, None)
    if cfg is None:
        print("the backup loop has not started (no /tmp/lm-backupd.json)", file=sys.stderr)
        return 1
    if args.now:
        return 0 if locked_cycle(cfg, "manual") else 1
    if args.status:
        status = read_json(os.path.join(cfg["backups"], STATUS_NAME), {})
        status["backups"] = [{"file": os.path.basename(p), "bytes": os.path.getsize(p)} for p in lm_backup.backups(cfg["backups"], cfg["stem"])]
        status["health"] = health(cfg)
        status["config"] = {k: cfg.get(k) for k in ("everySeconds", "keep", "retention", "copyDirs", "sftp", "database")}
        usage = shutil.disk_usage(os.path.dirname(cfg["database"]))
        status["disk"] = {"free": usage.free, "total": usage.total}
        print(json.dumps(status))
        return 0
    problems = health(cfg)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
