/**
 * dataHostPath on the real engine: while the folder is not the set-up disk (no marker),
 * the deploy is refused with a message that says to unlock the disk and nothing is created under it;
 * once set up, the data, uploads and backups live in it; an app start without the marker is refused.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stackNames } from "../../core/names";
import { PROJECT_DIR } from "../../core/paths";
import { docker } from "../support/realize";
import { containerLogs, liveStack, LiveStack } from "../support/stack";

jest.setTimeout(900000);

const STACK = "e2e-bk-hostpath";
const root = fs.mkdtempSync(path.join(os.tmpdir(), "lmbk-host-"));
let s: LiveStack | undefined;
afterAll(async () => {
    await s?.realization.teardown();
    fs.rmSync(root, { recursive: true, force: true });
});

test("refused while not mounted: the deploy fails with 'unlock', nothing is created under the folder", async () => {
    await expect(liveStack(STACK, { "lernmanager:dataHostPath": root })).rejects.toThrow(
        new RegExp(`dataHostPath ${root} is not mounted .*unlock and mount the disk`),
    );
    expect(fs.readdirSync(root)).toEqual([]);
    const left = await docker.listContainers({ all: true, filters: { label: [`dev.lernmanager.stack=${STACK}`] } });
    expect(left).toEqual([]);
});

test("set up: data, uploads and backups live in the folder; an app start without the marker is refused", async () => {
    const init = spawnSync("bash", ["cli/data-host-path-init.sh", root, "instance/reports"], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
        env: { ...process.env, LM_ALLOW_NON_MOUNTPOINT: "1" },
    });
    expect(init.stdout).toMatch(/is ready/);
    expect(init.status).toBe(0);
    s = await liveStack(STACK, { "lernmanager:dataHostPath": root, "lernmanager:backupEvery": "30s" });
    expect(fs.existsSync(path.join(root, "data", "lernmanager.db"))).toBe(true);
    // A bound volume has a name of its own (core/names.ts boundSuffix), never a plain volume's.
    const volume = await docker.getVolume(stackNames("lernmanager", STACK, root).volumes.data).inspect();
    expect(volume.Name).toMatch(new RegExp(`^lernmanager-${STACK}-data-bound-[0-9a-f]{6}$`));
    expect(volume.Options).toMatchObject({ type: "none", o: "bind", device: `${root}/data` });
    // The backup container's first backup lands in the folder's backups.
    const deadline = Date.now() + 120000;
    while (Date.now() < deadline && !fs.readdirSync(path.join(root, "backups")).some((f) => f.endsWith(".db")))
        await new Promise((r) => setTimeout(r, 2000));
    expect(fs.readdirSync(path.join(root, "backups")).some((f) => f.endsWith("-scheduled.db"))).toBe(true);

    // The disk "goes": its data folder without the marker. The app refuses to start, saying why.
    fs.rmSync(path.join(root, "data", ".lernmanager-data-mount"));
    const app = s.app();
    await app.restart({ t: 40 });
    const end = Date.now() + 30000;
    while (Date.now() < end && (await app.inspect()).State.Running) await new Promise((r) => setTimeout(r, 500));
    const state = (await app.inspect()).State;
    expect(state.ExitCode).toBe(78);
    expect(await containerLogs(app)).toMatch(/is not mounted .*unlock and mount the disk/);
    await app.update({ RestartPolicy: { Name: "no" } });
});
