/**
 * Backups copied to an SFTP server on the real engine. The server is an OpenSSH sshd in a
 * container of the python test image (it has openssh-server) on Docker's default bridge, reached by
 * its address like a NAS on the school's LAN: the backup container joins that bridge only because a
 * target is sftp://. Proven: the copies land with the same bytes, only new backups are sent, unchanged
 * uploads are hard links there too, the remote set is pruned like the local one, `npm run status`
 * shows the copy; a key the server does not accept and a changed server host key fail loudly, and
 * the documented reset of the pinned host key works.
 *
 * The backup loop runs at LOOP_SPEED (LM_BACKUPD_SPEED, containers/runtime/backups/lm_backupd.py): backupEvery
 * 30s and its poll divided by it, so the scheduled cycles (backup, copy, drill) the tests wait for
 * come every 10 s, through the real loop. Not faster: a cycle's restore drill takes 5 to 15 s on a
 * busy 2-core machine, and a loop that is always busy holds up the `npm run backup` cycles.
 */
import { execFileSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TEST_IMAGES } from "../support/baseImages";
import { opsScript, waitBackupStatus } from "../support/backupOps";
import { recordFigure } from "../support/figures";
import { docker } from "../support/realize";
import { execIn, liveStack, LiveStack } from "../support/stack";

jest.setTimeout(900000);

const STACK = "e2e-sftp";
const SERVER = `e2e-sftp-sshd-${randomBytes(3).toString("hex")}`;
const FOLDER = "/home/lmbackup/lernmanager";
const KNOWN = "/backups/.lernmanager-known_hosts";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LOOP_SPEED = 3;

const keys = fs.mkdtempSync(path.join(os.tmpdir(), "lmsftp-keys-"));
for (const k of ["key", "other"]) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${keys}/${k}`]);
const pub = (k: string) => fs.readFileSync(`${keys}/${k}.pub`, "utf8").trim();

let s: LiveStack;
let target = "";
const server = () => docker.getContainer(SERVER);
const backupContainer = () => s.realization.container(`${STACK}-backups`);

/** Runs a shell command in the SFTP server container as root. */
const onServer = async (script: string) => (await execIn(server(), ["sh", "-c", script], { user: "0" })).output;

const waitStatus = (what: string, ok: (st: any) => boolean, seconds: number) =>
    waitBackupStatus(backupContainer, what, ok, seconds);
const npm = opsScript;

/** sha256 of every backup file (.db and done-file) in the volume and in the server's folder. */
const LOCAL_HASHES = `import glob, hashlib, json, os
print(json.dumps({os.path.basename(p): hashlib.sha256(open(p, "rb").read()).hexdigest()
                  for p in glob.glob("/backups/lernmanager-*.db") + glob.glob("/backups/lernmanager-*.db.migrations_done.txt")}))`;
async function remoteHashes(): Promise<Record<string, string>> {
    const out = await onServer(
        `cd ${FOLDER} && for f in lernmanager-*.db lernmanager-*.db.migrations_done.txt; do [ -f "$f" ] && sha256sum "$f"; done; true`,
    );
    return Object.fromEntries(
        out
            .trim()
            .split("\n")
            .filter(Boolean)
            .map((l) => l.split(/\s+/))
            .map(([sum, name]) => [name, sum]),
    );
}

/**
 * Runs `fn` while the backup loop is held (its lock taken by a helper in the backup container, at
 * most 60 s), so the volume and the server are compared between two cycles.
 */
async function paused<T>(fn: () => Promise<T>): Promise<T> {
    const hold = `import fcntl, os, time
f = open("/backups/.lernmanager-backup.lock", "a"); fcntl.flock(f, fcntl.LOCK_EX)
open("/tmp/lmsftp-held", "w").close()
end = time.time() + 60
while time.time() < end and not os.path.exists("/tmp/lmsftp-release"):
    time.sleep(0.2)
