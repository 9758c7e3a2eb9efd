"""The backup container's loop (components/backupAgent.ts): scheduled backups, off-host copies and a
restore drill after every backup, with a status file and a health check.

  lm_backupd.py --config JSON   the loop (the container's command; the config is kept in /tmp)
  lm_backupd.py --now           one backup + copies + drill now (`npm run backup`); exit 1 on failure
  lm_backupd.py --status        the status file as JSON
  lm_backupd.py --health        the health check: exit 1 (with the reason) when a person is needed

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


def copy_to_folder(cfg, folder):
    """Mirrors the kept backups into one copy folder (only what it lacks); prunes it to the same set."""
    marker = os.path.join(folder, COPY_MARKER)
    if not os.path.exists(marker):
        if os.listdir(folder):
            raise RuntimeError(f"{folder} has files but no {COPY_MARKER}: not the folder set up for backups (is the disk mounted?)")
        with open(marker, "w") as f:
            f.write("lernmanager backups: copies of the stack's backups are written here\n")
    stem, local = cfg["stem"], lm_backup.backups(cfg["backups"], cfg["stem"])
    names = {os.path.basename(p) for p in local}
    copied = 0
    for path in local:
        target = os.path.join(folder, os.path.basename(path))
        if not os.path.exists(target):
            for suffix in ("", lm_backup.DONE_SUFFIX):
                if os.path.exists(path + suffix):
                    lm_backup.copy_atomically(path + suffix, target + suffix)
            copied += 1
        if os.path.isdir(path + lm_backup.UPLOADS_SUFFIX) and not os.path.isdir(target + lm_backup.UPLOADS_SUFFIX):
            previous = lm_backup.previous_snapshot(folder, stem, target)
            lm_backup.snapshot(path + lm_backup.UPLOADS_SUFFIX, target + lm_backup.UPLOADS_SUFFIX, previous)
    for path in lm_backup.backups(folder, stem):
        if os.path.basename(path) not in names:
            lm_backup.remove_backup(path)
    return {"copied": copied, "kept": len(names)}


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
        )
        try:
            info = lm_backup.take_backup(args)
            if info is None:
                say(f"{cfg['database']} does not exist yet: nothing to back up")
                return True
            info["reason"] = reason
            status["lastBackup"] = info
            status.pop("lastBackupError", None)
            up = info.get("uploads") or {}
            say(f"{reason} backup {os.path.basename(info['file'])}: {info['bytes']} bytes in {info['seconds']:.2f} s; "
                f"uploads {up.get('files', 0)} files, {up.get('copied', 0)} new or changed; {info['removed']} old removed")
        except Exception as e:  # noqa: BLE001
            status["lastBackupError"] = {"time": now().isoformat(), "error": str(e)}
            say(f"BACKUP FAILED: {e}")
            return False
    found = lm_backup.backups(cfg["backups"], cfg["stem"])
    if not found:
        return ok
    copies = status.setdefault("copies", {})
    for label, where in [(t, f) for t, f in cfg.get("copyDirs", [])] + [(t, None) for t in cfg.get("sftp", [])]:
        started = time.monotonic()
        try:
            result = copy_to_folder(cfg, where) if where else copy_sftp(cfg, label)
            copies[label] = {"time": now().isoformat(), "ok": True, "seconds": round(time.monotonic() - started, 2), **result}
            sent = f", {result['bytes']} bytes sent in {copies[label]['seconds']} s" if "bytes" in result else ""
            say(f"copy to {label}: {result['copied']} new backup(s), {result['kept']} kept there{sent}")
        except Exception as e:  # noqa: BLE001
            copies[label] = {"time": now().isoformat(), "ok": False, "error": str(e)}
            say(f"COPY TO {label} FAILED: {e}")
            ok = False
    env = dict(os.environ, LM_DRILL_MIGRATIONS=json.dumps(cfg["migrations"]) if cfg.get("migrations") else "")
    done = subprocess.run([sys.executable, "-OO", f"{os.path.dirname(__file__)}/lm_drill.py", found[-1]],
                          env=env, capture_output=True, text=True, timeout=900)
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"ok": False, "backup": os.path.basename(found[-1]), "error": f"drill crashed: {done.stderr[-500:]}"}
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
    the status and the health check keep wall-clock time."""
    text = os.environ.get(SPEED_ENV, "")
    if not text:
        return 1
    if not text.isdigit() or not 1 <= int(text) <= MAX_SPEED:
        raise ValueError(f"{SPEED_ENV}={text!r}: must be a whole number from 1 to {MAX_SPEED}; it is for tests only, unset it for real stacks")
    return int(text)


def due(cfg, speed=1):
    """What the loop should do now: "scheduled", "drill" (the newest backup is undrilled) or None."""
    status = read_json(os.path.join(cfg["backups"], STATUS_NAME), {})
    found = lm_backup.backups(cfg["backups"], cfg["stem"])
    every = cfg.get("everySeconds")
    if every and (not found or (now() - lm_backup.taken_at(found[-1])).total_seconds() >= every / speed):
        return "scheduled" if os.path.exists(cfg["database"]) else None
    if found and (status.get("lastDrill") or {}).get("backup") != os.path.basename(found[-1]):
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
    while True:
        with open(HEARTBEAT, "w") as f:
            f.write(now().isoformat())
        reason = due(cfg, speed)
        if reason:
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
    every = cfg.get("everySeconds")
    if every and found and (now() - lm_backup.taken_at(found[-1])).total_seconds() > 2 * every + 600:
        problems.append(f"no backup for {int((now() - lm_backup.taken_at(found[-1])).total_seconds() // 60)} minutes")
    return problems


def main():
    parser = argparse.ArgumentParser(prog="lm_backupd.py")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--config")
    mode.add_argument("--now", action="store_true")
    mode.add_argument("--status", action="store_true")
    mode.add_argument("--health", action="store_true")
    args = parser.parse_args()
    if args.config:
        return loop(json.loads(args.config))
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
