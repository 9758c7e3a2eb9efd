/**
 * On the real engine: `npm run import` (render/import.ts, containers/import/lm_import.py) moves a
 * folder shaped like an old install (`deploy/setup.sh`: data/ with a live WAL database and the
 * migrations done-file, instance/uploads, instance/reports, .env) into a stack's volumes before its
 * first start; the first deploy then serves that data, runs only the migrations not yet done, and
 * no default admin appears. Then a cutover rehearsal: the old app answering on a port (waitress, as
 * the old systemd service ran it), stopped, imported, the stack deployed on the same port, with the
 * seconds of no answer measured by a bounded poll loop.
 */
import { execFileSync, spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadConfig } from "../../config/load";
import { ImportError, ImportReport, parseSource, runImport } from "../../render/import";
import { formatImport } from "../../cli/importReport";
import { stackNames } from "../../core/names";
import { PROJECT_DIR } from "../../core/paths";
import { eventually, freePort, login, request } from "../support/http";
import { LifecycleEngine } from "../support/lifecycle";
import { runProgram, testConfig } from "../support/mocks";
import { docker, localEngine } from "../support/realize";
import { copyOfDemoApp, liveStack, LiveStack } from "../support/stack";

jest.setTimeout(600000);

const STACK = "e2e-im";
const CUT = "e2e-im-cut";
const PYTHON_IMAGE = testConfig()["lernmanager:pythonImage"];
const OLD_ADMIN_PASSWORD = "chosen-on-the-old-server";
const ENV_FILE = [
    "SECRET_KEY=old-secret-key",
    "FLASK_ENV=production",
    "FORCE_HTTPS=false",
    'SCHOOL_NAME="Gesamtschule Am Walde"',
    "DSB_CONTACT=datenschutz@schule.example",
    "LLM_API_KEY=sk-old-llm-key",
    "",
].join("\n");
const cleanups: (() => Promise<unknown> | void)[] = [];
const log = (l: string) => process.stdout.write(`    [${STACK}] ${l}\n`);

afterAll(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    for (const stack of [STACK, CUT, `${STACK}-adopt`, `${STACK}-foreign`, `${STACK}-ssh`]) {
        const filters = { label: [`dev.lernmanager.stack=${stack}`] };
        for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
            await docker
                .getVolume(v.Name)
                .remove()
                .catch(() => undefined);
    }
});

/** A folder shaped like `/opt/lernmanager` of the old install, its database made by the app itself. */
function oldInstall(): string {
    const copy = copyOfDemoApp();
    cleanups.push(() => copy.remove());
    const setup = [
        "import os, subprocess, sqlite3",
        "import app; app.init_app()",
        "for m in ['migrate_001_task_estimates.py', 'migrate_002_task_comments.py']:",
        "    subprocess.run(['python3', 'migrate/' + m], check=True, env=dict(os.environ, PYTHONPATH='.'))",
        "open('data/migrations_done.txt', 'w').write('migrate_001_task_estimates.py\\nmigrate_002_task_comments.py\\n')",
        "from werkzeug.security import generate_password_hash",
        "db = sqlite3.connect('data/lernmanager.db')",
        `db.execute("update users set password_hash = ? where username = 'admin'", (generate_password_hash('${OLD_ADMIN_PASSWORD}'),))`,
        "db.execute(\"insert into tasks (title) values ('Vom alten Server')\")",
        "db.commit()",
        "os.makedirs('instance/uploads/klasse-7a', exist_ok=True); os.makedirs('instance/reports', exist_ok=True)",
        "open('instance/uploads/arbeitsblatt.pdf', 'wb').write(b'%PDF-1.4 ' + os.urandom(50000))",
        "open('instance/uploads/klasse-7a/foto.jpg', 'wb').write(os.urandom(120000))",
        "open('instance/reports/2026-W47-klasse-7a.pdf', 'wb').write(b'%PDF-1.4 ' + os.urandom(20000))",
    ].join("\n");
    execFileSync(
        "docker",
        [
            "run",
            "--rm",
            "-v",
            `${copy.dir}:/opt/lernmanager`,
            "-w",
            "/opt/lernmanager",
            "-e",
            "SECRET_KEY=old",
            "-e",
            "PYTHONPATH=/opt/lernmanager",
            PYTHON_IMAGE,
            "python3",
            "-c",
            setup,
        ],
        { stdio: "pipe" },
    );
    fs.writeFileSync(path.join(copy.dir, ".env"), ENV_FILE);
    return copy.dir;
}