for p in ("/tmp/lmsftp-held", "/tmp/lmsftp-release"):
    os.path.exists(p) and os.remove(p)`;
    const held = execIn(backupContainer(), ["python3", "-c", hold]);
    for (let i = 0; i < 300; i++) {
        if ((await execIn(backupContainer(), ["test", "-e", "/tmp/lmsftp-held"], { allowFail: true })).code === 0)
            break;
        await sleep(200);
    }
    try {
        return await fn();
    } finally {
        await execIn(backupContainer(), ["touch", "/tmp/lmsftp-release"]);
        await held;
    }
}

beforeAll(async () => {
    // The server: user `lmbackup` (Debian has a system user `backup`), shell /bin/sh (sftp-server runs through it), the test's key.
    execFileSync("docker", [
        "run",
        "-d",
        "--name",
        SERVER,
        "--label",
        "dev.lernmanager.stack=e2e-sftp-server",
        "--env",
        `AUTHORIZED=${pub("key")}`,
        TEST_IMAGES.python,
        "sh",
        "-c",
        [
            "set -e",
            "useradd -m -s /bin/sh -p '*' lmbackup",
            "mkdir -p /run/sshd /home/lmbackup/.ssh",
            'echo "$AUTHORIZED" > /home/lmbackup/.ssh/authorized_keys',
            "chown -R lmbackup:lmbackup /home/lmbackup/.ssh && chmod 700 /home/lmbackup/.ssh",
            "exec /usr/sbin/sshd -D -e",
        ].join("\n"),
    ]);
    const info = await server().inspect();
    const ip = info.NetworkSettings.Networks.bridge?.IPAddress;
    if (!ip) throw new Error(`${SERVER} has no address on the default bridge`);
    target = `sftp://lmbackup@${ip}${FOLDER}`;
    s = await liveStack(
        STACK,
        {
            "lernmanager:backupEvery": "30s",
            "lernmanager:backupKeep": "2",
            "lernmanager:backupRetention": "hourly=0,daily=0,weekly=0",
            "lernmanager:backupCopyTo": JSON.stringify([target]),
            "lernmanager:backupSftpKey": fs.readFileSync(`${keys}/key`, "utf8"),
        },
        undefined,
        undefined,
        { "-backups": [`LM_BACKUPD_SPEED=${LOOP_SPEED}`] },
    );
});
afterAll(async () => {
    await s?.realization.teardown();
    await server()
        .remove({ force: true })
        .catch(() => undefined);
    fs.rmSync(keys, { recursive: true, force: true });
});

const copyOk = (st: any, since = 0) => st.copies?.[target]?.ok && Date.parse(st.copies[target].time) > since;
let firstCopy = 0;
let firstHostKey = "";
let firstSet: string[] = [];

test("the backups land on the SFTP server with the same bytes; the server's host key is pinned", async () => {
    await execIn(s.app(), [
        "sh",
        "-c",
        "mkdir -p '/app/instance/uploads/class 1' && echo report > '/app/instance/uploads/class 1/a b.txt' && echo task > '/app/instance/uploads/class 1/Aufgabe [2] *neu*?.txt'",
    ]);
    const written = Date.now();
    const st = await waitStatus(
        "a copy to the SFTP server of a backup taken after the upload",
        (x) => copyOk(x, written) && Date.parse(x.lastBackup?.time ?? 0) > written,
        240,
    );
    const copy = st.copies[target];
    await paused(async () => {
        const local = JSON.parse((await execIn(backupContainer(), ["python3", "-c", LOCAL_HASHES])).output);
        expect(Object.keys(local).length).toBeGreaterThanOrEqual(1);
        expect(await remoteHashes()).toEqual(local);
        firstSet = Object.keys(local).filter((n) => n.endsWith(".db"));
        // The uploads snapshot of the newest backup is there, with the file's content.
        const newest = [...firstSet].sort().pop()!;
        expect(await onServer(`cat '${FOLDER}/${newest}.uploads/class 1/a b.txt'`)).toBe("report\n");
        // A name with sftp's glob characters arrives as it is.
        expect(await onServer(`cat '${FOLDER}/${newest}.uploads/class 1/Aufgabe [2] *neu*?.txt'`)).toBe("task\n");
    });
    firstCopy = Date.parse(copy.time);
    // Pinned on first use: the server's own ed25519 key, nothing else.
    firstHostKey = (await onServer("cat /etc/ssh/ssh_host_ed25519_key.pub")).trim();
    const serverKey = firstHostKey.split(/\s+/)[1];
    const known = (await execIn(backupContainer(), ["cat", KNOWN])).output.trim().split("\n");
    expect(known).toHaveLength(1);
    expect(known[0]).toContain(serverKey);
    recordFigure("backup: SFTP copy of the demo backup", {
        seconds: copy.seconds,
        bytes: copy.bytes,
        copied: copy.copied,
        linked: copy.linked,
    });
    process.stdout.write(`    sftp copy: ${copy.copied} backup(s), ${copy.bytes} bytes in ${copy.seconds} s\n`);
    const shown = npm("status", STACK);
    expect(shown.out).toContain(`off-host copy ${target}: ok `);
    expect(shown.out).toMatch(/\nOK\n/);
    expect(shown.code).toBe(0);
});

test("a later backup sends only itself, links unchanged uploads, and the server is pruned like the volume", async () => {
    const oldest = [...firstSet].sort()[0];
    // keep 2, no retention: after two more backups the oldest of the first set is gone here.
    const st = await waitStatus(
        "a copy after the oldest backup of the first copy was pruned",
        (x) => copyOk(x, firstCopy) && !x.backups.some((b: any) => b.file === oldest),
        240,
    );
    expect(st.copies[target].copied).toBe(1);
    await paused(async () => {
        const local = JSON.parse((await execIn(backupContainer(), ["python3", "-c", LOCAL_HASHES])).output);
        expect(Object.keys(local).filter((n) => n.endsWith(".db"))).toHaveLength(2);
        expect(await remoteHashes()).toEqual(local);
        // Nothing of the pruned backup is left there (its uploads folder included).
        expect(await onServer(`ls -a ${FOLDER} | grep -c '^${oldest}' || true`)).toBe("0\n");
        // The unchanged upload: one file on the server, hard-linked between the two snapshots.
        const dbs = Object.keys(local)
            .filter((n) => n.endsWith(".db"))
            .sort();
        const inodes = await onServer(
            dbs.map((d) => `stat -c %i '${FOLDER}/${d}.uploads/class 1/a b.txt'`).join(" && "),
        );
        const [a, b] = inodes.trim().split("\n");
        expect(a).toBe(b);
    });
    const shown = npm("status", STACK);
    expect(shown.out).toContain(`off-host copy ${target}: ok `);
    expect(shown.code).toBe(0);
});

