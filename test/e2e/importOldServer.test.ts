/**
 * `npm run import` from an old server as deploy/setup.sh leaves it, reached over ssh as the admin
 * user the docs name (an OpenSSH server in a container on 127.0.0.1): the service user
 * `lernmanager` (no login shell) owns /opt/lernmanager, `.env` is root's with mode 600, data/ and
 * instance/uploads/ live on a separate disk (a volume mounted into the server, linked into the app
 * folder), the app (waitress, as the service user) is stopped by the admin with sudo. Imported
 * without dataHostPath (then deployed: the cutover's offline time) and with it (the data lands in
 * bound volumes under the host folder); then the first stack is switched to dataHostPath
 * (`--from-plain-volumes`, the documented path in docs/backups.md). Every row and every upload is
 * compared by checksum. Stacks e2e-mv-* (run with LM_E2E_STALE='^e2e-mv').
 */
import { execFileSync, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadConfig } from "../../config/load";
import { stackNames } from "../../core/names";
import { PROJECT_DIR } from "../../core/paths";
import { parseSource, runImport, ImportReport } from "../../render/import";
import { plainVolumesSource } from "../../render/importMove";
import { formatImport } from "../../cli/importReport";
import { recordFigure } from "../support/figures";
import { eventually, freePort, login, request } from "../support/http";
import { LifecycleEngine, mockDigest, UpFailed } from "../support/lifecycle";
import { runProgram, testConfig } from "../support/mocks";
import { docker, localEngine } from "../support/realize";
import { copyOfDemoApp } from "../support/stack";

jest.setTimeout(600000);

const PLAIN = "e2e-mv-plain";
const BOUND = "e2e-mv-bound";
const OLD = "e2e-mv-old";
const IMAGE = "lmmv/oldserver:1";
const PYTHON_IMAGE = testConfig()["lernmanager:pythonImage"];
const OLD_ADMIN_PASSWORD = "vom-alten-server";
const UPLOADS = 24;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lmmv-"));
const log = (l: string) => process.stdout.write(`    [e2e-mv] ${l}\n`);

/** The real app's names: data/mbi_tracker.db (a copy of the demo app that uses that file). */
function appSource(): string {
    const copy = copyOfDemoApp();
    const db = path.join(copy.dir, "demo_db.py");
    fs.writeFileSync(db, fs.readFileSync(db, "utf8").replace('"lernmanager.db"', '"mbi_tracker.db"'));
    return copy.dir;
}
const APP = appSource();

const config = (overrides: Record<string, string> = {}) =>
    testConfig({ "lernmanager:appSource": APP, "lernmanager:databaseFile": "mbi_tracker.db", ...overrides });
const loaded = (overrides: Record<string, string> = {}) =>
    loadConfig(config(overrides), { project: "lernmanager", projectDir: PROJECT_DIR });

/** What deploy/setup.sh leaves, then the app's first start and a school year's data, then the service. */
const SETUP = String.raw`set -e
useradd -r -s /usr/sbin/nologin -M -d /opt/lernmanager lernmanager
useradd -m -s /bin/bash -G sudo admin
# The docs' admin uses sudo; the test cannot type a password.
echo 'admin ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/admin
install -d -o admin -g admin -m 700 /home/admin/.ssh
echo "$AUTHORIZED" > /home/admin/.ssh/authorized_keys && chown admin:admin /home/admin/.ssh/authorized_keys
cp -r /src /opt/lernmanager && chmod 755 /opt/lernmanager   # as git clone leaves it
mkdir -p /srv/lernmanager-data/data /srv/lernmanager-data/uploads /opt/lernmanager/instance/tmp
ln -s /srv/lernmanager-data/data /opt/lernmanager/data
ln -s /srv/lernmanager-data/uploads /opt/lernmanager/instance/uploads
chown -R lernmanager:lernmanager /opt/lernmanager /srv/lernmanager-data/data /srv/lernmanager-data/uploads
chmod 755 /srv/lernmanager-data/data /srv/lernmanager-data/uploads /opt/lernmanager/instance/tmp
printf 'SECRET_KEY=old-secret\nFLASK_ENV=production\nSCHOOL_NAME=[Schulname]\n' > /opt/lernmanager/.env
chmod 600 /opt/lernmanager/.env && chown root:root /opt/lernmanager/.env
cd /opt/lernmanager
runuser -u lernmanager -- env PYTHONPATH=. SECRET_KEY=old python3 -c "$SEED"
cat > /usr/local/sbin/lernmanager-service <<'EOF'
#!/bin/sh
# Stands in for systemctl start|stop lernmanager: waitress as the service user; stop = SIGTERM, wait.
case "$1" in
start) cd /opt/lernmanager && runuser -u lernmanager -- env PYTHONPATH=. SECRET_KEY=old HOST=0.0.0.0 PORT=8080 python3 run.py >/var/log/lernmanager.log 2>&1 & echo $! > /run/lernmanager.pid ;;
stop) pid=$(cat /run/lernmanager.pid); kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done ;;
esac
EOF
chmod 755 /usr/local/sbin/lernmanager-service
lernmanager-service start
mkdir -p /run/sshd
touch /run/lernmanager.ready
exec /usr/sbin/sshd -D -e`;

