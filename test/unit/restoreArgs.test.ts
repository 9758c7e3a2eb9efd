/**
 * `npm run restore`'s arguments (cli/restoreArgs.ts) and the pure parts of reading copies back
 * (cli/copies.ts, cli/restoreFrom.ts): every bad argument gets one line naming the fix, before Docker
 * or a copy target is touched; --help says which Docker host the command talks to, without Docker.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { completeCopies, decryptAll, parseSftpListing, resolveBackup, sftpQuote } from "../../cli/copies";
import { backupName, parseRestoreArgs, parseTarget, RESTORE_USAGE, RestoreUsageError } from "../../cli/restoreArgs";
import { layoutAsInstall } from "../../cli/restoreFrom";
import { PROJECT_DIR } from "../../core/paths";

const NAME = "lernmanager-20261130T193615625944Z-scheduled.db";
const fails = (argv: string[]) => {
    try {
        parseRestoreArgs(argv);
    } catch (e) {
        expect(e).toBeInstanceOf(RestoreUsageError);
        return (e as Error).message;
    }
    throw new Error(`${argv.join(" ")} was accepted`);
};

describe("parseRestoreArgs", () => {
    test("without --from it is the restore from the stack's own backups (cli/restore.sh as before)", () => {
        expect(parseRestoreArgs(["prod"])).toEqual({ kind: "local" });
        expect(parseRestoreArgs(["prod", "latest"])).toEqual({ kind: "local" });
        expect(parseRestoreArgs(["prod", "--list"])).toEqual({ kind: "local" });
    });

    test("a folder on the Docker host and an sftp:// target, the backup with or without .age", () => {
        const a = parseRestoreArgs([
            "schule-walde",
            `${NAME}.age`,
            "--from",
            "/mnt/nas/lernmanager/",
            "--identity",
            "k.key",
        ]);
        expect(a).toMatchObject({
            kind: "copies",
            stack: "schule-walde",
            backup: NAME,
            list: false,
            identity: "k.key",
            from: { kind: "folder", path: "/mnt/nas/lernmanager" },
            overwrite: false,
        });
        const b = parseRestoreArgs([
            "prod",
            "--from=sftp://lmbackup@[fd00::5]:2222/home/lmbackup/lm",
            "--list",
            "--sftp-key",
            "id",
            "--known-hosts",
            "kh",
        ]);
        expect(b).toMatchObject({
            kind: "copies",
            list: true,
            backup: undefined,
            sftpKey: "id",
            knownHosts: "kh",
            from: { kind: "sftp", user: "lmbackup", host: "fd00::5", port: 2222, path: "/home/lmbackup/lm" },
        });
        expect(parseRestoreArgs(["prod", NAME, "--from", "sftp://u@nas/x", "--overwrite"])).toMatchObject({
            backup: NAME,
            overwrite: true,
            from: { port: 22 },
        });
        expect(parseRestoreArgs(["prod", "latest", "--from", "/x"])).toMatchObject({ backup: "latest" });
    });

    test("--help, with or without a stack, before anything else is checked", () => {
        expect(parseRestoreArgs(["--help"])).toEqual({ kind: "help", stack: undefined });
        expect(parseRestoreArgs(["prod", "--from", "/x", "-h"])).toEqual({ kind: "help", stack: "prod" });
    });

    test("bad arguments name the fix", () => {
        expect(fails(["prod", "--from"])).toMatch(/--from needs a value. Fix: --from <target>/);
        expect(fails(["prod", NAME, "--from", "--identity", "k"])).toMatch(/--from needs a value/);
        expect(fails(["prod", NAME, "--from", "mnt/nas"])).toMatch(
            /absolute path on the Docker host.*Fix: e\.g\. --from \/mnt\/nas/,
        );
        expect(fails(["prod", NAME, "--from", "/mnt/../etc"])).toMatch(/absolute path/);
        expect(fails(["prod", NAME, "--from", "sftp://nas/x"])).toMatch(/not sftp:\/\/user@host\[:port\]\/path. Fix/);
        expect(fails(["prod", NAME, "--from", "sftp://u@nas:99999/x"])).toMatch(/port 99999.*Fix/);
        expect(fails(["prod", "--from", "/x"])).toMatch(/which backup\? Fix: .*--list/);
        expect(fails(["prod", NAME, "--from", "/x", "--list"])).toMatch(/not both. Fix/);
        expect(fails(["prod", NAME, "other.db", "--from", "/x"])).toMatch(/one too many. Fix/);
        expect(fails(["--from", "/x"])).toMatch(/name the stack first. Fix/);
        expect(fails(["pr od", NAME, "--from", "/x"])).toMatch(/not a stack name/);
        expect(fails(["prod", "backup.db", "--from", "/x"])).toMatch(
            /not a backup name. Fix: use a name as `--list` prints it/,
        );
        expect(fails(["prod", NAME, "--from", "/x", "--identiy", "k"])).toMatch(
            /--identiy is not an option.*Fix: one of --from, --identity/,
        );
        expect(fails(["prod", NAME, "--identity", "k"])).toMatch(/only go with --from <target>.*Fix: add --from/);
        expect(fails(["prod", "--overwrite"])).toMatch(/--overwrite only go with --from/);
    });

    test("the edges of each check (found by mutating cli/restoreArgs.ts)", () => {
        expect(fails(["prod", NAME, "--from", "/x", "--identity"])).toBe(
            "--identity needs a value. Fix: --identity <file> (see --help)",
        );
        expect(fails(["prod", NAME, "--from", "/x", "--sftp-key="])).toMatch(/^--sftp-key needs a value/);
        // Written with =, a value may start with --; after a blank it is the next option.
        expect(parseRestoreArgs(["prod", NAME, "--from", "/x", "--identity=--key"])).toMatchObject({
            identity: "--key",
        });
        expect(fails(["prod", NAME, "--from", "/x", "--bogus"])).toBe(
            "--bogus is not an option of npm run restore. Fix: one of --from, --identity, --sftp-key, --known-hosts, --list, --overwrite (see --help)",
        );
        expect(fails(["prod", NAME, "--identity", "k", "--overwrite"])).toMatch(
            /^--identity, --overwrite only go with --from <target> \(a restore from an off-host copy\)\. Fix: add --from, or leave --identity out$/,
        );
        expect(fails(["prod", NAME, "a.db", "b.db", "--from", "/x"])).toBe(
            "one backup at a time: a.db b.db is one too many. Fix: npm run restore -- prod <backup> --from <target>",
        );
        expect(fails(["prod", "--from", "/mnt/nas"])).toBe(
            "which backup? Fix: npm run restore -- prod --from /mnt/nas --list shows the copies; then name one (or latest)",
        );
        for (const port of ["0", "65536"])
            expect(fails(["p", NAME, "--from", `sftp://u@nas:${port}/x`])).toMatch(`port ${port} is not 1 to 65535`);
        expect(parseTarget("sftp://u@nas:1/x")).toMatchObject({ port: 1 });
        expect(parseTarget("sftp://u@nas:65535/x")).toMatchObject({ port: 65535 });
        // A line break never reaches the sftp batch: the whole text must be the target.
        expect(() => parseTarget("sftp://u@nas/x\nget /etc/shadow")).toThrow(/is not sftp:\/\/user@host/);
        expect(parseTarget("/srv/sftp://u@nas/x")).toMatchObject({ kind: "folder", path: "/srv/sftp://u@nas/x" });
        expect(() => parseTarget("/mnt/nas/..")).toThrow(/absolute path on the Docker host/);
        expect(parseTarget("/mnt/nas//")).toMatchObject({ kind: "folder", path: "/mnt/nas" });
        expect(parseTarget("/mnt/..nas")).toMatchObject({ path: "/mnt/..nas" });
        // A backup without a label, and one with a part's suffix (not a backup).
        expect(backupName("lernmanager-20261130T193615625944Z.db")).toBe("lernmanager-20261130T193615625944Z.db");
        expect(() => backupName(`${NAME}.partial`)).toThrow(RestoreUsageError);
        expect(() => backupName(`${NAME}.uploads`)).toThrow(RestoreUsageError);
    });

    test("the usage names both forms and every option", () => {
        for (const part of [
            "npm run restore -- <stack> [<backup>|latest] [--list]",
            "--from <target>",
            "--identity",
            "--sftp-key",
            "--known-hosts",
            "--overwrite",
        ])
            expect(RESTORE_USAGE).toContain(part);
    });

    test("targets and names on their own", () => {
        expect(parseTarget("/").kind).toBe("folder");
        expect(backupName("latest")).toBe("latest");
        expect(backupName("mbi_tracker-20261130T193615625944Z-0.4.2.db.age")).toBe(
            "mbi_tracker-20261130T193615625944Z-0.4.2.db",
        );
        expect(() => backupName(`../${NAME}`)).toThrow(RestoreUsageError);
    });
});

describe("reading copies back", () => {
    const listing = [
        "sftp> ls -la /home/lmbackup/lm",
        "drwx------    3 lmbackup lmbackup     4096 Dec  6 21:00 .",
        "drwxr-xr-x    3 lmbackup lmbackup     4096 Dec  6 21:00 ..",
        `-rw-------    1 lmbackup lmbackup    73829 Dec  6 21:00 /home/lmbackup/lm/${NAME}.age`,
        `drwx------    2 lmbackup lmbackup     4096 Dec  6 21:00 /home/lmbackup/lm/${NAME}.uploads`,
        "-rw-------    1 lmbackup lmbackup      999 Dec  6 21:01 /home/lmbackup/lm/lernmanager-20261130T203615625944Z-before-restore.db.partial",
        "-rw-------    1 lmbackup lmbackup      512 Dec  6 21:02 /home/lmbackup/lm/lernmanager-20261130T213615625944Z-before-restore.db",
        "-rw-------    1 lmbackup lmbackup       12 Dec  6 21:02 /home/lmbackup/lm/notes.txt",
    ].join("\n");

    test("only complete copies (a .db or .db.age: written last) are listed; latest skips the safety backups", () => {
        const copies = completeCopies(parseSftpListing(listing));
        expect(copies).toEqual([
            { name: NAME, encrypted: true, bytes: 73829 },
            { name: "lernmanager-20261130T213615625944Z-before-restore.db", encrypted: false, bytes: 512 },
        ]);
        expect(resolveBackup(copies, "latest", "x").name).toBe(NAME);
        expect(() => resolveBackup(copies, "lernmanager-20261130T000000000000Z-scheduled.db", "/x")).toThrow(
            /no complete copy .*Fix: pick one that --list shows/,
        );
        expect(() => resolveBackup([], "latest", "/x")).toThrow(/holds no copies/);
    });

    test("sftp arguments are escaped as lm_sftp.py does", () => {
        expect(sftpQuote("/home/a b/x*")).toBe("/home/a\\ b/x\\*");
        expect(() => sftpQuote("a\nb")).toThrow(/line break/);
    });

    test("an encrypted copy without --identity names the fix; nothing encrypted needs no key", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-dec-"));
        try {
            expect(decryptAll(dir, undefined)).toBe(0);
            fs.writeFileSync(path.join(dir, `${NAME}.age`), "x");
            expect(() => decryptAll(dir, undefined)).toThrow(/encrypted \(backupEncryptTo\). Fix: add --identity/);
            expect(() => decryptAll(dir, path.join(dir, "missing.key"))).toThrow(/does not exist. Fix/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("a fetched backup is laid out as an install for the import (data, done-file, uploads, persistent folders)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-layout-"));
        try {
            const fetched = path.join(dir, "f");
            fs.mkdirSync(path.join(fetched, `${NAME}.uploads`, "k1"), { recursive: true });
            fs.mkdirSync(path.join(fetched, `${NAME}.keep-instance-reports`), { recursive: true });
            fs.writeFileSync(path.join(fetched, NAME), "db");
            fs.writeFileSync(path.join(fetched, `${NAME}.migrations_done.txt`), "migrate_001.py\n");
            fs.writeFileSync(path.join(fetched, `${NAME}.uploads`, "k1", "a.txt"), "a");
            fs.writeFileSync(path.join(fetched, `${NAME}.keep-instance-reports`, "r.pdf"), "r");
            const into = path.join(dir, "install");
            layoutAsInstall(
                fetched,
                NAME,
                {
                    dataPath: "data",
                    databaseFile: "mbi_tracker.db",
                    uploadsPath: "instance/uploads",
                    persistentPaths: ["instance/reports", "instance/exports"],
                    migrations: { folder: "migrate", pattern: "migrate_*.py", doneFile: "data/migrations_done.txt" },
                },
                into,
            );
            const read = (p: string) => fs.readFileSync(path.join(into, p), "utf8");
            expect(read("data/mbi_tracker.db")).toBe("db");
            expect(read("data/migrations_done.txt")).toBe("migrate_001.py\n");
            expect(read("instance/uploads/k1/a.txt")).toBe("a");
            expect(read("instance/reports/r.pdf")).toBe("r");
            expect(fs.readdirSync(path.join(into, "instance/exports"))).toEqual([]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("npm run restore -- --help", () => {
    const run = (args: string[], env: Record<string, string>) =>
        spawnSync("bash", ["cli/restore.sh", ...args], {
            cwd: PROJECT_DIR,
            encoding: "utf8",
            timeout: 60000,
            env: { PATH: process.env.PATH!, HOME: process.env.HOME!, ...env },
        });

    test("prints the usage of both forms and the Docker host, without touching Docker", () => {
        const r = run(["--help"], { DOCKER_HOST: "unix:///nonexistent/docker.sock" });
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/--from <target>/);
        expect(r.stdout).toMatch(/--identity/);
        expect(r.stdout).toMatch(/Docker host: unix:\/\/\/nonexistent\/docker\.sock \(\$DOCKER_HOST\)/);
        const withStack = run(["dev", "--help"], {});
        expect(withStack.stdout).toMatch(
            /Docker host: unix:\/\/\/var\/run\/docker\.sock \(the local engine: no docker:host in Pulumi\.dev\.yaml\)/,
        );
    });

    test("a bad --from argument exits 2 with the fix, before Docker", () => {
        const r = run(["prod", NAME, "--from", "nas"], { DOCKER_HOST: "unix:///nonexistent/docker.sock" });
        expect(r.status).toBe(2);
        expect(r.stderr).toMatch(/restore: --from nas: a copy folder is an absolute path.*Fix/);
    });
});
