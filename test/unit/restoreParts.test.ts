// The parts of `npm run restore -- --from` that need neither Docker nor an SFTP server
// (cli/copies.ts, cli/restoreFrom.ts): the arguments of the one-off containers and of the sftp
// client, the batches, what a failure says, the copies' listing and choice, decrypting with age on
// this computer, the layout for the import. The container scripts run here with python3 on a
// temporary folder instead of the mounted one. What `bash scripts/mutate.sh cli/copies.ts` and
// `cli/restoreFrom.ts` run against each mutant; the whole restore against a real engine:
// test/e2e/restoreCopies.test.ts.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    CopiesError,
    completeCopies,
    decryptAll,
    folderRun,
    parseSftpListing,
    resolveBackup,
    sftpArgs,
    sftpFailure,
    sftpFetchBatch,
    sftpQuote,
} from "../../cli/copies";
import { oneOffRunFlags } from "../../cli/oneOff";
import { parseTarget, RestoreUsageError } from "../../cli/restoreArgs";
import {
    dockerHostLine,
    dropIncomingArgs,
    importedLine,
    INCOMING,
    layoutAsInstall,
    pushCommand,
    restoreFromCopies,
} from "../../cli/restoreFrom";

const NAME = "lernmanager-20261130T193615625944Z-scheduled.db";
const OLDER = "lernmanager-20261129T193615625944Z-scheduled.db";
const SAFETY = "lernmanager-20261201T193615625944Z-before-restore.db";
const sftpTarget = parseTarget("sftp://lmbackup@nas.schule.test:2222/home/lm backup/lm") as ReturnType<
    typeof parseTarget
> & { kind: "sftp" };
const folderTarget = parseTarget("/mnt/nas/lm") as ReturnType<typeof parseTarget> & { kind: "folder" };

let tmp: string;
beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lm-restore-parts-"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const write = (p: string, text = "x") => {
    fs.mkdirSync(path.dirname(path.join(tmp, p)), { recursive: true });
    fs.writeFileSync(path.join(tmp, p), text);
};
const mode = (p: string) => fs.statSync(p).mode & 0o777;

/** The Python script of a container's arguments (after -c), run here on `folder` instead of `mounted`. */
const scriptOf = (args: string[], mounted: string, folder: string) => {
    const script = args[args.lastIndexOf("-c") + 1];
    expect(script).toContain(`"${mounted}`);
    return script.replace(`"${mounted}`, `"${folder}`);
};

describe("a copy folder on the Docker host: read by a one-off container", () => {
    test("its arguments: the one-off flags, the folder read-only at /copies, the stack's image, the mode", () => {
        const args = folderRun(folderTarget, "img:1", "prod", ["pack", NAME]);
        expect(args).toEqual([
            "run",
            ...oneOffRunFlags("prod", "restore-fetch"),
            "--mount",
            "type=bind,source=/mnt/nas/lm,target=/copies,readonly",
            "--entrypoint",
            "python3",
            "img:1",
            "-c",
            expect.stringContaining("import json, os, re, sys, tarfile"),
            "pack",
            NAME,
        ]);
    });

    test("list: the complete copies (a .db or .db.age file), nothing else; pack: one backup's parts as a tar", () => {
        const copies = path.join(tmp, "copies");
        for (const f of [
            `${NAME}.age`,
            `${NAME}.migrations_done.txt.age`,
            `${NAME}.uploads/k1/a.txt.age`,
            `${NAME}.keep-instance-reports/r.pdf.age`,
            `${NAME}.partial`,
            `${NAME}.keep-Bad/x`,
            OLDER,
            `${OLDER}.migrations_done.txt`,
            "notes.txt",
            "lernmanager-2026.db",
            `${SAFETY}/inside`,
        ])
            write(`copies/${f}`, f);
        const script = scriptOf(folderRun(folderTarget, "img", "prod", []), "/copies", copies);
        const listed = JSON.parse(execFileSync("python3", ["-c", script, "list"], { encoding: "utf8" }));
        expect(listed).toEqual([
            { name: OLDER, encrypted: false, bytes: OLDER.length },
            { name: NAME, encrypted: true, bytes: `${NAME}.age`.length },
        ]);
        const tar = path.join(tmp, "pack.tar");
        fs.writeFileSync(tar, execFileSync("python3", ["-c", script, "pack", NAME]));
        const members = execFileSync("tar", ["-tf", tar], { encoding: "utf8" }).trim().split("\n").sort();
        expect(members).toEqual([
            `${NAME}.age`,
            `${NAME}.keep-instance-reports/`,
            `${NAME}.keep-instance-reports/r.pdf.age`,
            `${NAME}.migrations_done.txt.age`,
            `${NAME}.uploads/`,
            `${NAME}.uploads/k1/`,
            `${NAME}.uploads/k1/a.txt.age`,
        ]);
    });
});