const SEED = [
    "import os, subprocess, sqlite3",
    "from app import init_app; init_app()",
    "for m in ['migrate_001_task_estimates.py', 'migrate_002_task_comments.py']:",
    "    subprocess.run(['python3', 'migrate/' + m], check=True)",
    "open('data/migrations_done.txt', 'w').write('migrate_001_task_estimates.py\\nmigrate_002_task_comments.py\\n')",
    "from demo_db import hash_password",
    "db = sqlite3.connect('data/mbi_tracker.db')",
    `db.execute("update users set password_hash = ? where username = 'admin'", (hash_password('${OLD_ADMIN_PASSWORD}'),))`,
    "db.executemany('insert into tasks (title) values (?)', [('Aufgabe %d' % i,) for i in range(200)])",
    "db.commit()",
    `for i in range(${UPLOADS}):`,
    "    d = 'instance/uploads' if i % 4 == 0 else 'instance/uploads/klasse-%d' % (i % 4); os.makedirs(d, exist_ok=True)",
    "    open('%s/abgabe-%02d.pdf' % (d, i), 'wb').write(b'%PDF-1.4 ' + os.urandom(20000 + 7919 * i))",
].join("\n");

/** Per table: rows and a sha256 of every row in rowid order; and every file's sha256 under a folder. */
const CHECKSUMS = String.raw`import hashlib, json, os, sqlite3, sys
db, files = sys.argv[1], sys.argv[2]
first = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
conn = sqlite3.connect("file:%s?mode=ro&immutable=1" % db, uri=True)
tables = {}
for (name,) in conn.execute("select name from sqlite_master where type='table' and name not like 'sqlite_%' order by name"):
    h, n = hashlib.sha256(), 0
    for row in conn.execute('select * from "%s" order by rowid' % name):
        n += 1
        if name not in first or n <= first[name]:
            h.update(repr(row).encode())
    tables[name] = [n, h.hexdigest()]
sums = {}
for dirpath, _, names in os.walk(files, followlinks=True):
    for f in names:
        p = os.path.join(dirpath, f)
        sums[os.path.relpath(p, files)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
print(json.dumps({"tables": tables, "files": sums}))`;

interface Sums {
    tables: Record<string, [number, string]>;
    files: Record<string, string>;
}

let sshPort = 0;
let oldPort = 0;
let server = "";
let sshCmd: string[] = [];
const onServer = (command: string) =>
    execFileSync(
        sshCmd[0],
        [...sshCmd.slice(1), "-p", String(sshPort), "-o", "BatchMode=yes", "admin@127.0.0.1", command],
        {
            encoding: "utf8",
            maxBuffer: 1 << 26,
        },
    );
/**
 * Checksums of a database and a folder inside a container that mounts the given volumes; `first`:
 * only the first n rows of a table go into its checksum (rows the running app added since are counted only).
 */
