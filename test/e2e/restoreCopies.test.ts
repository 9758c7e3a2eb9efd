/**
 * The server died: a new server gets the class back from the off-host copies, on the real engine.
 * A stack with rows, uploads and a persistent folder (instance/reports) copies its backups, encrypted
 * with age to a key made here (as on the admin's computer), to a host folder AND an SFTP server (an
 * OpenSSH sshd container on Docker's default bridge, as in backupsSftp.test.ts). Then every container,
 * volume and image of the stack is removed. On the empty host:
 *   1. `npm run restore -- <stack> <backup> --from <folder> --identity <key>` before the first deploy
 *      puts the old server's newest backup into the new volumes (as `npm run import` does);
 *   2. the stack is deployed; a student logs in: the class is back;
 *   3. after two backup cycles of the new server every copy of the old one is still on both targets;
 *   4. `npm run restore -- ... --from sftp://... --identity <key>` on the deployed stack (safety backup,
 *      writers stopped, migrations, health) undoes changes made after the loss.
 * Each restore: every row and every file (uploads, reports) equal to the old server's, by sha256.
 *
 * Mostly waits (deploys, backup cycles, the restore's health wait): the backup loop runs at
 * LOOP_SPEED (LM_BACKUPD_SPEED, a test clock): backupEvery 30s becomes a cycle every 10 s.
 */
import { execFileSync, spawnSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { restoreFromCopies } from "../../cli/restoreFrom";
import { loadConfig } from "../../config/load";
import { PROJECT_DIR } from "../../core/paths";
import { waitBackupStatus } from "../support/backupOps";
import { TEST_IMAGES } from "../support/baseImages";
import { recordFigure } from "../support/figures";
import { freePort, login } from "../support/http";
import { testConfig } from "../support/mocks";
import { docker } from "../support/realize";
import { execIn, liveStack, LiveStack } from "../support/stack";

jest.setTimeout(900000);

const STACK = "e2e-rst";
const SERVER = `e2e-rst-sshd-${randomBytes(3).toString("hex")}`;
const REMOTE = "/home/lmbackup/lernmanager";
const LOOP_SPEED = 3;

const work = fs.mkdtempSync(path.join(os.tmpdir(), "lmrst-"));
const nas = path.join(work, "nas");
fs.mkdirSync(nas, { mode: 0o700 });
// Set up as `npm run backup -- init-target` leaves it: the marker, owned by the backups' user.
fs.writeFileSync(path.join(nas, ".lernmanager-backup-target"), "lernmanager backups\n", { mode: 0o600 });
for (const p of [nas, path.join(nas, ".lernmanager-backup-target")]) fs.chownSync(p, 10001, 10001);
// The admin's keys, made here: age (only the public half goes into the config) and the SFTP login.
const keyFile = path.join(work, "lernmanager-backup.key");
execFileSync("age-keygen", ["-o", keyFile], { stdio: "pipe" });
const recipient = /public key: (age1\S+)/i.exec(fs.readFileSync(keyFile, "utf8"))![1];
const sshKey = path.join(work, "lernmanager_backup");
execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", sshKey]);
const knownHosts = path.join(work, "known_hosts");

let s: LiveStack | undefined;
let port = 0;
let secretKey = "";
let sftpTarget = "";
const server = () => docker.getContainer(SERVER);
const bk = () => s!.realization.container(`${STACK}-backups`);
const onServer = async (script: string) => (await execIn(server(), ["sh", "-c", script], { user: "0" })).output;
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

const overrides = () => ({
    "lernmanager:port": String(port),
    "lernmanager:backupEvery": "30s",
    "lernmanager:backupKeep": "3",
    "lernmanager:backupRetention": "hourly=0,daily=0,weekly=0",
    "lernmanager:backupCopyTo": JSON.stringify([nas, sftpTarget]),
    "lernmanager:backupEncryptTo": recipient,
    "lernmanager:backupSftpKey": fs.readFileSync(sshKey, "utf8"),
});
const deploy = () =>
    liveStack(STACK, overrides(), secretKey || undefined, undefined, {
        "-backups": [`LM_BACKUPD_SPEED=${LOOP_SPEED}`],
    });

/** The class's rows (one JSON string per row) and every file of the uploads and reports, by sha256, as the app has them. */
const STATE = `import glob, hashlib, json, os, sqlite3
c = sqlite3.connect("file:/app/data/lernmanager.db?mode=ro", uri=True)
rows = [t + ":" + json.dumps(list(r)) for t in ("classes", "users", "tasks", "progress")
        for r in c.execute("SELECT * FROM " + t + " ORDER BY 1, 2")]
files = {}
for base in ("/app/instance/uploads", "/app/instance/reports"):
    for root, _, names in os.walk(base):
        for n in names:
            p = os.path.join(root, n)
            files[p] = hashlib.sha256(open(p, "rb").read()).hexdigest()
print(json.dumps({"rows": rows, "files": files}))`;
type State = { rows: string[]; files: Record<string, string> };
const state = async (): Promise<State> =>
    JSON.parse((await execIn(s!.app(), ["python3", "-c", STATE])).output.trim().split("\n").pop()!);
/** How much of `before` is in `after`, row for row and file for file (same sha256). */
const restored = (before: State, after: State) => ({
    rows: before.rows.filter((r) => after.rows.includes(r)).length,
    files: Object.entries(before.files).filter(([p, h]) => after.files[p] === h).length,
});

/** The complete copies on each target (name → sha256 of the .db.age). */
const folderCopies = () =>
    Object.fromEntries(
        fs
            .readdirSync(nas)
            .filter((n) => /^lernmanager-.*\.db\.age$/.test(n))
            .map((n) => [n, sha(fs.readFileSync(path.join(nas, n)))]),
    );
async function sftpCopies(): Promise<Record<string, string>> {
    const out = await onServer(
        `cd ${REMOTE} && for f in lernmanager-*.db.age; do [ -f "$f" ] && sha256sum "$f"; done; true`,
    );
    return Object.fromEntries(
        out
            .trim()
            .split("\n")
            .filter(Boolean)
            .map((l) => l.split(/\s+/).reverse()),
    );
}

const scheduledSince = (st: any, t: number) =>
    st.backups
        .map((b: any) => b.file as string)
        .filter(
            (f: string) =>
                f.includes("-scheduled") &&
                Date.parse(f.replace(/^.*-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d).*$/, "$1-$2-$3T$4:$5:$6Z")) >= t,
        );