const configOf = (overrides: Record<string, string> = {}) =>
    loadConfig(testConfig(overrides), { project: "lernmanager", projectDir: PROJECT_DIR });

const importInto = (stack: string, source: string, overwrite = false) =>
    runImport({
        stack,
        names: stackNames("lernmanager", stack),
        config: configOf(),
        source: parseSource(source),
        overwrite,
        dockerEnv: { DOCKER_HOST: localEngine() },
    });

describe("import of an old install, then the first deploy", () => {
    let old: string;
    let report: ImportReport;
    let walAfterImport = false;
    let s: LiveStack;
    const deployLog: string[] = [];

    beforeAll(async () => {
        old = oldInstall();
        // The old app is still running and has written a row that is only in the WAL so far: a raw
        // copy of lernmanager.db would miss it, SQLite's online backup does not.
        const writer = spawn("python3", [
            "-c",
            [
                "import os, sqlite3, sys",
                `db = sqlite3.connect('${old}/data/lernmanager.db'); db.execute('PRAGMA wal_autocheckpoint=0')`,
                "db.execute(\"insert into tasks (title) values ('Nur im WAL')\"); db.commit()",
                `print(os.path.getsize('${old}/data/lernmanager.db-wal'), flush=True)`,
                "sys.stdin.read()", // keeps the connection (and so the WAL) open until the test closes stdin
            ].join("\n"),
        ]);
        cleanups.push(() => void writer.kill());
        const walBytes = await new Promise<number>((resolve, reject) => {
            writer.stdout.once("data", (d: Buffer) => resolve(Number(d.toString())));
            writer.once("exit", (code) => reject(new Error(`the WAL writer exited ${code}`)));
        });
        expect(walBytes).toBeGreaterThan(0);
        report = await importInto(STACK, old);
        walAfterImport = fs.existsSync(`${old}/data/lernmanager.db-wal`);
        writer.stdin.end();
        formatImport(report, STACK).forEach(log);
    });
    afterAll(async () => {
        await s?.realization.teardown();
    });

    test("copies the database by online backup, the uploads, the reports and the done-file, and reports them", () => {
        expect(walAfterImport).toBe(true);
        const rows = report.target.databases["data/lernmanager.db"];
        expect(rows.integrity).toBe("ok");
        expect(rows.rows.users).toBe(31);
        expect(rows.rows.tasks).toBe(14); // 12 demo tasks, one written before, one only in the WAL
        expect(report.source.databases["data/lernmanager.db"]).toEqual(rows.rows);
        expect(report.source.skipped).toEqual(
            expect.arrayContaining([expect.stringMatching(/^data\/lernmanager\.db-(wal|shm) /)]),
        );
        expect(report.target.migrationsDone).toEqual(["migrate_001_task_estimates.py", "migrate_002_task_comments.py"]);
        expect(report.target.folders["instance/uploads"].files).toBe(2);
        expect(report.target.folders["instance/uploads"].bytes).toBe(50009 + 120000);
        expect(report.target.folders["instance/reports"]).toEqual({ files: 1, bytes: 20009 });
        expect(report.createdVolumes).toEqual([
            "lernmanager-e2e-im-data",
            "lernmanager-e2e-im-uploads",
            "lernmanager-e2e-im-keep-instance-reports",
        ]);
        const text = formatImport(report, STACK).join("\n");
        expect(text).toContain("pulumi config set -s e2e-im schoolName 'Gesamtschule Am Walde'");
        expect(text).toContain("pulumi config set -s e2e-im dsbContact datenschutz@schule.example");
        expect(text).toContain(
            "pulumi config set -s e2e-im --secret llmApiKey '<LLM_API_KEY from the old .env>'   # secret",
        );
        expect(text).not.toContain("sk-old-llm-key");
        expect(text).toContain("# SECRET_KEY: not carried over");
        expect(text).toContain("# FORCE_HTTPS: not carried over");
        expect(formatImport(report, STACK, true).join("\n")).toContain("--secret llmApiKey sk-old-llm-key");
    });

    test("refuses volumes that already hold something, unless --overwrite", async () => {
        await expect(importInto(STACK, old)).rejects.toThrow(ImportError);
        await expect(importInto(STACK, old)).rejects.toThrow(/not empty .*nothing was copied.*--overwrite/);
        // A source that fails (here: no such folder) leaves the volumes as they were, --overwrite or not.
        await expect(importInto(STACK, `${old}-gone`, true)).rejects.toThrow(/reading the old install failed/);
        await expect(importInto(STACK, old)).rejects.toThrow(/lernmanager-e2e-im-data, lernmanager-e2e-im-uploads/);
        const again = await importInto(STACK, old, true);
        expect(again.emptied).toEqual(["data", "instance/uploads", "instance/reports"]);
        expect(again.target.databases["data/lernmanager.db"].rows.tasks).toBe(14);
    });

    test("the first deploy adopts the volumes, serves the old data, runs only the new migration, keeps the old admin", async () => {
        s = await liveStack(STACK, { "lernmanager:appSource": copyOfAppOnly() }, undefined, (l) => {
            deployLog.push(l);
            log(l);
        });
        // The provider's create of an existing volume gets Docker's existing volume and reads its
        // labels back: they are exactly the declared ones, so the next `up` sees no difference.
        for (const reg of s.run.registrations.filter((r) => r.type === "docker:index/volume:Volume")) {
            const v = await docker.getVolume(reg.inputs.name).inspect();
            expect(v.Labels).toEqual(Object.fromEntries(reg.inputs.labels.map((l: any) => [l.label, l.value])));
        }
        const migrate = deployLog.find((l) => l.startsWith(`ran lernmanager-${STACK}-migrate:`)) ?? "";
        expect(migrate).toContain("'admin' has a password of its own (not the default): left as it is");
        const py = async (code: string) =>
            (
                await s.exec(s.app(), [
                    "python3",
                    "-c",
                    `import sqlite3; db = sqlite3.connect('/app/data/lernmanager.db')\n${code}`,
                ])
            ).output.trim();
        expect(await py("print(db.execute('select count(*) from users').fetchone()[0])")).toBe("31");
        expect(await py('print(sorted(r[0] for r in db.execute("select title from tasks where id > 12")))')).toBe(
            "['Nur im WAL', 'Vom alten Server']",
        );
        const done = (await s.exec(s.app(), ["cat", "/app/data/migrations_done.txt"])).output
            .split("\n")
            .filter(Boolean);
        expect(done).toEqual([
            "migrate_001_task_estimates.py",
            "migrate_002_task_comments.py",
            "migrate_003_estimate_index.py",
        ]);
        const owners = (
            await s.exec(s.app(), [
                "sh",
                "-c",
                "stat -c %u /app/data /app/data/* /app/instance/uploads/* /app/instance/reports/* | sort -u",
            ])
        ).output.trim();
        expect(owners).toBe("10001");

        await expect(login(s.port, "admin", "admin")).rejects.toThrow("answered 401");
        await expect(login(s.port, "admin", String(s.run.outputs.adminPassword))).rejects.toThrow("answered 401");
        const cookie = await login(s.port, "admin", OLD_ADMIN_PASSWORD);
        const file = await request(s.port, "/files/arbeitsblatt.pdf", { headers: { Cookie: cookie } });
        expect(file.status).toBe(200);
        expect(file.body.length).toBe(50009);

        // npm run logs: the app's and nginx's lines in one stream, in time order, with their role.
        const logs = execFileSync("npx", ["ts-node", "cli/logs.ts", STACK, "--since", "10m"], {
            cwd: PROJECT_DIR,
            env: { ...process.env, DOCKER_HOST: localEngine() },
        }).toString();
        expect(logs).toMatch(/^app {7}\| \S+ .*gunicorn|^app {7}\| \S+ /m);
        expect(logs).toMatch(/^nginx {5}\| \S+ .*"GET \/files\/arbeitsblatt.pdf HTTP\/1.1" 200/m);
        const times = logs
            .split("\n")
            .filter(Boolean)
            .map((l) => l.split(" | ")[1].split(" ")[0]);
        expect(times).toEqual([...times].sort());
    });
});

