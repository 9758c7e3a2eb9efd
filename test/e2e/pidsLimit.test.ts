/**
 * The per-container pids limit on the real engine (stack e2e-pid-limits: every kind of container,
 * TLS and jobs on, `pidsLimit` 128): Docker holds the limit of each container, and a process loop in
 * the app container stops at its limit while nginx keeps serving and the backup container, whose
 * processes run as the same uid, can still start processes. Mostly waits (one deploy, 20 s of probe).
 */
import { execFileSync } from "child_process";
import { freePort, request } from "../support/http";
import { httpsRequest } from "../support/https";
import { docker } from "../support/realize";
import { liveStack, LiveStack } from "../support/stack";
import { TEST_IMAGES } from "../support/baseImages";
import { STACK_LABEL } from "../../core/names";

jest.setTimeout(600000);

const STACK = "e2e-pid-limits";
const LIMIT = 128;
// Shorter than the app's health check needs to fail (3 retries every 5 s): the container stays healthy.
const HOLD_SECONDS = 12;
const DOMAIN = "lernen.schule.test";
let s: LiveStack;
let httpsPort: number;
let ca: string;
const get = (path: string) => httpsRequest(httpsPort, path, { ca, servername: DOMAIN });

beforeAll(async () => {
    httpsPort = await freePort();
    s = await liveStack(STACK, {
        "lernmanager:pidsLimit": String(LIMIT),
        "lernmanager:tls": "internal",
        "lernmanager:domain": DOMAIN,
        "lernmanager:httpsPort": String(httpsPort),
        "lernmanager:tlsImage": TEST_IMAGES.tls,
        "lernmanager:jobs": JSON.stringify([{ name: "noop", schedule: "0 3 * * *", command: "true" }]),
    });
    ca = (await request(s.port, "/schul-ca.crt")).text();
});
afterAll(async () => {
    await s?.realization.teardown();
});

test("docker inspect: every container of the stack has its pids limit (pidsLimit; the TLS agent 64), no nproc ulimit", async () => {
    const found = await docker.listContainers({ all: true, filters: { label: [`${STACK_LABEL}=${STACK}`] } });
    const limits: Record<string, number | null | undefined> = {};
    for (const c of found) {
        const info = await docker.getContainer(c.Id).inspect();
        limits[c.Labels["dev.lernmanager.role"]] = info.HostConfig.PidsLimit;
        expect((info.HostConfig.Ulimits ?? []).map((u) => u.Name)).not.toContain("nproc");
    }
    expect(limits).toEqual({ app: LIMIT, scheduler: LIMIT, backup: LIMIT, nginx: LIMIT, tls: 64 });
});

test("a process loop in the app container stops at the limit; nginx serves and the backup container starts processes meanwhile", async () => {
    const app = s.app();
    const backup = s.realization.container("-backups");
    // Starts sleeping children until the kernel refuses, holds them, then lets them go.
    const probe = [
        "import subprocess, time",
        "kids, error = [], ''",
        "try:",
        "    while len(kids) < 10000:",
        "        kids.append(subprocess.Popen(['sleep', '600']))",
        "except OSError as e:",
        "    error = str(e)",
        "open('/tmp/pids-probe', 'w').write('%d %s' % (len(kids), error))",
        `time.sleep(${HOLD_SECONDS})`,
        "for k in kids: k.kill()",
        "for k in kids: k.wait()",
    ].join("\n");
    // `docker exec -d` (the CLI): the Engine API's detached exec keeps a connection open after the test.
    execFileSync("docker", ["exec", "-d", (await app.inspect()).Id, "python3", "-c", probe]);

    const pids = async () =>
        ((await app.stats({ stream: false })) as any).pids_stats as { current: number; limit: number };
    // The count moves by one or two around the limit (gunicorn's threads, the health check's exec): its peak is the limit.
    let peak = 0;
    const deadline = Date.now() + 15000;
    while (peak < LIMIT && Date.now() < deadline) {
        const now = await pids();
        expect(now.limit).toBe(LIMIT);
        peak = Math.max(peak, now.current);
        await new Promise((r) => setTimeout(r, 200));
    }
    expect(peak).toBe(LIMIT);

    // While the app container is full: nginx (its own container) answers, and a container of the same
    // uid (10001) can still fork: the limit is the app container's, not the user's across the host.
    expect((await get("/nginx-health")).status).toBe(200);
    expect((await get("/static/css/app.css")).status).toBe(200);
    const forked = await s.exec(backup, [
        "python3",
        "-c",
        "import subprocess; print(subprocess.run(['true']).returncode)",
    ]);
    expect(forked.output.trim()).toBe("0");
    expect((await pids()).current).toBeGreaterThan(LIMIT - 5);

    // Once the loop lets its children go, the app serves again through nginx.
    const released = Date.now() + (HOLD_SECONDS + 20) * 1000;
    while ((await pids()).current > LIMIT / 2 && Date.now() < released) await new Promise((r) => setTimeout(r, 500));
    const [started, ...error] = (await s.exec(app, ["cat", "/tmp/pids-probe"])).output.trim().split(" ");
    expect(error.join(" ")).toMatch(/Resource temporarily unavailable/);
    expect(Number(started)).toBeGreaterThan(LIMIT / 2);
    expect(Number(started)).toBeLessThan(LIMIT);
    expect((await get("/login")).status).toBe(200);
});
