"""Unit tests of containers/runtime/backups/lm_sftp.py's pure parts: URLs, quoting, listings, what is removed and what
is uploaded (run by test/unit/jobs.test.ts; the sessions themselves: test/e2e/backupsSftp.test.ts)."""

import os
import sys
import tempfile
import unittest

# The runtime image puts every role's helpers in one folder; here each role has its own.
RUNTIME = os.path.join(os.path.dirname(__file__), "..", "..", "..", "containers", "runtime")
sys.path[:0] = [os.path.join(RUNTIME, role) for role in ("app", "deploy", "jobs", "backups")]
import lm_sftp  # noqa: E402

A = "lernmanager-20261130T220000000001Z-scheduled.db"
B = "lernmanager-20261130T223000000001Z-scheduled.db"
C = "lernmanager-20261130T230000000001Z-manual.db"


class Urls(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(lm_sftp.parse("sftp://backup@nas.schule.example/lernmanager/"),
                         ("backup", "nas.schule.example", 22, "/lernmanager"))
        self.assertEqual(lm_sftp.parse("sftp://b@[fd00::5]:2222/x"), ("b", "fd00::5", 2222, "/x"))
        self.assertEqual(lm_sftp.parse("sftp://b@10.0.0.5/"), ("b", "10.0.0.5", 22, "/"))
        with self.assertRaisesRegex(RuntimeError, "is not sftp://user@host"):
            lm_sftp.parse("sftp://nas/x")

    def test_quote(self):
        # No quotes: a backslash before every special character (checked against OpenSSH 9.2's sftp).
        self.assertEqual(lm_sftp.quote('/a b/"c"\\d'), '/a\\ b/\\"c\\"\\\\d')
        self.assertEqual(lm_sftp.quote("/u/Aufgabe [2] *neu*?.txt"), "/u/Aufgabe\\ \\[2\\]\\ \\*neu\\*\\?.txt")
        self.assertEqual(lm_sftp.quote("it's #1\t"), "it\\'s\\ \\#1\\\t")
        with self.assertRaisesRegex(RuntimeError, "line break"):
            lm_sftp.quote("a\nb")

    def test_explain_names_the_host_key_and_the_fix(self):
        text = "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.\r\n"
        msg = lm_sftp.explain(text, "10.0.0.5", 2222, "/backups/.lernmanager-known_hosts")
        self.assertIn("the host key of [10.0.0.5]:2222 is not the one pinned", msg)
        self.assertIn("ssh-keygen -R '[10.0.0.5]:2222' -f /backups/.lernmanager-known_hosts", msg)
        msg = lm_sftp.explain("Host key verification failed.", "nas", 22, None)
        self.assertIn("the host key of nas is none of backupSftpHostKey", msg)
        msg = lm_sftp.explain("backup@nas: Permission denied (publickey).", "nas", 22, "/k")
        self.assertIn("nas refused the key backupSftpKey", msg)
        self.assertEqual(lm_sftp.explain("Connection refused", "nas", 22, "/k"), "Connection refused")


    def test_pinned_lines(self):
        self.assertEqual(lm_sftp.pinned_lines("10.0.0.5", 22, "ssh-ed25519 AAAAC3x,ssh-rsa AAAAB3y"),
                         ["10.0.0.5 ssh-ed25519 AAAAC3x\n", "10.0.0.5 ssh-rsa AAAAB3y\n"])
        self.assertEqual(lm_sftp.pinned_lines("nas", 2222, "ssh-ed25519 AAAAC3x"), ["[nas]:2222 ssh-ed25519 AAAAC3x\n"])


class Listing(unittest.TestCase):
    # As OpenSSH 9.2's sftp prints it (-b: each command echoed; ls -la of a path: full paths, links "?").
    OUT = "\n".join([
        "sftp> -mkdir /srv/b",
        "sftp> ls -la /srv/b",
        "drwxr-xr-x    ? backup   backup       4096 Nov 30 23:00 /srv/b/.",
        "drwxr-xr-x    ? root     root         4096 Nov 30 22:00 /srv/b/..",
        f"-rw-r--r--    ? backup   backup      73728 Nov 30 23:00 /srv/b/{A}",
        f"drwxr-xr-x    ? backup   backup       4096 Nov 30 23:00 /srv/b/{A}.uploads",
        "sftp> ls -la /srv/b/x\\ y",
        "-rw-r--r--    ? 1001     1001            7 Nov 30 23:00 /srv/b/x y/  file with  spaces.txt ",
    ])

    def test_parse_listing(self):
        got = lm_sftp.parse_listing(self.OUT, ["/srv/b", "/srv/b/x y"])
        self.assertEqual(got, {"/srv/b": [(A, False), (f"{A}.uploads", True)],
                               "/srv/b/x y": [("  file with  spaces.txt ", False)]})

    def test_removals(self):
        entries = [(A, False), (f"{A}.migrations_done.txt", False), (f"{A}.uploads", True),  # not kept
                   (B, False), (f"{B}.uploads", True),  # kept, complete
                   (f"{C}.uploads", True), (f"{C}.partial", False),  # kept, unfinished (no .db)
                   ("notes.txt", False), ("other-20261130T230000000001Z-manual.db", False)]  # not ours
        unfinished, stale = lm_sftp.plan_removals(entries, {B, C}, "lernmanager")
        self.assertEqual(unfinished, [(f"{C}.uploads", True), (f"{C}.partial", False)])
        self.assertEqual(stale, [(A, False), (f"{A}.migrations_done.txt", False), (f"{A}.uploads", True)])
        self.assertEqual(lm_sftp.rjoin("/", A), f"/{A}")


class Uploads(unittest.TestCase):
    def test_unchanged_files_are_linked_to_the_previous_snapshot_there(self):
        with tempfile.TemporaryDirectory() as d:
            old, new = os.path.join(d, A), os.path.join(d, B)
            for db in (old, new):
                with open(db, "wb") as f:
                    f.write(b"x" * 100)
                os.makedirs(f"{db}.uploads/class 1")
            with open(f"{old}.uploads/class 1/same.txt", "w") as f:
                f.write("same")
            os.link(f"{old}.uploads/class 1/same.txt", f"{new}.uploads/class 1/same.txt")
            with open(f"{new}.uploads/class 1/new.txt", "w") as f:
                f.write("new!!")
            with open(f"{new}.migrations_done.txt", "w") as f:
                f.write("m1\n")
            commands, sent, linked = lm_sftp.upload_commands(new, f"/r/{B}", {".uploads": (f"{old}.uploads", f"/r/{A}.uploads")})
            p = f"/r/{B}.uploads.partial"
            q = lm_sftp.quote
            self.assertEqual(commands, [
                f"mkdir {p}",
                f"chmod 700 {p}",
                f"mkdir {p}/class\\ 1",
                f"chmod 700 {p}/class\\ 1",
                f"put -p {q(new)}.uploads/class\\ 1/new.txt {p}/class\\ 1/new.txt",
                f"ln /r/{A}.uploads/class\\ 1/same.txt {p}/class\\ 1/same.txt",
                f"rename {p} /r/{B}.uploads",
                f"put -p {new}.migrations_done.txt /r/{B}.migrations_done.txt",
                f"put -p {new} /r/{B}.partial",
                f"rename /r/{B}.partial /r/{B}",
            ])
            self.assertEqual((sent, linked), (5 + 3 + 100, 1))
            # Without a previous snapshot there, everything is put.
            commands, sent, linked = lm_sftp.upload_commands(new, f"/r/{B}")
            self.assertEqual((sent, linked), (5 + 4 + 3 + 100, 0))


class FakeServer:
    """Runs sftp batch commands against a local folder, printing what OpenSSH's sftp prints (enough for
    lm_sftp's parser): the mirror's whole logic without a server."""

    def __init__(self, root):
        self.root = root

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def __call__(self, cfg, target, commands):
        import shlex
        import shutil
        out = []
        for line in commands:
            out.append(f"sftp> {line}")
            ignore = line.startswith("-")
            cmd, *args = shlex.split(line.lstrip("-"))
            try:
                if cmd == "ls":
                    d = self.path(args[-1])
                    for n in [".", ".."] + sorted(os.listdir(d)):
                        kind = "d" if os.path.isdir(os.path.join(d, n)) else "-"
                        out.append(f"{kind}rwx------    ? u u 1 Nov 30 23:00 {args[-1]}/{n}")
                elif cmd == "mkdir":
                    os.mkdir(self.path(args[0]))
                elif cmd == "chmod":
                    os.chmod(self.path(args[1]), int(args[0], 8))
                elif cmd == "put":
                    shutil.copyfile(args[-2], self.path(args[-1]))
                elif cmd == "ln":
                    os.link(self.path(args[0]), self.path(args[1]))
                elif cmd == "rename":
                    os.rename(self.path(args[0]), self.path(args[1]))
                elif cmd == "rm":
                    os.remove(self.path(args[0]))
                elif cmd == "rmdir":
                    os.rmdir(self.path(args[0]))
            except OSError:
                if not ignore:
                    raise RuntimeError(f"sftp: {line} failed")
        return "\n".join(out) + "\n"


class Mirror(unittest.TestCase):
    """The copy keeps its own retention and only ever removes what this volume wrote there."""

    def setUp(self):
        import datetime
        self.tmp = tempfile.TemporaryDirectory()
        self.server = FakeServer(os.path.join(self.tmp.name, "server"))
        os.makedirs(self.server.path("/home"))
        self.t0 = datetime.datetime(2026, 12, 1, 8, 0, tzinfo=datetime.timezone.utc)
        self.target = "sftp://u@nas/home/lm"

    def tearDown(self):
        self.tmp.cleanup()

    def volume(self, name):
        d = os.path.join(self.tmp.name, name)
        os.makedirs(d)
        return {"stem": "lernmanager", "backups": d, "keep": 2, "retention": ""}

    def backup(self, cfg, minutes):
        import datetime
        t = self.t0 + datetime.timedelta(minutes=minutes)
        path = os.path.join(cfg["backups"], f"lernmanager-{t.strftime('%Y%m%dT%H%M%S%fZ')}-scheduled.db")
        with open(path, "wb") as f:
            f.write(os.urandom(64))
        lm_sftp.lm_backup.prune(cfg["backups"], "lernmanager", cfg["keep"], {})
        from unittest import mock
        with mock.patch.object(lm_sftp, "sftp", self.server):
            lm_sftp.mirror(cfg, self.target)
        return os.path.basename(path)

    def there(self):
        return sorted(n for n in os.listdir(self.server.path("/home/lm")) if n.endswith(".db"))

    def test_a_new_volume_never_prunes_the_old_ones_copies(self):
        old = self.volume("old")
        for i in range(4):
            self.backup(old, i)
        before = self.there()
        self.assertEqual(len(before), 2)  # its own retention: keep 2
        new = self.volume("new")
        fresh = [self.backup(new, 60 + i) for i in range(4)]
        self.assertEqual(self.there(), sorted(before + fresh[-2:]))

    def test_encrypted_copies_end_in_age_and_count_as_complete(self):
        from unittest import mock

        class Fake:
            def __init__(self, recipients):
                pass

            def seal(self, source, target):
                with open(source, "rb") as f, open(target, "wb") as g:
                    g.write(b"AGE" + f.read())

            def close(self):
                pass
        cfg = self.volume("enc")
        cfg["encryptTo"] = ["age1" + "q" * 58]
        with mock.patch.object(lm_sftp.lm_backup, "Sealer", Fake):
            names = [self.backup(cfg, i) for i in range(3)]
        files = sorted(os.listdir(self.server.path("/home/lm")))
        self.assertEqual(files, sorted(n + ".age" for n in names[-2:]))
        self.assertFalse(os.path.exists(os.path.join(cfg["backups"], ".lernmanager-staging")))

    def test_two_stacks_keep_each_others_copies(self):
        a, b = self.volume("a"), self.volume("b")
        for i in range(3):
            self.backup(a, 2 * i)
            self.backup(b, 2 * i + 1)
        mine = {k: sorted(os.path.basename(p) for p in lm_sftp.lm_backup.backups(v["backups"], "lernmanager"))
                for k, v in (("a", a), ("b", b))}
        self.assertEqual(self.there(), sorted(mine["a"] + mine["b"]))


class PersistentFolderSnapshots(unittest.TestCase):
    def test_the_folder_snapshot_goes_before_the_db_and_belongs_to_its_backup(self):
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "lernmanager-20261201T080000000000Z-scheduled.db")
            for folder in (f"{db}.uploads", f"{db}.keep-instance-reports"):
                os.makedirs(folder)
                with open(f"{folder}/f.txt", "w") as f:
                    f.write("x")
            with open(db, "w") as f:
                f.write("db")
            commands, _, _ = lm_sftp.upload_commands(db, "/r/x.db")
            self.assertIn("rename /r/x.db.keep-instance-reports.partial /r/x.db.keep-instance-reports", commands)
            self.assertLess(commands.index("put -p " + f"{db}.keep-instance-reports/f.txt".replace(" ", "\\ ")
                                           + " /r/x.db.keep-instance-reports.partial/f.txt"),
                            commands.index("rename /r/x.db.partial /r/x.db"))
        name = "lernmanager-20261201T080000000000Z-scheduled.db"
        self.assertEqual(lm_sftp.base_of(f"{name}.keep-instance-reports", "lernmanager"), name)
        self.assertEqual(lm_sftp.base_of(f"{name}.keep-instance-reports.partial", "lernmanager"), name)


if __name__ == "__main__":
    unittest.main()