describe("what a real `pulumi up` does with volumes made by the import (provider rules, test/support/lifecycle.ts)", () => {
    const VOL = "docker:index/volume:Volume";
    const volumeRegs = async (stack: string) =>
        (await runProgram(testConfig(), { stack, secretKey: "k" })).registrations.filter((r) => r.type === VOL);

    test("the first up adopts them (Docker answers the create with the existing volume) and the next up changes nothing", async () => {
        const stack = `${STACK}-adopt`;
        const old = oldInstall();
        await importInto(stack, old);
        const engine = new LifecycleEngine();
        const regs = await volumeRegs(stack);
        const first = await engine.up(regs);
        expect(first.creates).toHaveLength(regs.length);
        const again = await engine.up(await volumeRegs(stack));
        expect({ replaces: again.replaces, updates: again.updates, creates: again.creates }).toEqual({
            replaces: [],
            updates: [],
            creates: [],
        });
        const v = await docker.getVolume(`lernmanager-${stack}-data`).inspect();
        expect(v.Labels).toEqual({ "dev.lernmanager.stack": stack, "dev.lernmanager.volume": "data" });
    });

    test("a volume of that name with other labels is refused by the import (the next up would replace it)", async () => {
        const stack = `${STACK}-foreign`;
        await docker.createVolume({ Name: `lernmanager-${stack}-data`, Labels: { "dev.lernmanager.stack": stack } });
        await expect(importInto(stack, oldInstall())).rejects.toThrow(/exists but is not this stack's/);
        const engine = new LifecycleEngine();
        await engine.up(await volumeRegs(stack));
        const again = await engine.up(await volumeRegs(stack));
        expect(again.replaces.map((r) => r.name)).toEqual([`lernmanager-${stack}-storage-data`]);
    });
});

describe("an ssh:// source: the old server reached over ssh (an openssh-server container on 127.0.0.1)", () => {
    const IMAGE = "lmim/sshd:1";
    const stack = `${STACK}-ssh`;

    test("imports over ssh with python3 on the server, the same as from a local folder", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lmim-ssh-"));
        cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/key`]);
        fs.copyFileSync(`${dir}/key.pub`, `${dir}/authorized_keys`);
        fs.writeFileSync(
            `${dir}/Dockerfile`,
            [
                `FROM ${PYTHON_IMAGE}`,
                "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server && mkdir -p /run/sshd /root/.ssh",
                "COPY authorized_keys /root/.ssh/authorized_keys",
                'CMD ["/usr/sbin/sshd", "-D", "-e"]',
            ].join("\n"),
        );
        execFileSync("docker", ["build", "-q", "-t", IMAGE, dir], { stdio: "pipe", timeout: 300000 });
        cleanups.push(() => void execFileSync("docker", ["rmi", "-f", IMAGE], { stdio: "ignore" }));
        const old = oldInstall();
        const port = await freePort();
        const name = `lmim-sshd-${randomBytes(3).toString("hex")}`;
        execFileSync("docker", [
            "run",
            "-d",
            "--name",
            name,
            "--label",
            `dev.lernmanager.stack=${stack}-old`,
            "-v",
            `${old}:/opt/lernmanager`,
            "-p",
            `127.0.0.1:${port}:22`,
            IMAGE,
        ]);
        cleanups.push(() => void execFileSync("docker", ["rm", "-f", name], { stdio: "ignore" }));
        fs.writeFileSync(
            `${dir}/config`,
            `Host 127.0.0.1\n  IdentityFile ${dir}/key\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n`,
        );
        const ssh = ["ssh", "-F", `${dir}/config`];
        await eventually(
            30,
            async () => {
                try {
                    execFileSync(
                        ssh[0],
                        [...ssh.slice(1), "-p", String(port), "-o", "BatchMode=yes", "root@127.0.0.1", "true"],
                        { stdio: "pipe" },
                    );
                    return true;
                } catch {
                    return false;
                }
            },
            "sshd answers",
        );
        const report = await runImport({
            stack,
            names: stackNames("lernmanager", stack),
            config: configOf(),
            source: parseSource(`ssh://root@127.0.0.1:${port}/opt/lernmanager`),
            dockerEnv: { DOCKER_HOST: localEngine() },
            ssh,
        });
        expect(report.source.root).toBe("/opt/lernmanager");
        expect(report.target.databases["data/lernmanager.db"].rows.users).toBe(31);
        expect(report.target.folders["instance/uploads"]).toEqual({ files: 2, bytes: 50009 + 120000 });
        expect(report.target.migrationsDone).toHaveLength(2);
        expect(report.source.env?.SCHOOL_NAME).toBe("Gesamtschule Am Walde");
    });
});

