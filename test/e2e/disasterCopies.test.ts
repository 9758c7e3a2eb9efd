/**
 * The disasters the off-host copies exist for, on the real engine (wall time about 7 min, 2 cores):
 * two stacks share one copy folder and never touch each other's copies; a folder that was never set
 * up (the empty mount point of an unmounted NAS) is refused with the reason; a backup dated in the
 * future is reported and the schedule goes on; a full backups disk (a 6 MB tmpfs volume) refuses the
 * backup before writing, leaves no partial, backs off, and the app keeps serving and writing; and the
 * server is lost (every container, volume and image of the stack removed) and the stack deployed again
 * on the empty host: after two backup cycles of the new server every copy of the old one is still
 * there, byte for byte. A's copies are encrypted with age to a key made off the server; they decrypt
 * to its backups exactly.
 */
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { backupStatus, opsScript, waitBackupStatus } from "../support/backupOps";
import { TEST_IMAGES } from "../support/baseImages";
import { docker } from "../support/realize";
import { copyOfDemoApp, execIn, liveStack, LiveStack } from "../support/stack";

jest.setTimeout(1800000);

const A = "e2e-dis-a";
const B = "e2e-dis-b";
const MARKER = ".lernmanager-backup-target";
const shared = fs.mkdtempSync(path.join(os.tmpdir(), "lmdis-nas-"));
const unmounted = fs.mkdtempSync(path.join(os.tmpdir(), "lmdis-unmounted-"));
for (const d of [shared, unmounted]) fs.chownSync(d, 10001, 10001);
// A's copies are encrypted to a key made here, as on the admin's computer: only its public half goes
// into the stack's config; B copies plain (backupEncryptTo none).
const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "lmdis-key-"));
const keygen = execFileSync("docker", ["run", "--rm", "--network", "none", TEST_IMAGES.python, "age-keygen"], {
    encoding: "utf8",
});
const identity = keygen.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
const recipient = /public key: (age1\S+)/.exec(keygen)![1];
fs.writeFileSync(path.join(keyDir, "lernmanager-backup.key"), `${identity}\n`, { mode: 0o600 });
/** age -d of a copy in the shared folder with the identity; the sha256 of the plain bytes. */
const decryptedSha = (name: string) =>
    execFileSync(
        "docker",
        [
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            `${shared}:/nas:ro`,
            "-v",
            `${keyDir}:/key:ro`,
            TEST_IMAGES.python,
            "sh",
            "-c",
            `age -d -i /key/lernmanager-backup.key '/nas/${name}' | sha256sum`,
        ],
        { encoding: "utf8" },
    ).split(" ")[0];
const appA = copyOfDemoApp();
const appB = copyOfDemoApp();
let a: LiveStack | undefined;
let b: LiveStack | undefined;

const config = (extra: Record<string, string>, app: string) => ({
    "lernmanager:appSource": app,
    "lernmanager:backupEvery": "30s",
    "lernmanager:backupKeep": "3",
    "lernmanager:backupRetention": "hourly=0,daily=0,weekly=0",
    ...extra,
});
const configA = () =>
    config(
        {
            "lernmanager:backupCopyTo": JSON.stringify([shared, unmounted]),
            "lernmanager:backupEncryptTo": recipient,
        },
        appA.dir,
    );
const bk = (s: LiveStack) => () => s.realization.container(`${s.stack}-backups`);
const localNames = (st: any): string[] => st.backups.map((x: any) => x.file);
/** The complete copies in the shared folder: `<name>.db` (B: plain) and `<name>.db.age` (A: encrypted). */
const onTarget = () => fs.readdirSync(shared).filter((n) => /^lernmanager-.*\.db(\.age)?$/.test(n));
const sha = (f: string) =>
    createHash("sha256")
        .update(fs.readFileSync(path.join(shared, f)))
        .digest("hex");
const scheduledAfter = (st: any, t: number) =>
    localNames(st).filter((f) => f.includes("-scheduled") && stampOf(f) >= t);
const stampOf = (f: string) =>
    Date.parse(f.replace(/^.*-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d).*$/, "$1-$2-$3T$4:$5:$6Z"));

beforeAll(async () => {
    // B's backups volume: a small size-limited filesystem (tmpfs), created before the stack, which then
    // uses it as it is (Docker returns an existing volume of that name).
    await docker.createVolume({
        Name: `lernmanager-${B}-backups`,
        Driver: "local",
        DriverOpts: { type: "tmpfs", device: "tmpfs", o: "size=6m,uid=10001,gid=10001,mode=0700" },
        Labels: { "dev.lernmanager.stack": B },
    });
    a = await liveStack(A, configA());
    b = await liveStack(B, config({ "lernmanager:backupCopyTo": JSON.stringify([shared]) }, appB.dir));
});
afterAll(async () => {
    await b?.realization.teardown();
    await a?.realization.teardown();
    await docker
        .getVolume(`lernmanager-${B}-backups`)
        .remove()
        .catch(() => undefined);
    for (const d of [shared, unmounted, keyDir]) fs.rmSync(d, { recursive: true, force: true });
    appA.remove();
    appB.remove();
});

