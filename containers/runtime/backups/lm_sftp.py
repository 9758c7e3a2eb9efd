"""Off-host copies to an SFTP target with the OpenSSH `sftp` client (lm_backupd.py).

The key comes from the environment (LM_SFTP_KEY, the secret backupSftpKey), written for each session
to a file in /tmp (a tmpfs) readable only by the container's user and removed after. The server's
host key is pinned up front (LM_SFTP_HOST_KEYS, backupSftpHostKey) or else on first use in the
backups volume (.lernmanager-known_hosts): a changed key fails every later copy until a person checks
it and sets the new key or removes the pinned line (docs/backups.md).

On the server the target folder holds the same names as the backups volume: `<backup>.db`, its
done-file and its uploads snapshot `<backup>.db.uploads/`, where files unchanged since the previous
snapshot are hard links to it (sftp `ln`, OpenSSH's hardlink extension), as in the volume. The .db
is written last (as .partial, then renamed): a backup whose .db is there is complete, and what an
interrupted copy left is removed by the next one. Backups no longer kept here are removed there.
"""
import os
import re
import shutil
import subprocess
import tempfile

import lm_backup

URL_RE = re.compile(r"^sftp://([^@]+)@([^:/\[]+|\[[^\]]+\])(?::(\d+))?(/.*)$")
KNOWN_HOSTS = ".lernmanager-known_hosts"
PARTIAL = ".partial"
MAX_DEPTH = 64
# A persistent folder's snapshot (<backup>.keep-<slug>) after its .db name.
KEEP_RE = re.compile(r"(?<=\.db)" + re.escape(lm_backup.KEEP_SUFFIX) + r"[a-z0-9-]+$")


def parse(target):
    """sftp://user@host[:port]/path → (user, host, port, folder)."""
    m = URL_RE.match(target)
    if not m:
        raise RuntimeError(f"{target} is not sftp://user@host[:port]/path")
    user, host, port, folder = m.groups()
    return user, host.strip("[]"), int(port or 22), folder.rstrip("/") or "/"


def quote(path):
    """One argument of an sftp batch line: every character sftp's parser or glob treats specially
    (white space, quotes, backslash, * ? [ ] #) after a backslash. Checked against OpenSSH 9.2: inside
    double quotes a backslash stays literal and put's source is still globbed, so no quotes."""
    if "\n" in path or "\r" in path:
        raise RuntimeError(f"{path!r}: a name with a line break cannot be copied with sftp")
    return re.sub(r"""([\s\\"'*?\[\]#])""", r"\\\1", path)


def known_host(host, port):
    """How known_hosts names a server."""
    return host if port == 22 else f"[{host}]:{port}"


def pinned_lines(host, port, keys):
    """known_hosts lines pinning the keys of backupSftpHostKey ("type base64,...") to one server."""
    return [f"{known_host(host, port)} {k.strip()}\n" for k in keys.split(",") if k.strip()]


def explain(stderr, host, port, known):
    """A person-readable reason for a failed session (the host key and the login first). known: the
    pinned-on-first-use file, or None when backupSftpHostKey pins the keys."""
    text = stderr.strip()
    where = known_host(host, port)
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text or "Host key verification failed" in text:
        if known is None:
            return (f"the host key of {where} is none of backupSftpHostKey: another machine answers or the server's "
                    f"key changed. Check the server; if its new key is expected, set backupSftpHostKey to it (docs/backups.md)")
        return (f"the host key of {where} is not the one pinned in {known}: the server's key changed or "
                f"another machine answers. Check the server; if its new key is expected, remove the old one with "
                f"`ssh-keygen -R '{where}' -f {known}` in the backup container (docs/backups.md)")
    if "Permission denied" in text:
        return (f"{where} refused the key backupSftpKey (Permission denied): add its public key to the user's "
                f"~/.ssh/authorized_keys on the server")
    return text[-400:]


def sftp(cfg, target, commands):
    """Runs one batch session (`sftp -b -`); raises with the reason when a command or the login fails."""
    user, host, port, _ = parse(target)
    if not shutil.which("sftp"):
        raise RuntimeError("the app image has no sftp client (Debian package openssh-client)")
    key = os.environ.get("LM_SFTP_KEY", "")
    if not key:
        raise RuntimeError("LM_SFTP_KEY is empty (set backupSftpKey)")
    fd, key_file = tempfile.mkstemp(dir="/tmp", prefix="lm-sftp-key-")
    with os.fdopen(fd, "w") as f:
        f.write(key.strip() + "\n")
    pinned = os.environ.get("LM_SFTP_HOST_KEYS", "")
    if pinned:
        fd, known = tempfile.mkstemp(dir="/tmp", prefix="lm-sftp-known-")
        with os.fdopen(fd, "w") as f:
            f.writelines(pinned_lines(host, port, pinned))
    else:
        known = os.path.join(cfg["backups"], KNOWN_HOSTS)
    try:
        done = subprocess.run(
            ["sftp", "-b", "-", "-i", key_file, "-P", str(port), "-o", "BatchMode=yes",
             "-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={known}", "-o", "GlobalKnownHostsFile=/dev/null",
             "-o", f"StrictHostKeyChecking={'yes' if pinned else 'accept-new'}", "-o", "ConnectTimeout=15",
             "-o", "ServerAliveInterval=30", f"{user}@{host}"],
            input="\n".join(commands) + "\n", capture_output=True, text=True, timeout=3600,
        )
    finally:
        os.remove(key_file)
        if pinned:
            os.remove(known)
    if done.returncode != 0:
        why = explain(done.stderr or done.stdout, host, port, None if pinned else known)
        raise RuntimeError(f"sftp exited {done.returncode}: {why}")
    return done.stdout