const copiedBoth = (st: any, after: number) =>
    [nas, sftpTarget].every((t) => st.copies?.[t]?.ok && Date.parse(st.copies[t].time) >= after);

/** `npm run restore -- ...` as the admin types it (cli/restore.sh). */
function npmRestore(...args: string[]): { code: number | null; out: string } {
    const r = spawnSync("bash", ["cli/restore.sh", ...args], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
        timeout: 600000,
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
    execFileSync("docker", [
        "run",
        "-d",
        "--name",
        SERVER,
        "--label",
        "dev.lernmanager.stack=e2e-rst-sshd",
        "--env",
        `AUTHORIZED=${fs.readFileSync(`${sshKey}.pub`, "utf8").trim()}`,
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
    const ip = (await server().inspect()).NetworkSettings.Networks.bridge?.IPAddress;
    if (!ip) throw new Error(`${SERVER} has no address on the default bridge`);
    sftpTarget = `sftp://lmbackup@${ip}${REMOTE}`;
    port = await freePort();
    s = await deploy();
    port = s.port;
    secretKey = s.secretKey;
});

afterAll(async () => {
    await s?.realization.teardown({ images: true });
    await server()
        .remove({ force: true })
        .catch(() => undefined);
    spawnSync("docker", ["volume", "prune", "-f", "--filter", `label=dev.lernmanager.stack=${STACK}`]);
    fs.rmSync(work, { recursive: true, force: true });
});

test("server loss: restored from the folder before the first deploy and from SFTP after it; every row and file back, no copy pruned", async () => {
    // The old server's data: 40 more classes, uploads in two folders, a weekly report.
    const py = `import os, sqlite3
c = sqlite3.connect("/app/data/lernmanager.db")
c.executemany("INSERT INTO classes (name) VALUES (?)", [("Klasse rst-%d" % i,) for i in range(40)])
c.commit()
for rel, text in (("instance/uploads/k1/aufsatz.txt", "Mein Aufsatz"), ("instance/uploads/k2/bild.bin", os.urandom(200000).hex()),
                  ("instance/uploads/liste.csv", "a;b\\n1;2\\n"), ("instance/reports/2026-w49.pdf", "%PDF bericht")):
    os.makedirs(os.path.dirname("/app/" + rel), exist_ok=True)
    open("/app/" + rel, "w").write(text)`;
    await execIn(s!.app(), ["python3", "-c", py]);
    const written = Date.now();
    const st0 = await waitBackupStatus(
        bk,
        "a scheduled backup after the data, copied to both targets",
        // The status's last backup (the disk may already hold the next one, not copied yet).
        (x) => Date.parse(x.lastBackup?.time ?? 0) > written && copiedBoth(x, Date.parse(x.lastBackup.time)),
        180,
    );
    const before = await state();
    // The backup that cycle took and copied (a later cycle may have taken one not copied yet).
    const oldNewest = path.basename(st0.lastBackup.file as string);
    expect(before.rows.filter((r) => r.includes("Klasse rst-")).length).toBe(40);
    expect(Object.keys(before.files)).toHaveLength(4);
    const copiesBefore = { folder: folderCopies(), sftp: await sftpCopies() };
    expect(copiesBefore.folder[`${oldNewest}.age`]).toBeDefined();
    expect(copiesBefore.sftp[`${oldNewest}.age`]).toBeDefined();

    // Server loss: the server stops dead (its containers killed, no drain), then every container,
    // volume and image of the stack is removed.
    const lost = Date.now();
    const running = execFileSync("docker", ["ps", "-q", "--filter", `label=dev.lernmanager.stack=${STACK}`], {
        encoding: "utf8",
    })
        .split("\n")
        .filter(Boolean);
    if (running.length) execFileSync("docker", ["kill", ...running], { stdio: "ignore" });
    await s!.realization.teardown({ images: true });
    s = undefined;
    const left = execFileSync("docker", ["ps", "-aq", "--filter", `label=dev.lernmanager.stack=${STACK}`], {
        encoding: "utf8",
    });
    expect(left.trim()).toBe("");
    spawnSync("docker", ["volume", "prune", "-f", "--filter", `label=dev.lernmanager.stack=${STACK}`]);
    for (const v of ["data", "uploads", "backups", "keep-instance-reports"])
        expect(spawnSync("docker", ["volume", "inspect", `lernmanager-${STACK}-${v}`]).status).not.toBe(0);
    const emptyHost = Date.now();

    // 1. Before the first deploy: the folder's copy into the new volumes (the import's way).
    const config = loadConfig(testConfig(overrides()), { project: "lernmanager", projectDir: PROJECT_DIR });
    const fromFolder = await restoreFromCopies(
        [STACK, `${oldNewest}.age`, "--from", nas, "--identity", keyFile],
        () => config,
    );
    expect(fromFolder).toMatchObject({ backup: oldNewest, deployed: false });
    expect(fromFolder!.decrypted).toBeGreaterThanOrEqual(6); // the .db, its done-file, 4 files
    // 2. Deployed; a student logs in.
    const restoredAt = Date.now();
    s = await deploy();
    await login(port, "student01", "lernen");
    const classBack = Date.now();
    const afterFolder = await state();
    expect(sha(JSON.stringify(afterFolder))).toBe(sha(JSON.stringify(before)));
    const byFolder = restored(before, afterFolder);

    // 3. Two backup cycles of the new server: every copy of the old one still there, on both targets.
    const deployed = Date.now();
    await waitBackupStatus(
        bk,
        "two backup cycles of the new server, copied",
        (x) => scheduledSince(x, deployed - 2000).length >= 2 && copiedBoth(x, deployed),
        240,
    );
    const copiesAfter = { folder: folderCopies(), sftp: await sftpCopies() };
    for (const where of ["folder", "sftp"] as const)
        for (const [n, h] of Object.entries(copiesBefore[where]))
            expect([where, n, copiesAfter[where][n]]).toEqual([where, n, h]);
    const kept =
        Object.keys(copiesBefore.folder).filter((n) => copiesAfter.folder[n]).length +
        Object.keys(copiesBefore.sftp).filter((n) => copiesAfter.sftp[n]).length;
    const total = Object.keys(copiesBefore.folder).length + Object.keys(copiesBefore.sftp).length;

    // The list shows the old server's copies (with .age, as the name is accepted).
    const cycled = Date.now();
    const list = npmRestore(STACK, "--from", sftpTarget, "--list", "--sftp-key", sshKey, "--known-hosts", knownHosts);
    expect(list.code).toBe(0);
    expect(list.out).toContain(`${oldNewest}.age`);

    // 4. After the deploy: changes made since are undone from the SFTP copy, with today's safety.
    await execIn(s!.app(), [
        "python3",
        "-c",
        `import os, sqlite3
c = sqlite3.connect("/app/data/lernmanager.db"); c.execute("DELETE FROM classes WHERE name LIKE 'Klasse rst-1%'"); c.commit()
os.remove("/app/instance/uploads/k1/aufsatz.txt"); open("/app/instance/reports/2026-w49.pdf", "w").write("kaputt")`,
    ]);
    const t4 = Date.now();
    const bySftpRun = npmRestore(
        STACK,
        oldNewest,
        "--from",
        sftpTarget,
        "--identity",
        keyFile,
        "--sftp-key",
        sshKey,
        "--known-hosts",
        knownHosts,
    );
    const sftpSeconds = (Date.now() - t4) / 1000;
    expect(bySftpRun.out).toMatch(/safety backup of the current data: lernmanager-\S+-before-restore\.db/);
    expect(bySftpRun.out).toMatch(/the app is healthy again/);
    expect(bySftpRun.code).toBe(0);
    await login(port, "student02", "lernen");
    const afterSftp = await state();
    expect(sha(JSON.stringify(afterSftp))).toBe(sha(JSON.stringify(before)));
    const bySftp = restored(before, afterSftp);
    // The fetched copy does not stay in the backups volume.
    expect((await execIn(bk(), ["ls", "-a", "/backups"])).output).not.toContain(".lernmanager-incoming");

    const minutes = (classBack - emptyHost) / 60000;
    const figure = {
        copiesKeptAfterServerLoss: kept,
        copiesBeforeServerLoss: total,
        rowsRestoredFromFolder: byFolder.rows,
        rowsRestoredFromSftp: bySftp.rows,
        rows: before.rows.length,
        filesRestoredFromFolder: byFolder.files,
        filesRestoredFromSftp: bySftp.files,
        files: Object.keys(before.files).length,
        minutesEmptyHostToClassBack: Number(minutes.toFixed(2)),
        secondsRestoreFromSftpOnDeployedStack: Number(sftpSeconds.toFixed(1)),
        // Where the file's time goes (it mostly waits): seconds of each phase.
        secondsWaitingForTheCopiedBackup: Math.round((lost - written) / 1000),
        secondsServerLoss: Math.round((emptyHost - lost) / 1000),
        secondsRestoreBeforeFirstDeploy: Math.round((restoredAt - emptyHost) / 1000),
        secondsDeployUntilStudentLogin: Math.round((classBack - restoredAt) / 1000),
        secondsTwoBackupCycles: Math.round((cycled - deployed) / 1000),
    };
    recordFigure("server loss: restore from the off-host copies", figure);
    process.stdout.write(
        `    server loss: ${kept} of ${total} copies kept; rows ${byFolder.rows}/${before.rows.length} (folder), ${bySftp.rows}/${before.rows.length} (sftp); ` +
            `files ${byFolder.files}/${figure.files} (folder), ${bySftp.files}/${figure.files} (sftp); empty host to class back ${minutes.toFixed(1)} min; sftp restore on the deployed stack ${sftpSeconds.toFixed(0)} s\n` +
            `    phases (s): ${JSON.stringify(Object.fromEntries(Object.entries(figure).filter(([k]) => k.startsWith("seconds"))))}\n`,
    );
    expect(byFolder).toEqual({ rows: before.rows.length, files: 4 });
    expect(bySftp).toEqual({ rows: before.rows.length, files: 4 });
    expect(kept).toBe(total);
});