function sumsInVolumes(mounts: string[], db: string, files: string, first: Record<string, number> = {}): Sums {
    const out = execFileSync(
        "docker",
        [
            "run",
            "--rm",
            "--network",
            "none",
            ...mounts.flatMap((m) => ["--mount", m]),
            PYTHON_IMAGE,
            "python3",
            "-c",
            CHECKSUMS,
            db,
            files,
            JSON.stringify(first),
        ],
        { encoding: "utf8", maxBuffer: 1 << 26 },
    );
    return JSON.parse(out) as Sums;
}
const volumeMounts = (names: { data: string; uploads: string }) => [
    `type=volume,source=${names.data},target=/v/data,readonly`,
    `type=volume,source=${names.uploads},target=/v/uploads,readonly`,
];

async function cleanup() {
    for (const stack of [PLAIN, BOUND, OLD]) {
        const filters = { label: [`dev.lernmanager.stack=${stack}`] };
        for (const c of await docker.listContainers({ all: true, filters }))
            await docker
                .getContainer(c.Id)
                .remove({ force: true })
                .catch(() => undefined);
        for (const n of await docker.listNetworks({ filters }))
            await docker
                .getNetwork(n.Id)
                .remove()
                .catch(() => undefined);
        for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
            await docker
                .getVolume(v.Name)
                .remove()
                .catch(() => undefined);
    }
    for (const i of await docker.listImages())
        for (const t of i.RepoTags ?? [])
            if (/^lernmanager-e2e-mv-/.test(t))
                await docker
                    .getImage(t)
                    .remove({ force: true })
                    .catch(() => undefined);
}