test("a key the server does not accept fails the copy loudly; it clears when the key is accepted again", async () => {
    await onServer(`echo '${pub("other")}' > /home/lmbackup/.ssh/authorized_keys`);
    const now = npm("backup", STACK);
    expect(now.code).toBe(1);
    expect(now.out).toContain(`COPY TO ${target} FAILED`);
    expect(now.out).toMatch(/refused the key backupSftpKey \(Permission denied\)/);
    const health = await execIn(backupContainer(), ["python3", "-OO", "/opt/lernmanager/lm_backupd.py", "--health"], {
        allowFail: true,
    });
    expect(health.code).toBe(1);
    expect(health.output).toContain(`the last copy to ${target} failed`);
    const shown = npm("status", STACK);
    expect(shown.code).toBe(1);
    expect(shown.out).toMatch(/NEEDS A PERSON: .*the last copy to sftp:\/\/.* failed/);

    await onServer(`echo '${pub("key")}' > /home/lmbackup/.ssh/authorized_keys`);
    const again = npm("backup", STACK);
    expect(again.out).toMatch(/copy to sftp:\/\/\S+: \d+ new backup/);
    expect(again.out).not.toContain("FAILED");
    expect(again.code).toBe(0);
});

test("a changed server host key fails every copy, naming the host key; the documented reset pins the new one", async () => {
    // A new host key, as when another machine answers on that address; sshd re-reads it on SIGHUP.
    // Changed between two cycles of the loop: a copy that connected before the change may still
    // be writing (the loop cycles every few seconds).
    const before = await paused(async () => {
        await onServer("rm /etc/ssh/ssh_host_* && ssh-keygen -q -A && kill -HUP 1");
        await sleep(1000);
        return remoteHashes();
    });
    const now = npm("backup", STACK);
    expect(now.code).toBe(1);
    expect(now.out).toMatch(/COPY TO \S+ FAILED: sftp exited \d+: the host key of [\d.]+ is not the one pinned/);
    // Nothing was written to the impostor.
    expect(await remoteHashes()).toEqual(before);
    const shown = npm("status", STACK);
    expect(shown.code).toBe(1);
    expect(shown.out).toMatch(/FAILED \(sftp exited \d+: the host key of/);
    // The scheduled loop (backupEvery 30s / LOOP_SPEED) logs the same at its next copy: `npm run backup` runs in an exec.
    const logged = Date.now() + 90000;
    while (!(await s.logs(backupContainer())).includes("is not the one pinned") && Date.now() < logged)
        await sleep(3000);
    expect((await s.logs(backupContainer())).includes("is not the one pinned")).toBe(true);

    // backupSftpHostKey (LM_SFTP_HOST_KEYS) pins keys up front: the old key is refused, the new one accepted.
    const newHostKey = (await onServer("cat /etc/ssh/ssh_host_ed25519_key.pub")).trim();
    const session = (keys: string) =>
        execIn(
            backupContainer(),
            [
                "sh",
                "-c",
                `LM_SFTP_HOST_KEYS="$0" python3 -c "import json, sys; sys.path.insert(0, '/opt/lernmanager'); import lm_sftp; print(lm_sftp.sftp(json.load(open('/tmp/lm-backupd.json')), sys.argv[1], ['pwd']))" "$1"`,
                keys,
                target,
            ],
            { allowFail: true },
        );
    const refused = await session(firstHostKey.split(/\s+/).slice(0, 2).join(" "));
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/the host key of [\d.]+ is none of backupSftpHostKey/);
    const accepted = await session(newHostKey.split(/\s+/).slice(0, 2).join(" "));
    expect(accepted.output).toContain("Remote working directory: /home/lmbackup");
    expect(accepted.code).toBe(0);

    // docs/backups.md: after checking the server, remove the pinned key; the next copy pins the new one.
    const ip = target.replace(/^sftp:\/\/lmbackup@([^/]+)\/.*$/, "$1");
    await execIn(backupContainer(), ["ssh-keygen", "-R", ip, "-f", KNOWN]);
    const again = npm("backup", STACK);
    expect(again.code).toBe(0);
    expect((await execIn(backupContainer(), ["cat", KNOWN])).output).toContain(newHostKey.split(/\s+/)[1]);
});