def parse_listing(output, dirs):
    """`ls -la DIR` output of a batch (one per dir, in order) → {dir: [(name, is_dir)]}."""
    result, current, pending = {}, None, list(dirs)
    for line in output.splitlines():
        if line.startswith("sftp> "):
            current = pending.pop(0) if line[6:].startswith("ls ") and pending else None
            if current is not None:
                result[current] = []
            continue
        parts = line.split(None, 8)
        if current is None or len(parts) < 9 or not re.match(r"^[-dlpscb][-rwxsStT]{9}", parts[0]):
            continue
        name = parts[8].rsplit("/", 1)[-1]
        if name not in (".", ".."):
            result[current].append((name, parts[0].startswith("d")))
    return result


def listing(cfg, target, dirs, before=()):
    """The entries of remote folders (one session; `before`: commands run first)."""
    out = sftp(cfg, target, list(before) + [f"ls -la {quote(d)}" for d in dirs])
    return parse_listing(out, dirs)


def rjoin(folder, name):
    return f"{folder.rstrip('/')}/{name}"


def remove_commands(cfg, target, folder, entries):
    """Commands removing top-level entries [(name, is_dir)] of folder, folders with all they hold."""
    files = [rjoin(folder, n) for n, d in entries if not d]
    dirs, level = [], [rjoin(folder, n) for n, d in entries if d]
    for _ in range(MAX_DEPTH):
        if not level:
            break
        dirs += level
        found = listing(cfg, target, level)
        files += [f"{d}/{n}" for d in level for n, is_dir in found.get(d, []) if not is_dir]
        level = [f"{d}/{n}" for d in level for n, is_dir in found.get(d, []) if is_dir]
    return [f"rm {quote(f)}" for f in files] + [f"rmdir {quote(d)}" for d in reversed(dirs)]


def base_of(name, stem):
    """The backup of this database an entry of the target folder belongs to (its .db name), or None."""
    for suffix in (PARTIAL, lm_backup.AGE_SUFFIX, lm_backup.UPLOADS_SUFFIX, lm_backup.DONE_SUFFIX):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    name = KEEP_RE.sub("", name)
    return name if name.startswith(f"{stem}-") and lm_backup.STAMP_RE.search(name) else None


def complete_names(entries, stem):
    """The backups complete in a listing, by their .db name: <name> or, encrypted, <name>.age."""
    return {base_of(n, stem) for n, d in entries
            if not d and base_of(n, stem) and n in (base_of(n, stem), base_of(n, stem) + lm_backup.AGE_SUFFIX)}


def plan_removals(entries, kept, stem, mine=None):
    """Entries [(name, is_dir)] of the target folder to remove: (before the upload) what a copy left
    unfinished (no .db: the .db is written last) of a backup kept here, and (after it) every backup
    this volume wrote there (mine: its ledger; None: every backup of the stem) that is no longer kept.
    Other files, and every backup another volume wrote, are left alone."""
    complete = complete_names(entries, stem)
    ours = [(n, d, base_of(n, stem)) for n, d in entries if base_of(n, stem)]
    unfinished = [(n, d) for n, d, b in ours if b in kept and (b not in complete or n.endswith(PARTIAL))]
    return unfinished, [(n, d) for n, d, b in ours if b not in kept and (mine is None or b in mine)]


def upload_commands(path, remote, previous=None, stage=None):
    """Commands writing one backup (path) to remote (its name there): its file snapshots (the uploads,
    each persistent folder; unchanged files linked to the previous snapshot there: previous =
    {snapshot suffix: (local snapshot, remote snapshot)}), the done-file, then the .db. stage(src) →
    (encrypted file to put, suffix): backupEncryptTo; every name there then ends in .age. Returns
    (commands, bytes put, files linked)."""
    commands, sent, linked = [], 0, 0
    suffix = lm_backup.AGE_SUFFIX if stage else ""

    def put(src, dst):
        """The put command of one file, and the bytes it sends."""
        local = stage(src) if stage else src
        return f"put -p {quote(local)} {quote(dst + suffix)}", os.path.getsize(local)

    for kind in lm_backup.snapshot_suffixes(path):
        more, b, n = snapshot_commands(path + kind, remote + kind, (previous or {}).get(kind), put, suffix)
        commands, sent, linked = commands + more, sent + b, linked + n
    if os.path.exists(path + lm_backup.DONE_SUFFIX):
        command, size = put(path + lm_backup.DONE_SUFFIX, remote + lm_backup.DONE_SUFFIX)
        commands.append(command)
        sent += size
    db = remote + suffix
    local = stage(path) if stage else path
    commands += [f"put -p {quote(local)} {quote(db + PARTIAL)}", f"rename {quote(db + PARTIAL)} {quote(db)}"]
    sent += os.path.getsize(local)
    return commands, sent, linked