/** The app source alone (what `appSource` points at), without an old install's data. */
function copyOfAppOnly(): string {
    const copy = copyOfDemoApp();
    cleanups.push(() => copy.remove());
    return copy.dir;
}

/** Polls the port every 100 ms (at most `limitSeconds`), keeping the times it answered and did not. */
function poller(port: number, limitSeconds: number) {
    const samples: { at: number; ok: boolean }[] = [];
    let stop = false;
    const started = Date.now();
    const done = (async () => {
        while (!stop && Date.now() - started < limitSeconds * 1000) {
            const at = Date.now();
            const ok = await request(port, "/login", { timeoutMs: 1000 })
                .then((r) => r.status === 200)
                .catch(() => false);
            samples.push({ at, ok });
            await new Promise((r) => setTimeout(r, 100));
        }
    })();
    return {
        samples,
        stop: async () => {
            stop = true;
            await done;
        },
    };
}

describe("cutover rehearsal: old service stopped, import, deploy on the same port", () => {
    let s: LiveStack;
    afterAll(async () => {
        await s?.realization.teardown();
    });

    test("the school is offline for under a minute", async () => {
        const old = oldInstall();
        const port = await freePort();
        const name = `lmim-old-${randomBytes(3).toString("hex")}`;
        // The old systemd service: waitress serving the app from /opt/lernmanager on the port.
        execFileSync("docker", [
            "run",
            "-d",
            "--init",
            "--name",
            name,
            "--label",
            `dev.lernmanager.stack=${CUT}-old`,
            "-v",
            `${old}:/opt/lernmanager`,
            "-w",
            "/opt/lernmanager",
            "-e",
            "SECRET_KEY=old",
            "-e",
            "HOST=0.0.0.0",
            "-e",
            "PORT=8080",
            "-p",
            `127.0.0.1:${port}:8080`,
            PYTHON_IMAGE,
            "python3",
            "run.py",
        ]);
        cleanups.push(() => void execFileSync("docker", ["rm", "-f", name], { stdio: "ignore" }));
        const appSource = copyOfAppOnly();
        const poll = poller(port, 300);
        const firstOk = async () => {
            for (let i = 0; i < 300 && !poll.samples.some((x) => x.ok); i++)
                await new Promise((r) => setTimeout(r, 100));
        };
        await firstOk();
        expect(poll.samples.some((x) => x.ok)).toBe(true);

        const t0 = Date.now();
        execFileSync("docker", ["stop", "-t", "10", name]); // systemctl stop lernmanager
        const stopped = Date.now();
        const report = await importInto(CUT, old);
        const imported = Date.now();
        s = await liveStack(CUT, { "lernmanager:appSource": appSource, "lernmanager:port": String(port) });
        const deployed = Date.now();
        for (let i = 0; i < 100 && !poll.samples.some((x) => x.ok && x.at > deployed); i++)
            await new Promise((r) => setTimeout(r, 100));
        await poll.stop();

        const lastOkBefore = Math.max(...poll.samples.filter((x) => x.ok && x.at <= t0).map((x) => x.at));
        const firstOkAfter = Math.min(...poll.samples.filter((x) => x.ok && x.at > t0).map((x) => x.at));
        const offline = (firstOkAfter - lastOkBefore) / 1000;
        const figures = {
            offlineSeconds: offline,
            stopSeconds: (stopped - t0) / 1000,
            importSeconds: (imported - stopped) / 1000,
            deploySeconds: (deployed - imported) / 1000,
            polls: poll.samples.length,
            importedFiles: report.source.files,
            importedBytes: report.source.bytes,
        };
        process.stdout.write(`    [${CUT}] cutover: ${JSON.stringify(figures)}\n`);
        expect(Number.isFinite(offline)).toBe(true);
        expect(offline).toBeLessThan(60);
        const cookie = await login(port, "admin", OLD_ADMIN_PASSWORD);
        expect((await request(port, "/admin", { headers: { Cookie: cookie } })).status).toBe(200);
    });
});
