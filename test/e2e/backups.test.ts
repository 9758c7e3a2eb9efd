/**
 * Backups on the real engine: the schedule fires (30 s here), each backup lands in a copy
 * folder on the host (uploads: only new or changed files), the restore drill passes on a good backup
 * and fails loudly on a corrupted one (status file, health, `npm run status` exit code), and
 * `npm run backup` takes one now.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { opsScript, waitBackupStatus } from "../support/backupOps";
import { recordFigure } from "../support/figures";
import { copyOfDemoApp, execIn, liveStack, LiveStack } from "../support/stack";

jest.setTimeout(900000);

const STACK = "e2e-bk-backups";

let s: LiveStack;
const app = copyOfDemoApp();
const copyDir = fs.mkdtempSync(path.join(os.tmpdir(), "lmbk-copy-"));
fs.chownSync(copyDir, 10001, 10001);
// Set up as `npm run backup -- init-target` does (a folder without the marker is refused).
fs.writeFileSync(path.join(copyDir, ".lernmanager-backup-target"), "lernmanager backups\n", { mode: 0o600 });
fs.chownSync(path.join(copyDir, ".lernmanager-backup-target"), 10001, 10001);

const backupContainer = () => s.realization.container(`${STACK}-backups`);
const waitStatus = (what: string, ok: (st: any) => boolean, seconds: number) =>
    waitBackupStatus(backupContainer, what, ok, seconds);
const npm = opsScript;

beforeAll(async () => {
    s = await liveStack(STACK, {
        "lernmanager:appSource": app.dir,
        "lernmanager:backupEvery": "30s",
        "lernmanager:backupCopyTo": JSON.stringify([copyDir]),
    });
});
afterAll(async () => {
    await s?.realization.teardown();
    app.remove();
    fs.rmSync(copyDir, { recursive: true, force: true });
});

test("the schedule fires: scheduled backups 30 s apart, each drilled (integrity, rows, /healthz 200) and copied to the host folder", async () => {
    // An upload, so the uploads snapshots have something to copy and then to link.
    await execIn(s.app(), [
        "sh",
        "-c",
        "mkdir -p /app/instance/uploads/class1 && echo report > /app/instance/uploads/class1/a.txt",
    ]);
    const written = Date.now();
    const stamp = (f: string) =>
        Date.parse(f.replace(/^.*-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d).*$/, "$1-$2-$3T$4:$5:$6Z"));
    const after = (x: any) =>
        x.backups.filter((b: any) => b.file.includes("-scheduled") && stamp(b.file) >= written - 1000);
    // Two scheduled backups after the upload, the newest of them drilled.
    const st = await waitStatus(
        "two scheduled backups",
        (x) => after(x).length >= 2 && x.lastDrill?.backup === after(x).pop().file && x.lastDrill.ok,
        240,
    );
    const scheduled = after(st).map((b: any) => b.file);
    expect(stamp(scheduled[1]) - stamp(scheduled[0])).toBeGreaterThanOrEqual(29000);
    expect(st.lastDrill).toMatchObject({ ok: true, integrity: "ok", healthz: 200 });
    expect(Object.values(st.lastDrill.rows as Record<string, number>).reduce((a, n) => a + n, 0)).toBeGreaterThan(0);
    expect(st.lastBackup.uploads.files).toBeGreaterThanOrEqual(1);
    expect(st.health).toEqual([]);
    // The copy folder holds the same backups, and the marker written at the first copy.
    const copied = fs.readdirSync(copyDir);
    expect(copied).toContain(".lernmanager-backup-target");
    for (const b of st.backups) expect(copied).toContain(b.file);
    // Uploads: an unchanged file is hard-linked between snapshots, not copied again.
    const snaps = scheduled.slice(-2).map((f: string) => path.join(copyDir, `${f}.uploads`, "class1", "a.txt"));
    expect(fs.statSync(snaps[0]).ino).toBe(fs.statSync(snaps[1]).ino);
    recordFigure("backup: scheduled backup of the demo data", {
        backupSeconds: st.lastBackup.seconds,
        backupBytes: st.lastBackup.bytes,
        drillSeconds: st.lastDrill.seconds,
        rows: st.lastDrill.rows,
    });
    process.stdout.write(
        `    backup ${st.lastBackup.bytes} bytes in ${st.lastBackup.seconds} s; drill ${st.lastDrill.seconds} s\n`,
    );
    const shown = npm("status", STACK);
    expect(shown.out).toMatch(/last drill {4}ok /);
    expect(shown.out).toMatch(/\nOK\n/);
    expect(shown.code).toBe(0);
});

test("the drill fails loudly on a corrupted backup; a good backup taken now clears it", async () => {
    // A corrupted copy of the newest backup, named as the newest: the loop drills it within seconds.
    const corrupt = `
import glob, datetime, os, shutil
newest = sorted(glob.glob("/backups/lernmanager-*.db"))[-1]
stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
target = f"/backups/lernmanager-{stamp}-corrupt.db"
data = bytearray(open(newest, "rb").read())
for i in range(4096, len(data), 997):
    data[i] = (data[i] + 101) % 256
open(target, "wb").write(bytes(data))
print(os.path.basename(target))
`;
    const { output } = await execIn(backupContainer(), ["python3", "-c", corrupt]);
    const name = output.trim();
    const st = await waitStatus("the drill of the corrupted backup", (x) => x.lastDrill?.backup === name, 120);
    expect(st.lastDrill.ok).toBe(false);
    expect(st.lastDrill.error).toMatch(/integrity_check|malformed|not a database/);
    const health = await execIn(backupContainer(), ["python3", "-OO", "/opt/lernmanager/lm_backupd.py", "--health"], {
        allowFail: true,
    });
    expect(health.code).toBe(1);
    expect(health.output).toMatch(/the last restore drill failed/);
    const shown = npm("status", STACK);
    expect(shown.code).toBe(1);
    expect(shown.out).toMatch(/last drill {4}FAILED/);
    expect(shown.out).toMatch(/NEEDS A PERSON: .*restore drill failed/);
    expect((await s.logs(backupContainer())).includes(`DRILL FAILED for ${name}`)).toBe(true);

    // A backup now: the newest is good again, drilled, and the status is OK.
    await execIn(backupContainer(), ["rm", `/backups/${name}`]);
    const now = npm("backup", STACK);
    expect(now.out).toMatch(/manual backup .*drill of .* passed/s);
    expect(now.code).toBe(0);
    expect(npm("status", STACK).code).toBe(0);
});