describe("an SFTP server: this computer's sftp client in batch mode", () => {
    test("its arguments: port, no prompts, the key and known_hosts only when given, new host keys remembered", () => {
        const common = ["-o", "StrictHostKeyChecking=accept-new", "lmbackup@nas.schule.test"];
        const start = ["-b", "-", "-P", "2222", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15"];
        expect(sftpArgs(sftpTarget, {})).toEqual([...start, ...common]);
        expect(sftpArgs(sftpTarget, { sftpKey: "/k/id", knownHosts: "/k/kh" })).toEqual([
            ...start,
            ...["-i", "/k/id", "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=/k/kh"],
            ...common,
        ]);
        expect(sftpArgs(sftpTarget, { knownHosts: "/k/kh" })).not.toContain("-i");
        expect(sftpArgs(sftpTarget, { sftpKey: "/k/id" })).not.toContain("-o UserKnownHostsFile=/k/kh");
        expect(sftpArgs(sftpTarget, { sftpKey: "/k/id" }).join(" ")).not.toMatch(/UserKnownHostsFile/);
    });

    test("a failure says the exit code and the fix for a refused key or a changed host key, with the last of its output", () => {
        const text = "sftp://lmbackup@nas.schule.test:2222/home/lm backup/lm";
        expect(sftpFailure(sftpTarget, 255, "  lmbackup@nas: Permission denied (publickey).\n")).toBe(
            `sftp ${text} failed (exit 255): nas.schule.test refused the key. Fix: --sftp-key <the private key whose public half is in the server's authorized_keys, e.g. ~/.ssh/lernmanager_backup>: lmbackup@nas: Permission denied (publickey).`,
        );
        for (const why of ["Host key verification failed.", "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!"])
            expect(sftpFailure(sftpTarget, 255, why)).toBe(
                `sftp ${text} failed (exit 255): the server's host key is not the one known for nas.schule.test. Check the server; then fix the known_hosts entry: ${why}`,
            );
        expect(sftpFailure(sftpTarget, 1, "No such file or directory")).toBe(
            `sftp ${text} failed (exit 1): No such file or directory`,
        );
        const long = "a".repeat(500) + "b".repeat(400);
        expect(sftpFailure(sftpTarget, null, long)).toBe(`sftp ${text} failed (exit null): ${"b".repeat(400)}`);
    });

    const line = (perm: string, bytes: number, name: string) =>
        `${perm}    1 lmbackup lmbackup ${String(bytes).padStart(8)} Dec  6 21:00 /home/lm backup/lm/${name}`;

    test("a listing: files and folders with their sizes; . and .., prompts and short lines are not entries", () => {
        const out = [
            "sftp> ls -la /home/lm\\ backup/lm",
            "drwx------    3 lmbackup lmbackup     4096 Dec  6 21:00 .",
            "drwxr-xr-x    3 lmbackup lmbackup     4096 Dec  6 21:00 ..",
            line("-rw-------", 73829, `${NAME}.age`),
            line("drwx------", 4096, `${NAME}.uploads`),
            line("-rw-r--r--", 12, "my notes.txt"),
            `  ${line("lrwxrwxrwx", 7, "link")}  `,
            "-rw-------    1 lmbackup lmbackup 5 Dec  6 short",
            "total 12 a b c d e f g h",
            "Xrw-------    1 lmbackup lmbackup 1 Dec  6 21:00 x",
            "#-rw-------    1 lmbackup lmbackup 1 Dec  6 21:00 y",
            "-rw    1 lmbackup lmbackup 1 Dec  6 21:00 z",
            "",
        ].join("\n");
        expect(parseSftpListing(out)).toEqual([
            [`${NAME}.age`, false, 73829],
            [`${NAME}.uploads`, true, 4096],
            ["my notes.txt", false, 12],
            ["link", false, 7],
        ]);
    });

    test("the fetch batch: into the local folder, from the remote one, one backup's parts (folders recursive), the .db last", () => {
        const entries: [string, boolean, number][] = [
            [`${NAME}.age`, false, 9],
            [`${NAME}.uploads`, true, 4096],
            [`${NAME}.migrations_done.txt.age`, false, 3],
            [`${NAME}.keep-instance-reports`, true, 4096],
            [`${NAME}.partial`, false, 1],
            [`${NAME}.keep-Bad`, true, 1],
            [OLDER, false, 9],
            [`${OLDER}.uploads`, true, 9],
        ];
        expect(sftpFetchBatch(entries, NAME, "/home/lm backup/lm", "/tmp/my dir")).toEqual([
            "lcd /tmp/my\\ dir",
            "cd /home/lm\\ backup/lm",
            `get -pr ${NAME}.uploads`,
            `get -p ${NAME}.migrations_done.txt.age`,
            `get -pr ${NAME}.keep-instance-reports`,
            `get -p ${NAME}.age`,
        ]);
        expect(
            sftpFetchBatch(
                [
                    [OLDER, false, 1],
                    [`${OLDER}.uploads`, true, 1],
                    [`${OLDER}.migrations_done.txt`, false, 1],
                ],
                OLDER,
                "/r",
                "/d",
            ),
        ).toEqual([
            "lcd /d",
            "cd /r",
            `get -pr ${OLDER}.uploads`,
            `get -p ${OLDER}.migrations_done.txt`,
            `get -p ${OLDER}`,
        ]);
    });

    test("names are escaped for sftp's parser: blanks, quotes, backslashes, globs and #; a line break is refused", () => {
        expect(sftpQuote("a b\tc\\d\"e'f*g?h[i]j#k")).toBe("a\\ b\\\tc\\\\d\\\"e\\'f\\*g\\?h\\[i\\]j\\#k");
        expect(sftpQuote("plain-name.db")).toBe("plain-name.db");
        for (const bad of ["a\nb", "a\rb"]) {
            expect(() => sftpQuote(bad)).toThrow(CopiesError);
            expect(() => sftpQuote(bad)).toThrow(
                `${JSON.stringify(bad)}: a name with a line break cannot be fetched with sftp`,
            );
        }
    });
});

describe("choosing a copy", () => {
    test("a database whose name holds .age is not taken for an encrypted one", () => {
        const agenda = "lm.agenda-20261130T193615625944Z-scheduled.db";
        expect(
            completeCopies([
                [agenda, false, 1],
                [`${agenda}.age`, false, 2],
            ]),
        ).toEqual([
            { name: agenda, encrypted: false, bytes: 1 },
            { name: agenda, encrypted: true, bytes: 2 },
        ]);
    });

    test("complete copies: files named like a backup's .db (or .db.age), sorted oldest first", () => {
        expect(
            completeCopies([
                [`${NAME}.age`, false, 3],
                [OLDER, false, 2],
                [`${NAME}.uploads`, true, 1],
                [`${SAFETY}`, true, 1],
                [`${NAME}.migrations_done.txt`, false, 1],
                ["x.db", false, 1],
                [`${OLDER}.partial`, false, 1],
            ]),
        ).toEqual([
            { name: OLDER, encrypted: false, bytes: 2 },
            { name: NAME, encrypted: true, bytes: 3 },
        ]);
    });

    test("latest: the newest that is not a safety backup; a name: exactly that one; else the fix", () => {
        const copies = [
            { name: OLDER, encrypted: false, bytes: 1 },
            { name: NAME, encrypted: false, bytes: 1 },
            { name: SAFETY, encrypted: false, bytes: 1 },
            { name: "lernmanager-20261202T193615625944Z-before-import.db", encrypted: false, bytes: 1 },
        ];
        expect(resolveBackup(copies, "latest", "/x")).toBe(copies[1]);
        expect(resolveBackup(copies, OLDER, "/x")).toBe(copies[0]);
        expect(resolveBackup(copies, SAFETY, "/x")).toBe(copies[2]);
        expect(() => resolveBackup(copies.slice(2), "latest", "/mnt/nas")).toThrow(
            new CopiesError(
                "/mnt/nas holds no copies of backups. Fix: check --from (the folder or server in backupCopyTo)",
            ),
        );
        expect(() => resolveBackup(copies, "lernmanager-20261130T000000000000Z.db", "/mnt/nas")).toThrow(
            new CopiesError(
                "/mnt/nas has no complete copy lernmanager-20261130T000000000000Z.db. Fix: pick one that --list shows",
            ),
        );
    });
});

describe("decrypting on this computer with the admin's age key", () => {
    /** A new age key in file; its recipient (public key). */
    const keygen = (file: string) => {
        execFileSync("age-keygen", ["-o", file], { stdio: "pipe" });
        return execFileSync("age-keygen", ["-y", file], { encoding: "utf8" }).trim();
    };

    test("every .age file, in folders too, is replaced by its plain text (0600); a wrong key or no age names the fix", () => {
        const key = path.join(tmp, "backup.key");
        const recipient = keygen(key);
        const fetched = path.join(tmp, "fetched");
        const seal = (p: string, text: string) => {
            write(`fetched/${p}`, text);
            execFileSync("age", ["-r", recipient, "-o", path.join(fetched, `${p}.age`), path.join(fetched, p)]);
            fs.unlinkSync(path.join(fetched, p));
        };
        seal(NAME, "db");
        seal(`${NAME}.uploads/k1/a.txt`, "a");
        write(`fetched/${NAME}.uploads/plain.txt`, "p");
        fs.symlinkSync("/nonexistent.age", path.join(fetched, "dangling.age"));
        expect(decryptAll(fetched, key)).toBe(2);
        expect(fs.readFileSync(path.join(fetched, NAME), "utf8")).toBe("db");
        expect(fs.readFileSync(path.join(fetched, `${NAME}.uploads/k1/a.txt`), "utf8")).toBe("a");
        expect(mode(path.join(fetched, NAME))).toBe(0o600);
        expect(fs.existsSync(path.join(fetched, `${NAME}.age`))).toBe(false);
        expect(fs.existsSync(path.join(fetched, `${NAME}.uploads/k1/a.txt.age`))).toBe(false);
        expect(decryptAll(fetched, undefined)).toBe(0);

        seal("again.db", "x");
        const other = path.join(tmp, "other.key");
        keygen(other);
        const wrongKey = (() => {
            try {
                decryptAll(fetched, other);
            } catch (e) {
                return (e as Error).message;
            }
            return "accepted";
        })();
        // age's message, trimmed, before the fix.
        expect(wrongKey).toMatch(
            /^age could not decrypt again\.db\.age: [^]*no identity matched[^]*\S\. Fix: --identity must be the private key of a backupEncryptTo recipient$/,
        );
        expect(() => decryptAll(fetched, key, path.join(tmp, "no-age"))).toThrow(
            /^age is not installed on this computer \(.*ENOENT.*\)\. Fix: `sudo apt-get install age`/,
        );
        expect(() => decryptAll(fetched, undefined)).toThrow(
            new CopiesError(
                "the copy is encrypted (backupEncryptTo). Fix: add --identity <your age private key file, e.g. lernmanager-backup.key>",
            ),
        );
        expect(() => decryptAll(fetched, path.join(tmp, "missing.key"))).toThrow(
            new CopiesError(
                `--identity ${path.join(tmp, "missing.key")} does not exist. Fix: the path of your lernmanager-backup.key`,
            ),
        );
    });
});

describe("into a stack not deployed yet: laid out as an install for the import", () => {
    const config = {
        dataPath: "data",
        databaseFile: "app.db",
        uploadsPath: "instance/uploads",
        persistentPaths: ["instance/reports"],
    };

    test("without migrations the done-file stays; a part the backup lacks is an empty folder", () => {
        write(`f/${NAME}`, "db");
        write(`f/${NAME}.migrations_done.txt`, "m");
        const into = path.join(tmp, "deep", "install");
        layoutAsInstall(path.join(tmp, "f"), NAME, config, into);
        expect(fs.readFileSync(path.join(into, "data/app.db"), "utf8")).toBe("db");
        expect(fs.existsSync(path.join(tmp, "f", `${NAME}.migrations_done.txt`))).toBe(true);
        expect(fs.readdirSync(path.join(into, "instance/uploads"))).toEqual([]);
        expect(fs.readdirSync(path.join(into, "instance/reports"))).toEqual([]);
        expect(mode(path.join(into, "data"))).toBe(0o700);
        expect(mode(path.join(into, "instance/reports"))).toBe(0o700);
    });

    test("with a done-file in a folder of its own and nothing fetched at all", () => {
        write(`f/${NAME}.migrations_done.txt`, "m");
        const into = path.join(tmp, "install");
        layoutAsInstall(
            path.join(tmp, "f"),
            NAME,
            { ...config, migrations: { folder: "migrate", pattern: "*.py", doneFile: "state/done.txt" } },
            into,
        );
        expect(fs.readFileSync(path.join(into, "state/done.txt"), "utf8")).toBe("m");
        expect(fs.readdirSync(path.join(into, "data"))).toEqual([]);
        expect(mode(path.join(into, "state"))).toBe(0o700);
    });

    test("what it says: files, rows per database, the safety backup if one was taken, the next step", () => {
        const report = {
            source: { files: 12 },
            target: {
                databases: {
                    "data/app.db": { integrity: "ok", rows: { a: 2, b: 3 } },
                    "data/other.db": { integrity: "ok", rows: { c: 4 } },
                },
            },
        };
        expect(importedLine(NAME, "walde", report)).toBe(
            `${NAME} is in the volumes of walde: 12 files, 5+4 rows. Next: \`npx pulumi up -s walde\` (runs the pending migrations and waits until the app is healthy)`,
        );
        expect(importedLine(NAME, "walde", { ...report, target: { databases: {} }, safetyBackup: SAFETY })).toBe(
            `${NAME} is in the volumes of walde: 12 files, 0 rows; what they held is in ${SAFETY}. Next: \`npx pulumi up -s walde\` (runs the pending migrations and waits until the app is healthy)`,
        );
    });
});

describe("into a deployed stack: through its backups volume", () => {
    test("the push: the fetched folder as a tar into a one-off container on the backups volume", () => {
        expect(pushCommand("prod", "vol-b", "img:2", "/tmp/f")).toEqual([
            "-c",
            'set -o pipefail; src=$1; shift; tar -c -C "$src" . | docker "$@"',
            "bash",
            "/tmp/f",
            "run",
            "-i",
            ...oneOffRunFlags("prod", "restore-fetch"),
            "--mount",
            "type=volume,source=vol-b,target=/backups",
            "--entrypoint",
            "python3",
            "img:2",
            "-c",
            expect.stringContaining("tarfile"),
        ]);
        expect(dropIncomingArgs("vol-b", "img:2")).toEqual([
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            "10001:10001",
            "--mount",
            "type=volume,source=vol-b,target=/backups",
            "--entrypoint",
            "rm",
            "img:2",
            "-rf",
            `/backups/${INCOMING}`,
        ]);
        expect(INCOMING).toBe(".lernmanager-incoming");
    });

    test("the container unpacks into an emptied incoming folder, private; a member outside it or a link is refused", () => {
        const volume = path.join(tmp, "backups");
        write(`backups/${INCOMING}/stale.db`);
        write(`f/${NAME}`, "db");
        write(`f/${NAME}.uploads/k1/a.txt`, "a");
        const script = scriptOf(pushCommand("prod", "v", "i", "f"), "/backups/", `${volume}/`);
        const tarOf = (dir: string) => execFileSync("tar", ["-c", "-C", dir, "."]);
        const unpack = (tar: Buffer) => spawnSync("python3", ["-c", script], { input: tar, encoding: "utf8" });
        const ok = unpack(tarOf(path.join(tmp, "f")));
        expect(ok.status).toBe(0);
        const incoming = path.join(volume, INCOMING);
        expect(fs.readdirSync(incoming).sort()).toEqual([NAME, `${NAME}.uploads`]);
        expect(fs.readFileSync(path.join(incoming, `${NAME}.uploads/k1/a.txt`), "utf8")).toBe("a");
        expect([mode(incoming), mode(path.join(incoming, `${NAME}.uploads/k1`))]).toEqual([0o700, 0o700]);
        expect(mode(path.join(incoming, NAME))).toBe(0o600);

        const evil = (member: string, link?: string) =>
            execFileSync("python3", [
                "-c",
                "import io, sys, tarfile\n" +
                    "t = tarfile.open(fileobj=sys.stdout.buffer, mode='w|')\n" +
                    "i = tarfile.TarInfo(sys.argv[1])\n" +
                    "if len(sys.argv) > 2: i.type, i.linkname = tarfile.SYMTYPE, sys.argv[2]\n" +
                    "t.addfile(i, io.BytesIO(b''))\nt.close()\n",
                member,
                ...(link ? [link] : []),
            ]);
        for (const [member, link] of [["../escaped"], ["/abs"], ["link", "/etc/passwd"]]) {
            const r = unpack(evil(member, link));
            expect(r.status).not.toBe(0);
            expect(r.stderr).toContain(`refused ${member}`);
        }
        expect(fs.existsSync(path.join(volume, "escaped"))).toBe(false);
    });

    test("--help names the Docker host: the stack's, else $DOCKER_HOST, else the local engine", () => {
        const engine = { host: "ssh://admin@walde", from: "docker:host of Pulumi.walde.yaml" };
        expect(dockerHostLine(engine, "tcp://x:2375")).toBe(
            "Docker host: ssh://admin@walde (docker:host of Pulumi.walde.yaml)",
        );
        expect(dockerHostLine(undefined, "tcp://x:2375")).toBe("Docker host: tcp://x:2375 ($DOCKER_HOST)");
        expect(dockerHostLine(undefined, undefined)).toBe(
            "Docker host: the local engine (no DOCKER_HOST; with a stack: its docker:host)",
        );
        expect(dockerHostLine(undefined, "")).toBe(
            "Docker host: the local engine (no DOCKER_HOST; with a stack: its docker:host)",
        );
    });

    test("without --from it is not a restore from copies (refused before Docker)", async () => {
        await expect(restoreFromCopies(["prod", "latest"])).rejects.toThrow(
            new RestoreUsageError("restoreFromCopies needs --from"),
        );
    });
});