test("a copy folder is set up once, on purpose; an unset one (an unmounted NAS) is refused, empty, with the reason", async () => {
    const before = await backupStatus(bk(a!)());
    expect(before.copies?.[shared]?.error ?? "").toMatch(/has no \.lernmanager-backup-target/);
    const init = opsScript("backup", "init-target", A, shared);
    expect(init.out).toContain(`${shared} is set up for backups`);
    expect(init.code).toBe(0);
    expect(fs.statSync(shared).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(shared, MARKER)).mode & 0o777).toBe(0o600);
    expect(opsScript("backup", "init-target", B, shared).out).toContain("set up for backups already");
    const st = await waitBackupStatus(bk(a!), "A's copy into the set-up folder", (x) => x.copies?.[shared]?.ok, 120);
    expect(st.copies[unmounted]).toMatchObject({ ok: false });
    expect(st.copies[unmounted].error).toContain(
        `${unmounted} is empty but has no ${MARKER}: it was never set up for backups, or the disk is not mounted there`,
    );
    expect(fs.readdirSync(unmounted)).toEqual([]);
    const shown = opsScript("status", A);
    expect(shown.code).toBe(1);
    expect(shown.out).toContain(`${unmounted}: FAILED (`);
    expect(shown.out).toMatch(/NEEDS A PERSON: .*never set up for backups, or the disk is not mounted/);
});

test("two stacks on one folder: each keeps its own copies by its own retention, never touching the other's", async () => {
    const t0 = Date.now();
    await execIn(a!.app(), [
        "sh",
        "-c",
        "mkdir -p /app/instance/uploads/k1 && echo bericht > /app/instance/uploads/k1/a.txt",
    ]);
    // backupKeep 3: once the three local backups are all newer than t0, four or more were taken since,
    // and each stack has pruned its own copies there at least once.
    const enough = (x: any) => {
        const fresh = scheduledAfter(x, t0);
        return (
            fresh.length >= 3 &&
            fresh.length === localNames(x).length &&
            x.copies?.[shared]?.ok &&
            Date.parse(x.copies[shared].time) >= stampOf(fresh[fresh.length - 1])
        );
    };
    await Promise.all([
        waitBackupStatus(bk(a!), "A: four backups copied", enough, 300),
        waitBackupStatus(bk(b!), "B: four backups copied", enough, 300),
    ]);
    // Both keep backing up: read both volumes and the folder until they are seen between two cycles
    // (a backup taken but not yet copied is no loss).
    let sa: any,
        sb: any,
        there: string[] = [],
        missing: string[] = [];
    for (let i = 0; i < 40; i++) {
        [sa, sb] = [await backupStatus(bk(a!)()), await backupStatus(bk(b!)())];
        there = onTarget();
        missing = [...localNames(sa).map((n) => `${n}.age`), ...localNames(sb)].filter((n) => !there.includes(n));
        if (missing.length === 0) break;
        await new Promise((r) => setTimeout(r, 1500));
    }
    expect(missing).toEqual([]);
    // A backup of A and one of B are never the same file; each stack's set there is its newest 3.
    expect(there.length).toBeGreaterThanOrEqual(6);
    expect(sa.copies[shared].ok && sb.copies[shared].ok).toBe(true);
    // Every file and folder the copies wrote is private.
    for (const n of there) expect(fs.statSync(path.join(shared, n)).mode & 0o777).toBe(0o600);
    const newest = localNames(sa).pop()!;
    const snap = path.join(shared, `${newest}.uploads`);
    expect(fs.statSync(snap).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(snap, "k1", "a.txt.age")).mode & 0o777).toBe(0o600);
    // A's copies are encrypted (no SQLite header, no upload text there) and decrypt with the key made
    // off the server to exactly the backup in A's volume; the key is nowhere in the stack's state.
    const copy = fs.readFileSync(path.join(shared, `${newest}.age`));
    expect(copy.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    expect(fs.readFileSync(path.join(snap, "k1", "a.txt.age")).includes("bericht")).toBe(false);
    const local = (await execIn(bk(a!)(), ["sh", "-c", `sha256sum /backups/${newest}`])).output.split(" ")[0];
    expect(decryptedSha(`${newest}.age`)).toBe(local);
    expect(decryptedSha(`${newest}.uploads/k1/a.txt.age`)).toBe(createHash("sha256").update("bericht\n").digest("hex"));
    expect(JSON.stringify(a!.run.registrations)).not.toContain("AGE-SECRET-KEY");
    expect(JSON.stringify(a!.run.registrations)).toContain(recipient);
    expect(fs.existsSync(path.join(shared, newest))).toBe(false);
});