beforeAll(async () => {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${tmp}/key`]);
    fs.writeFileSync(
        `${tmp}/config`,
        `Host 127.0.0.1\n  IdentityFile ${tmp}/key\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n`,
    );
    sshCmd = ["ssh", "-F", `${tmp}/config`];
    fs.mkdirSync(`${tmp}/image`);
    fs.writeFileSync(
        `${tmp}/image/Dockerfile`,
        `FROM ${PYTHON_IMAGE}\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends sudo && rm -rf /var/lib/apt/lists/*\n`,
    );
    execFileSync("docker", ["build", "-q", "-t", IMAGE, `${tmp}/image`], { stdio: "pipe", timeout: 300000 });
    [sshPort, oldPort] = [await freePort(), await freePort()];
    server = `${OLD}-${randomBytes(3).toString("hex")}`;
    execFileSync("docker", ["volume", "create", "--label", `dev.lernmanager.stack=${OLD}`, `${OLD}-disk`]);
    execFileSync("docker", [
        "run",
        "-d",
        "--name",
        server,
        "--label",
        `dev.lernmanager.stack=${OLD}`,
        "-v",
        `${APP}:/src:ro`,
        "--mount",
        `type=volume,source=${OLD}-disk,target=/srv/lernmanager-data`,
        "-p",
        `127.0.0.1:${sshPort}:22`,
        "-p",
        `127.0.0.1:${oldPort}:8080`,
        "-e",
        `AUTHORIZED=${fs.readFileSync(`${tmp}/key.pub`, "utf8").trim()}`,
        "-e",
        `SEED=${SEED}`,
        IMAGE,
        "sh",
        "-c",
        SETUP,
    ]);
    await eventually(
        120,
        async () => {
            try {
                onServer("test -f /run/lernmanager.ready");
                return (await request(oldPort, "/login", { timeoutMs: 1000 })).status === 200;
            } catch {
                return false;
            }
        },
        "the old server answers ssh and its app /login",
    );
});

afterAll(async () => {
    await cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(APP, { recursive: true, force: true });
});

describe("the old server as deploy/setup.sh leaves it", () => {
    test("owners and modes: the service user owns the app, .env is root's 600, data on another disk", () => {
        const out = onServer(
            "getent passwd lernmanager | cut -d: -f7; stat -c '%U %a %n' /opt/lernmanager /opt/lernmanager/.env /srv/lernmanager-data/data /srv/lernmanager-data/data/mbi_tracker.db; findmnt -n -o TARGET --target /opt/lernmanager/data/; cat /opt/lernmanager/.env 2>&1 || true",
        ).split("\n");
        expect(out[0]).toBe("/usr/sbin/nologin");
        expect(out.slice(1, 5)).toEqual([
            "lernmanager 755 /opt/lernmanager",
            "root 600 /opt/lernmanager/.env",
            "lernmanager 755 /srv/lernmanager-data/data",
            "lernmanager 644 /srv/lernmanager-data/data/mbi_tracker.db",
        ]);
        expect(out[5]).toBe("/srv/lernmanager-data");
        expect(out[6]).toMatch(/Permission denied/);
    });
});

describe("import over ssh as the admin, then the cutover", () => {
    let engine: LifecycleEngine;
    let port = 0;
    let report: ImportReport;
    let source: Sums;
    const key = randomBytes(32).toString("hex");
    const regs = async (overrides: Record<string, string> = {}) =>
        (
            await runProgram(
                config({ "lernmanager:port": String(port), "lernmanager:protectData": "true", ...overrides }),
                {
                    stack: PLAIN,
                    secretKey: key,
                    imageId: mockDigest,
                },
            )
        ).registrations;

    test("without dataHostPath: every row and upload arrives; offline from the old app's stop to the stack serving", async () => {
        port = await freePort();
        engine = new LifecycleEngine({ log });
        const samples: { at: number; old: boolean; fresh: boolean }[] = [];
        let polling = true;
        const poll = (async () => {
            while (polling) {
                const at = Date.now();
                const ok = (p: number) =>
                    request(p, "/login", { timeoutMs: 1000 })
                        .then((r) => r.status === 200)
                        .catch(() => false);
                const [old, fresh] = await Promise.all([ok(oldPort), ok(port)]);
                samples.push({ at, old, fresh });
                await new Promise((r) => setTimeout(r, 100));
            }
        })();
        await eventually(10, async () => samples.some((s) => s.old), "the old app answers");

        const t0 = Date.now();
        onServer("sudo lernmanager-service stop"); // the docs: sudo systemctl disable --now lernmanager
        const stopped = Date.now();
        report = await runImport({
            stack: PLAIN,
            names: stackNames("lernmanager", PLAIN),
            config: loaded(),
            source: parseSource(`ssh://admin@127.0.0.1:${sshPort}/opt/lernmanager`),
            dockerEnv: { DOCKER_HOST: localEngine() },
            ssh: sshCmd,
        });
        const imported = Date.now();
        await engine.up(await regs());
        const deployed = Date.now();
        await eventually(30, async () => samples.some((s) => s.fresh), "the stack serves");
        polling = false;
        await poll;
        formatImport(report, PLAIN).forEach(log);

        const lastOld = Math.max(...samples.filter((s) => s.old).map((s) => s.at));
        const firstNew = Math.min(...samples.filter((s) => s.fresh).map((s) => s.at));
        expect(samples.some((s) => s.old && s.at > stopped)).toBe(false);

        // Every row and every upload, by checksum: the old server's (as its admin, with sudo) and the volumes'.
        source = JSON.parse(
            onServer(
                `sudo python3 -c '${CHECKSUMS.replace(/'/g, `'\\''`)}' /opt/lernmanager/data/mbi_tracker.db /opt/lernmanager/instance/uploads`,
            ),
        ) as Sums;
        const names = stackNames("lernmanager", PLAIN);
        // Every old row arrived unchanged; since then the running app only added rows (its start and
        // the logins: init_log, analytics_events), and migration 003 only an index.
        const counts = Object.fromEntries(Object.entries(source.tables).map(([t, [n]]) => [t, n]));
        const arrived = sumsInVolumes(volumeMounts(names.volumes), "/v/data/mbi_tracker.db", "/v/uploads", counts);
        for (const [table, [n, sum]] of Object.entries(source.tables)) {
            expect([table, arrived.tables[table][1]]).toEqual([table, sum]);
            if (["init_log", "analytics_events"].includes(table))
                expect(arrived.tables[table][0]).toBeGreaterThanOrEqual(n);
            else expect([table, arrived.tables[table][0]]).toEqual([table, n]);
        }
        expect(arrived.files).toEqual(source.files);
        expect(Object.keys(source.files)).toHaveLength(UPLOADS);
        expect(source.tables.tasks[0]).toBeGreaterThan(200);
        expect(report.source.env_error).toMatch(/readable by root only/);
        expect(report.target.migrationsDone).toHaveLength(2);
        const cookie = await login(port, "admin", OLD_ADMIN_PASSWORD);
        expect((await request(port, "/files/abgabe-04.pdf", { headers: { Cookie: cookie } })).status).toBe(200);

        const rows = Object.values(source.tables).reduce((n, [r]) => n + r, 0);
        const figure = {
            rows,
            files: report.source.files,
            uploads: UPLOADS,
            bytes: report.source.bytes,
            importSeconds: (imported - stopped) / 1000,
            stopSeconds: (stopped - t0) / 1000,
            deploySeconds: (deployed - imported) / 1000,
            offlineSeconds: (firstNew - lastOld) / 1000,
        };
        log(`figures: ${JSON.stringify(figure)}`);
        recordFigure("import over ssh, then cutover (no dataHostPath)", figure);
        expect(figure.offlineSeconds).toBeLessThan(120);
    });

    test("with dataHostPath: the data lands in bound volumes under the host folder, every row and upload", async () => {
        const root = path.join(tmp, "disk-bound");
        fs.mkdirSync(root);
        const init = spawnSync("bash", ["cli/data-host-path-init.sh", root, "instance/reports"], {
            cwd: PROJECT_DIR,
            encoding: "utf8",
            env: { ...process.env, LM_ALLOW_NON_MOUNTPOINT: "1" },
        });
        expect(init.status).toBe(0);
        const c = loaded({ "lernmanager:dataHostPath": root });
        const names = stackNames("lernmanager", BOUND, root);
        const started = Date.now();
        const r = await runImport({
            stack: BOUND,
            names,
            config: c,
            source: parseSource(`ssh://admin@127.0.0.1:${sshPort}/opt/lernmanager`),
            dockerEnv: { DOCKER_HOST: localEngine() },
            ssh: sshCmd,
        });
        const seconds = (Date.now() - started) / 1000;
        expect(r.createdVolumes).toEqual([
            names.volumes.data,
            names.volumes.uploads,
            `lernmanager-${BOUND}-keep-instance-reports${names.keptSuffix}`,
        ]);
        const v = await docker.getVolume(names.volumes.data).inspect();
        expect(v.Options).toEqual({ type: "none", o: "bind", device: `${root}/data` });
        expect(fs.existsSync(`${root}/data/.lernmanager-data-mount`)).toBe(true); // the marker stays
        const onDisk = JSON.parse(
            execFileSync("python3", ["-c", CHECKSUMS, `${root}/data/mbi_tracker.db`, `${root}/uploads`], {
                encoding: "utf8",
            }),
        ) as Sums;
        expect(onDisk.tables).toEqual(source.tables);
        expect(onDisk.files).toEqual(source.files);
        expect(fs.statSync(`${root}/data/mbi_tracker.db`).uid).toBe(10001);
        // The program declares exactly these volumes: a first up adopts them, the next changes nothing.
        const vols = (
            await runProgram(config({ "lernmanager:dataHostPath": root }), { stack: BOUND, secretKey: "k" })
        ).registrations.filter((x) => x.type === "docker:index/volume:Volume");
        const lc = new LifecycleEngine();
        await lc.up(vols);
        const again = await lc.up(vols);
        expect([...again.replaces, ...again.updates]).toEqual([]);
        recordFigure("import over ssh into bound volumes (dataHostPath)", {
            rows: Object.values(onDisk.tables).reduce((n, [x]) => n + x, 0),
            files: r.source.files,
            bytes: r.source.bytes,
            importSeconds: seconds,
        });
    });

    test("switching the deployed stack to dataHostPath: a safety backup, the data copied, the plain volumes kept", async () => {
        const root = path.join(tmp, "disk-switch");
        fs.mkdirSync(root);
        expect(
            spawnSync("bash", ["cli/data-host-path-init.sh", root, "instance/reports"], {
                cwd: PROJECT_DIR,
                env: { ...process.env, LM_ALLOW_NON_MOUNTPOINT: "1" },
            }).status,
        ).toBe(0);
        const plain = stackNames("lernmanager", PLAIN);
        const bound = stackNames("lernmanager", PLAIN, root);
        const hostPath = { "lernmanager:dataHostPath": root };
        // A write in the stack since the import: the switch must carry it over.
        const cookie = await login(port, "admin", OLD_ADMIN_PASSWORD);
        expect(cookie).toBeTruthy();
        // The app stopped, as the import asks (its error names this command).
        const running = execFileSync("docker", ["ps", "-q", "--filter", `volume=${plain.volumes.data}`], {
            encoding: "utf8",
        }).trim();
        execFileSync("docker", ["stop", "-t", "30", ...running.split("\n")]);
        const before = sumsInVolumes(volumeMounts(plain.volumes), "/v/data/mbi_tracker.db", "/v/uploads");

        const c = loaded(hostPath);
        const started = Date.now();
        const r = await runImport({
            stack: PLAIN,
            names: bound,
            config: c,
            source: plainVolumesSource(c, "lernmanager", PLAIN),
            dockerEnv: { DOCKER_HOST: localEngine() },
        });
        const seconds = (Date.now() - started) / 1000;
        formatImport(r, PLAIN).forEach(log);
        expect(r.safetyBackup).toMatch(/-before-host-path-move\.db$/);
        expect(fs.existsSync(`${root}/backups/${r.safetyBackup}`)).toBe(true);
        expect(r.backupsCopied?.files).toBeGreaterThan(0);
        const onDisk = JSON.parse(
            execFileSync("python3", ["-c", CHECKSUMS, `${root}/data/mbi_tracker.db`, `${root}/uploads`], {
                encoding: "utf8",
            }),
        ) as Sums;
        expect(onDisk).toEqual(before);
        expect(fs.readFileSync(`${root}/data/migrations_done.txt`, "utf8").trim().split("\n")).toHaveLength(3);

        // protectData: the replacement is refused until the volumes are unprotected in the state.
        const refused = await engine.up(await regs(hostPath)).catch((e) => e);
        expect(refused).toBeInstanceOf(UpFailed);
        expect((refused as UpFailed).message).toMatch(/protected and cannot be replaced/);
        for (const kind of ["data", "uploads", "backups"]) engine.unprotect(`lernmanager-${PLAIN}-storage-${kind}`);
        const switched = await engine.up(await regs(hostPath));
        expect(switched.replaces.map((x) => x.name)).toEqual(
            expect.arrayContaining([`lernmanager-${PLAIN}-storage-data`, `lernmanager-${PLAIN}-storage-uploads`]),
        );
        const served = await login(port, "admin", OLD_ADMIN_PASSWORD);
        expect((await request(port, "/files/abgabe-08.pdf", { headers: { Cookie: served } })).status).toBe(200);
        // The plain volumes are still there (retainOnDelete), with what they held: for the teacher to remove.
        expect(sumsInVolumes(volumeMounts(plain.volumes), "/v/data/mbi_tracker.db", "/v/uploads").files).toEqual(
            before.files,
        );
        const app = (
            await docker.listContainers({
                filters: { label: [`dev.lernmanager.stack=${PLAIN}`, "dev.lernmanager.role=app"] },
            })
        )[0];
        expect(app.Mounts.map((m) => m.Name)).toEqual(
            expect.arrayContaining([bound.volumes.data, bound.volumes.uploads]),
        );
        recordFigure("switch of a deployed stack to dataHostPath (--from-plain-volumes)", {
            rows: Object.values(onDisk.tables).reduce((n, [x]) => n + x, 0),
            files: Object.keys(onDisk.files).length,
            backupsCopied: r.backupsCopied?.files,
            copySeconds: seconds,
        });
    });
});
