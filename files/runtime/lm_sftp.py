"""Off-host copies to an SFTP target with the OpenSSH `sftp` client (lm_backupd.py).

The key comes from the environment (LM_SFTP_KEY, the secret backupSftpKey), written to a file in
/tmp (a tmpfs) readable only by the container's user; the target's host key is pinned on first use
in the backups volume (.lernmanager-known_hosts), so a changed server key fails the copy.
"""
import os
import re
import shutil
import subprocess
import tempfile

import lm_backup

URL_RE = re.compile(r"^sftp://([^@]+)@([^:/]+|\[[^\]]+\])(?::(\d+))?(/.*)$")


def sftp(cfg, target, commands):
    m = URL_RE.match(target)
    if not m:
        raise RuntimeError(f"{target} is not sftp://user@host[:port]/path")
    if not shutil.which("sftp"):
        raise RuntimeError("the app image has no sftp client (Debian package openssh-client)")
    user, host, port, _ = m.groups()
    key = os.environ.get("LM_SFTP_KEY", "")
    if not key:
        raise RuntimeError("LM_SFTP_KEY is empty (set backupSftpKey)")
    with tempfile.NamedTemporaryFile("w", dir="/tmp", delete=False) as f:
        f.write(key.strip() + "\n")
        key_file = f.name
    os.chmod(key_file, 0o600)
    known = os.path.join(cfg["backups"], ".lernmanager-known_hosts")
    try:
        done = subprocess.run(
            ["sftp", "-b", "-", "-i", key_file, "-P", port or "22", "-o", "BatchMode=yes",
             "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=accept-new",
             "-o", "ConnectTimeout=15", f"{user}@{host}"],
            input="\n".join(commands) + "\n", capture_output=True, text=True, timeout=1800,
        )
    finally:
        os.remove(key_file)
    if done.returncode != 0:
        raise RuntimeError(f"sftp exited {done.returncode}: {(done.stderr or done.stdout).strip()[-400:]}")
    return done.stdout


def mirror(cfg, target):
    """Uploads the kept backups the target lacks (database, done-file, uploads snapshot); removes the
    target's backups that are no longer kept here."""
    folder = URL_RE.match(target).group(4).rstrip("/") or "/"
    listing = sftp(cfg, target, [f"-mkdir {folder}", f"ls -1 {folder}"])
    there = {os.path.basename(line.strip()) for line in listing.splitlines() if line.strip() and not line.startswith("sftp>")}
    local = lm_backup.backups(cfg["backups"], cfg["stem"])
    names = {os.path.basename(p) for p in local}
    commands, copied = [], 0
    for path in local:
        name = os.path.basename(path)
        if name in there:
            continue
        copied += 1
        commands += [f'put "{path}" "{folder}/{name}.partial"', f'rename "{folder}/{name}.partial" "{folder}/{name}"']
        if os.path.exists(path + lm_backup.DONE_SUFFIX):
            commands.append(f'put "{path}{lm_backup.DONE_SUFFIX}" "{folder}/{name}{lm_backup.DONE_SUFFIX}"')
        if os.path.isdir(path + lm_backup.UPLOADS_SUFFIX):
            commands.append(f'put -R "{path}{lm_backup.UPLOADS_SUFFIX}" "{folder}/{name}{lm_backup.UPLOADS_SUFFIX}"')
    for name in sorted(there):
        if lm_backup.STAMP_RE.search(name) and name.endswith(".db") and name not in names:
            commands += [f'-rm "{folder}/{name}"', f'-rm "{folder}/{name}{lm_backup.DONE_SUFFIX}"']
    if commands:
        sftp(cfg, target, commands)
    return {"copied": copied, "kept": len(names)}