def snapshot_commands(snap, remote_snap, previous, put, suffix):
    """Commands writing one file snapshot as remote_snap (via .partial); (commands, bytes, linked)."""
    commands, sent, linked = [], 0, 0
    if os.path.isdir(snap):
        partial = remote_snap + PARTIAL
        # Folders 0700 (the server's umask decides a new folder's mode); files keep their 0600 (put -p).
        commands += [f"mkdir {quote(partial)}", f"chmod 700 {quote(partial)}"]
        for root, dirs, files in os.walk(snap):
            dirs.sort()
            rel_root = os.path.relpath(root, snap)
            for d in dirs:
                sub = quote(os.path.normpath(os.path.join(partial, rel_root, d)))
                commands += [f"mkdir {sub}", f"chmod 700 {sub}"]
            for name in sorted(files):
                src = os.path.join(root, name)
                if os.path.islink(src) or not os.path.isfile(src):
                    continue
                rel = os.path.normpath(os.path.join(rel_root, name))
                old = os.path.join(previous[0], rel) if previous else None
                st = os.stat(src)
                if old and os.path.isfile(old) and os.path.samestat(os.stat(old), st):
                    commands.append(f"ln {quote(os.path.join(previous[1], rel) + suffix)} {quote(os.path.join(partial, rel) + suffix)}")
                    linked += 1
                else:
                    command, size = put(src, os.path.join(partial, rel))
                    commands.append(command)
                    sent += size
        commands.append(f"rename {quote(partial)} {quote(remote_snap)}")
    return commands, sent, linked


def mirror(cfg, target):
    """Uploads the kept backups the target lacks; removes there what is no longer kept here (and what an
    interrupted copy left). Returns counts for the status file."""
    folder = parse(target)[3]
    entries = listing(cfg, target, [folder], before=[f"-mkdir {quote(folder)}", f"-chmod 700 {quote(folder)}"]).get(folder, [])
    local = lm_backup.backups(cfg["backups"], cfg["stem"])
    stem = cfg["stem"]
    # The target's own retention over its own list: what this volume wrote there (its ledger) and
    # what it copies now; never less than the local set, never another volume's copies.
    mine = set(lm_backup.read_ledger(cfg["backups"]).get(target, []))
    complete_there = complete_names(entries, stem)
    kept = lm_backup.kept_on_target({os.path.basename(p) for p in local}, mine & complete_there,
                                    cfg["keep"], lm_backup.parse_retention(cfg["retention"]))
    unfinished, stale = plan_removals(entries, kept, stem, mine)
    if unfinished:
        sftp(cfg, target, remove_commands(cfg, target, folder, unfinished))
    there = set(complete_there)
    copied = sent = linked = 0
    previous = {}
    commands = []
    recipients = cfg.get("encryptTo") or []
    # Encrypted copies are staged in the backups volume (a disk, not the container's small /tmp) and
    # removed after the session.
    staging = os.path.join(cfg["backups"], ".lernmanager-staging")
    shutil.rmtree(staging, ignore_errors=True)
    sealer = None
    try:
        if recipients and any(os.path.basename(p) not in there for p in local):
            sealer = lm_backup.Sealer(recipients)
            os.makedirs(staging, mode=0o700)
        counter = iter(range(10**9))

        def stage(src):
            out = os.path.join(staging, f"{next(counter)}{lm_backup.AGE_SUFFIX}")
            sealer.seal(src, out)
            return out

        for path in local:
            name = os.path.basename(path)
            remote = rjoin(folder, name)
            if name not in there:
                more, b, n = upload_commands(path, remote, previous, stage if sealer else None)
                commands += more
                copied, sent, linked = copied + 1, sent + b, linked + n
            for kind in lm_backup.snapshot_suffixes(path):
                previous[kind] = (path + kind, remote + kind)
        if commands:
            lm_backup.record_sent(cfg["backups"], target, [os.path.basename(p) for p in local if os.path.basename(p) not in there])
            sftp(cfg, target, commands)
    finally:
        if sealer:
            sealer.close()
        shutil.rmtree(staging, ignore_errors=True)
    # Pruned only after the upload: a failed copy leaves the older copies there.
    if stale:
        sftp(cfg, target, remove_commands(cfg, target, folder, stale))
    lm_backup.set_sent(cfg["backups"], target, kept & (complete_there | {os.path.basename(p) for p in local}))
    return {"copied": copied, "kept": len(kept), "bytes": sent, "linked": linked, "encrypted": bool(recipients),
            "removed": len({base_of(n, stem) for n, _ in stale})}