test("a backup dated in the future is reported, and the schedule goes on", async () => {
    const future = `
import datetime, glob, os, shutil
newest = sorted(glob.glob("/backups/lernmanager-*.db"))[-1]
stamp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)).strftime("%Y%m%dT%H%M%S%fZ")
target = f"/backups/lernmanager-{stamp}-clock.db"
shutil.copyfile(newest, target)
print(os.path.basename(target))
`;
    const name = (await execIn(bk(b!)(), ["python3", "-c", future])).output.trim();
    const t = Date.now();
    const st = await waitBackupStatus(
        bk(b!),
        "a scheduled backup after the future one",
        (x) => scheduledAfter(x, t).length >= 1 && x.lastDrill?.backup === scheduledAfter(x, t)[0],
        120,
    );
    expect(st.health.join("\n")).toMatch(new RegExp(`backup\\(s\\) dated in the future, newest ${name}.*timedatectl`));
    expect(st.lastDrill.backup).toBe(scheduledAfter(st, t)[0]);
    const shown = opsScript("status", B);
    expect(shown.code).toBe(1);
    expect(shown.out).toMatch(/NEEDS A PERSON: .*dated in the future/);
    await execIn(bk(b!)(), ["rm", `/backups/${name}`]);
    expect((await backupStatus(bk(b!)())).health.filter((h: string) => /future/.test(h))).toEqual([]);
});

test("a full backups disk: the backup is refused before writing, nothing partial is left, the next try backs off, the app keeps serving and writing", async () => {
    // 7 MB of new uploads: more than the 6 MB backups filesystem can take.
    await execIn(b!.app(), [
        "sh",
        "-c",
        "mkdir -p /app/instance/uploads/big && head -c 7000000 /dev/urandom > /app/instance/uploads/big/video.bin",
    ]);
    const st = await waitBackupStatus(bk(b!), "the refused backup", (x) => !!x.lastBackupError, 120);
    expect(st.lastBackupError.error).toMatch(
        /not enough free space in \/backups for a backup: \d+ KiB needed .*nothing was written/,
    );
    const files = (await execIn(bk(b!)(), ["sh", "-c", "ls -a /backups; find /backups -name '*.partial*' | wc -l"]))
        .output;
    expect(files.trim().split("\n").pop()).toBe("0");
    expect(Date.parse(st.retryAfter) - Date.parse(st.lastBackupError.time)).toBeGreaterThanOrEqual(299000);
    const shown = opsScript("status", B);
    expect(shown.code).toBe(1);
    expect(shown.out).toMatch(/backup FAILED .*not enough free space in \/backups/);
    expect(shown.out).toMatch(/NEEDS A PERSON: .*the last backup failed: not enough free space/);
    // The app serves and writes meanwhile.
    const res = await fetch(`http://127.0.0.1:${b!.port}/healthz`);
    expect(res.status).toBe(200);
    const write = await execIn(b!.app(), [
        "python3",
        "-c",
        "import sqlite3; c = sqlite3.connect('/app/data/lernmanager.db'); c.execute(\"INSERT INTO classes (name) VALUES ('nach dem vollen Backup')\"); c.commit(); print(c.execute('SELECT count(*) FROM classes').fetchone()[0])",
    ]);
    expect(Number(write.output.trim())).toBeGreaterThan(0);
    // No second try within 40 s (before: every 10 s).
    await new Promise((r) => setTimeout(r, 40000));
    const logs = await b!.logs(bk(b!)());
    expect(logs.split("BACKUP FAILED").length - 1).toBe(1);
    process.stdout.write(`    disk full: ${st.lastBackupError.error}\n`);
});

test("server loss: every container, volume and image removed, deployed again on the empty host; after two backup cycles every copy of the old server is still there, byte for byte", async () => {
    await b!.realization.teardown();
    b = undefined;
    const before = Object.fromEntries(onTarget().map((n) => [n, sha(n)]));
    expect(Object.keys(before).length).toBeGreaterThanOrEqual(6);
    await a!.realization.teardown({ images: true });
    a = undefined;
    const lost = Date.now();
    a = await liveStack(A, configA());
    const deployed = Date.now();
    const st = await waitBackupStatus(
        bk(a),
        "two backup cycles of the new server, copied",
        (x) =>
            scheduledAfter(x, deployed - 5000).length >= 2 &&
            x.copies?.[shared]?.ok &&
            Date.parse(x.copies[shared].time) >= stampOf(scheduledAfter(x, deployed - 5000)[1]),
        240,
    );
    const after = onTarget();
    for (const [n, h] of Object.entries(before)) {
        expect(after).toContain(n);
        expect(sha(n)).toBe(h);
    }
    for (const n of localNames(st)) expect(after).toContain(`${n}.age`);
    process.stdout.write(
        `    server loss: ${Object.keys(before).length} of ${Object.keys(before).length} copies kept; redeploy ${((deployed - lost) / 60000).toFixed(1)} min\n`,
    );
});
