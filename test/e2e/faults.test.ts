/**
 * Fault injection on a real engine. Every load is bounded in count and time and goes to
 * 127.0.0.1 only. Each test prints its figure; test/support/figures.ts writes it into this run's file
 * (bench/results/runs/) once the test has passed.
 */
import { spawn } from "child_process";
import * as net from "net";
import { recordFigure } from "../support/figures";
import { eventually, freePort, login, request } from "../support/http";
import { FRIENDLY_503, lostWrites, runLoad, UNAVAILABLE_PAGE_TITLE } from "../support/load";
import { runProgram, testConfig } from "../support/mocks";
import { docker, realize } from "../support/realize";
import { containerLogs, gunicornProcesses, liveStack, LiveStack } from "../support/stack";
import { settledEvents } from "../support/analytics";

jest.setTimeout(600000);

// 30 simulated students share one client address here: no login rate limit for this stack.
// The app's own access log shows which requests reached gunicorn.
const FAULT_STACK_CONFIG = { "lernmanager:loginRatePerMinute": "0", "lernmanager:appAccessLog": "true" };
let s: LiveStack;
let cookies: string[];
/**
 * Watches the engine's live event stream for the containers created for a stack; `stop` returns
 * their names. Live, not read back afterwards: the engine keeps only its last 256 events, which a
 * shared engine's health checks and execs replace within seconds.
 */
async function watchCreatedContainers(stack: string): Promise<{ stop(): Promise<string[]> }> {
    const stream = (await docker.getEvents({
        filters: { type: ["container"], event: ["create"], label: [`dev.lernmanager.stack=${stack}`] },
    })) as NodeJS.ReadableStream & { destroy(): void };
    let text = "";
    stream.on("data", (chunk: Buffer) => (text += chunk.toString()));
    return {
        async stop() {
            // Events reach the stream a moment after the API call that caused them returned.
            await new Promise((r) => setTimeout(r, 1000));
            stream.destroy();
            return text
                .split("\n")
                .filter((l) => l.trim() !== "")
                .map((l) => JSON.parse(l).Actor.Attributes.name as string);
        },
    };
}
const figure = (name: string, data: Record<string, unknown>) => {
    console.log(`${name}: ${JSON.stringify(data)}`);
    recordFigure(name, data);
};

beforeAll(async () => {
    s = await liveStack("e2e-faults", FAULT_STACK_CONFIG);
    cookies = await Promise.all(
        Array.from({ length: 30 }, (_, i) => login(s.port, `student${String(i + 1).padStart(2, "0")}`, "lernen")),
    );
});
afterAll(async () => {
    await s?.realization.teardown();
});

test("gunicorn (as shipped) sends a response's head with its first body bytes, in one write", async () => {
    // The real gunicorn Response class with lm_whole_head installed, writing to a recording socket.
    const script = [
        "import json, sys",
        "sys.path.insert(0, '/opt/lernmanager')",
        "import lm_whole_head",
        "from gunicorn.config import Config",
        "from gunicorn.http.wsgi import Response",
        "installed = lm_whole_head.install()",
        "class Req:",
        "    version = (1, 1)",
        "    method = 'GET'",
        "    def should_close(self): return False",
        "class Sock:",
        "    def __init__(self): self.writes = []",
        "    def sendall(self, data): self.writes.append(bytes(data).decode('latin-1'))",
        "def respond(headers, parts):",
        "    sock = Sock(); r = Response(Req(), sock, Config())",
        "    r.start_response('200 OK', headers)",
        "    for p in parts: r.write(p)",
        "    r.close()",
        "    return sock.writes",
        "print(json.dumps({'installed': installed,",
        "    'page': respond([('Content-Length', '5')], [b'hello']),",
        "    'chunked': respond([], [b'a', b'b']),",
        "    'empty': respond([('Content-Length', '0')], [])}))",
    ].join("\n");
    const out = JSON.parse((await s.exec(s.app(), ["python3", "-c", script])).output);
    expect(out.installed).toBe(true);
    expect(out.page).toHaveLength(1);
    expect(out.page[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: 5\r\n\r\nhello$/);
    expect(out.chunked).toHaveLength(3);
    expect(out.chunked[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n1\r\na\r\n$/);
    expect(out.empty).toHaveLength(1);
    expect(out.empty[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n$/);
    const conf = await s.exec(s.app(), ["cat", "/opt/lernmanager/gunicorn.conf.py"]);
    expect(conf.output).toMatch(/^import lm_whole_head.*\n\nlm_whole_head\.install\(\)$/m);
});

// How many workers die (SIGKILL, like the kernel's OOM killer) during one load run, one at a time.
const WORKER_KILLS = Number(process.env.LM_WORKER_KILLS ?? 4);

test(`gunicorn workers killed under load (${WORKER_KILLS} kills): 0 failed requests`, async () => {
    const eventsBefore = await settledEvents(s.port);
    const killedPids: number[] = [];
    const killing = (async () => {
        for (let i = 0; i < WORKER_KILLS; i++) {
            await new Promise((r) => setTimeout(r, 1500));
            const { workers } = await gunicornProcesses(s.app());
            const victim = workers[i % workers.length].pid;
            await s.exec(s.app(), ["python3", "-c", `import os; os.kill(${victim}, 9)`]);
            killedPids.push(victim);
        }
    })();
    const load = await runLoad({
        port: s.port,
        connections: 32,
        durationMs: 1500 * WORKER_KILLS + 2500,
        cookies,
        writeShare: 0,
    });
    await killing;
    await eventually(20, async () => (await gunicornProcesses(s.app())).workers.length === 4, "4 workers again");
    const after = await gunicornProcesses(s.app());
    // A SIGKILLed worker runs no atexit handler: the analytics events its writer had not yet written
    // (at most its last 0.5 s) are lost. Measured, not avoidable by the stack (a graceful restart
    // loses none: test/e2e/appContract.test.ts).
    const recordedEvents = (await settledEvents(s.port)) - eventsBefore;
    // A worker killed between the head and the body of a response would cut it mid-transfer
    // (nginx can't resend half a response): containers/runtime/app/lm_whole_head.py sends both in one write.
    figure("killWorker", {
        workersKilled: killedPids.length,
        requests: load.requests,
        failedRequests: load.failed,
        failures: load.failures,
        p99Ms: load.p99Ms,
        analyticsEvents: recordedEvents,
    });
    console.log(`worker kills: ${load.requests} requests, ${recordedEvents} analytics events recorded`);
    // (a GET whose worker died after queuing its event and before answering is retried elsewhere: at most
    // one per thread of a killed worker is counted twice)
    expect(recordedEvents).toBeLessThanOrEqual(load.requests + 2 * WORKER_KILLS);
    expect(recordedEvents).toBeGreaterThan(load.requests * 0.8);
    expect(killedPids).toHaveLength(WORKER_KILLS);
    for (const pid of killedPids) expect(after.workers.map((w) => w.pid)).not.toContain(pid);
    // Traffic all along (32 busy connections at every kill); not a speed figure: a shared machine may be slow.
    expect(load.requests).toBeGreaterThan(100 * WORKER_KILLS);
    expect(load.failures).toEqual({});
    expect(load.failed).toBe(0);
});

test("the app container killed under load: a friendly 503, no cut response, traffic and health back within 10 s, nginx untouched", async () => {
    const nginxBefore = await s.nginx().inspect();
    const { master } = await gunicornProcesses(s.app());
    const startedBefore = (await s.app().inspect()).State.StartedAt;
    let killedAt = 0;
    // The unavailable page as the probe below and the load see it: nginx's page retry bridges most of
    // the restart, so the window where a 503 is answered is short (one probe saw 1 or 0 of them).
    let friendly = 0;
    let unfriendly = 0;
    let loadFailures: Readonly<Record<string, number>> = {};
    const loadSaw503 = () => (loadFailures[FRIENDLY_503] ?? 0) > 0;
    let backAt = 0;
    let healthyAt = 0;
    const outage = (async () => {
        await new Promise((r) => setTimeout(r, 1500));
        killedAt = Date.now();
        // A crash, not a stop: gunicorn's master dies, so the container exits and its restart policy applies.
        await s.exec(s.app(), ["python3", "-c", `import os; os.kill(${master.pid}, 9)`], { allowFail: true });
        for (let i = 0; i < 300 && !backAt; i++) {
            const res = await request(s.port, "/login").catch(() => undefined);
            if (res?.status === 503 && res.text().includes(UNAVAILABLE_PAGE_TITLE)) friendly++;
            else if (res?.status === 503) unfriendly++;
            else if (res?.status === 200 && (friendly > 0 || loadSaw503())) backAt = Date.now();
            await new Promise((r) => setTimeout(r, 50));
        }
        // Healthy again = a passing health check that ran after the restart.
        await eventually(
            30,
            async () => {
                const state = (await s.app().inspect()).State;
                if (state.StartedAt === startedBefore) return false;
                const started = Date.parse(state.StartedAt);
                return (state.Health?.Log ?? []).some((l) => l.ExitCode === 0 && Date.parse(l.Start) > started);
            },
            "app healthy again",
        );
        healthyAt = Date.now();
        await new Promise((r) => setTimeout(r, 1000));
    })();
    const load = await runLoad({
        port: s.port,
        connections: 16,
        durationMs: 60000,
        cookies,
        writeShare: 0,
        until: outage,
        onFailures: (f) => (loadFailures = f),
    });
    await outage;
    const info = await s.app().inspect();
    const nginxAfter = await s.nginx().inspect();
    const round = (ms: number) => Math.round(ms / 100) / 10;
    figure("killAppContainer", {
        trafficBackSeconds: round(backAt - killedAt),
        healthyAgainSeconds: round(healthyAt - killedAt),
        friendly503Seen: friendly,
        friendly503SeenByLoad: load.failures[FRIENDLY_503] ?? 0,
        requestsDuringOutage: load.requests,
        failedDuringOutage: load.failed,
        failures: load.failures,
        restartCount: info.RestartCount,
    });
    expect(info.RestartCount).toBeGreaterThanOrEqual(1);
    // The outage was seen, as the unavailable page only (by the probe or the load), and traffic came back.
    expect(friendly + (load.failures[FRIENDLY_503] ?? 0)).toBeGreaterThan(0);
    expect(unfriendly).toBe(0);
    expect(backAt).toBeGreaterThan(0);
    expect(healthyAt - killedAt).toBeLessThanOrEqual(10000);
    // Traffic is back (a 200 through nginx after the friendly page) before the health wait starts,
    // so the 10 s above bounds it too. No tighter bound: one run on 2 cores shared with other suites
    // measured 8.9 s (about 2 s on a quiet machine); docs/reliability.md claims only the 10 s.
    // Only the friendly page, no cut response (docs/reliability.md): these are GETs, a response is
    // sent whole or not at all (lm_whole_head.py) and nginx retries one that got nothing.
    expect(Object.keys(load.failures).filter((k) => k !== FRIENDLY_503)).toEqual([]);
    expect(nginxAfter.State.StartedAt).toBe(nginxBefore.State.StartedAt);
    expect(nginxAfter.RestartCount).toBe(nginxBefore.RestartCount);
});

test("stopping the app: nginx answers a friendly 503 and its health check fails", async () => {
    const nginxBefore = await s.nginx().inspect();
    await s.app().stop({ t: 40 });
    const res = await request(s.port, "/login");
    expect(res.status).toBe(503);
    expect(res.headers["retry-after"]).toBe("10");
    expect(res.text()).toContain("Lernmanager ist gleich wieder da");
    const check = await s.exec(s.nginx(), ["/bin/bash", "/etc/nginx/lernmanager/healthcheck.sh"], {
        allowFail: true,
    });
    expect(check.code).toBe(1);
    expect(check.output).toContain("app through nginx");
    // nginx itself is fine and keeps running.
    expect((await request(s.port, "/nginx-health")).status).toBe(200);

    await s.app().start();
    const seconds = await eventually(
        60,
        async () => (await request(s.port, "/login")).status === 200,
        "app back through nginx",
    );
    console.log(`app back through nginx after ${seconds.toFixed(1)} s`);
    const nginxAfter = await s.nginx().inspect();
    expect(nginxAfter.State.StartedAt).toBe(nginxBefore.State.StartedAt);
    expect(nginxAfter.RestartCount).toBe(nginxBefore.RestartCount);
});

/** The error_log rows the app wrote after row `after`: it logs there every error it answers with a redirect. */
async function appErrors(after = 0): Promise<{ last: number; messages: string[] }> {
    const script = [
        "import json, os, sqlite3",
        "db = sqlite3.connect(os.path.join(os.environ['LM_APP_DIR'], os.environ['LM_DATA_PATH'], os.environ['LM_DATABASE_FILE']))",
        `rows = db.execute('select rowid, message from error_log where rowid > ${Number(after)} order by rowid').fetchall()`,
        "last = db.execute('select coalesce(max(rowid), 0) from error_log').fetchone()[0]",
        "print(json.dumps({'last': last, 'messages': [m for _, m in rows]}))",
    ].join("\n");
    return JSON.parse((await s.exec(s.app(), ["python3", "-c", script])).output);
}

test("30 concurrent writers for 30 s: 0 lost writes, 0 'database is locked' reaching a user", async () => {
    const logStart = (await containerLogs(s.app())).length;
    const errorsBefore = await appErrors();
    const load = await runLoad({ port: s.port, connections: 30, durationMs: 30000, cookies, writeShare: 1 });
    const missing = await lostWrites(s.port, load.acknowledgedWrites);
    // The app answers a failed write with a redirect (a failure in load.failures) and logs it in
    // error_log; an error_log row it could not write is printed instead.
    const errors = (await appErrors(errorsBefore.last)).messages;
    const logs = (await containerLogs(s.app())).slice(logStart);
    const locked = [...errors, logs].join("\n").match(/database is locked/g)?.length ?? 0;
    figure("concurrentWriters", {
        writers: 30,
        seconds: load.seconds,
        writesAcknowledged: load.acknowledgedWrites.length,
        lostWrites: missing.length,
        failedRequests: load.failed,
        appErrors: errors.length,
        databaseLockedErrors: locked,
        p50Ms: load.p50Ms,
        p99Ms: load.p99Ms,
    });
    expect(load.acknowledgedWrites.length).toBeGreaterThan(1000);
    expect(load.failures).toEqual({});
    expect(missing).toEqual([]);
    expect(errors).toEqual([]);
    expect(locked).toBe(0);
});

test("slow-loris clients (200 connections trickling headers) do not slow normal clients beyond 2x p99", async () => {
    const measure = () =>
        runLoad({ port: s.port, connections: 4, durationMs: 3000, cookies, writeShare: 0, readPaths: ["/login"] });
    /**
     * 200 connections that send a request line and then one header line every 500 ms, never the end.
     * They run in a process of their own: 200 writes at once on this process's event loop every
     * 500 ms would delay the measuring clients' own callbacks, and their p99 would show the test's
     * client, not nginx (a fresh-clone run measured 2.3x that way, all three windows).
     */
    const openSlowClients = async () => {
        const child = spawn(process.execPath, ["-e", SLOW_CLIENTS_SCRIPT, String(s.port)], {
            stdio: ["pipe", "pipe", "inherit"],
        });
        const lines: string[] = [];
        let waiting: ((line: string) => void) | undefined;
        let buffer = "";
        child.stdout!.on("data", (d: Buffer) => {
            buffer += d.toString();
            for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
                const line = buffer.slice(0, i);
                buffer = buffer.slice(i + 1);
                if (waiting) {
                    waiting(line);
                    waiting = undefined;
                } else lines.push(line);
            }
        });
        const nextLine = () =>
            new Promise<string>((resolve, reject) => {
                const timer = setTimeout(() => reject(new Error("the slow clients' process did not answer")), 10000);
                const take = (line: string) => {
                    clearTimeout(timer);
                    resolve(line);
                };
                if (lines.length) take(lines.shift()!);
                else waiting = take;
            });
        // The process says "started" once its 200 connections are made.
        expect(await nextLine()).toBe("started 200");
        return {
            open: async () => {
                child.stdin!.write("count\n");
                return Number(await nextLine());
            },
            close: () => {
                child.stdin!.end();
                child.kill();
            },
        };
    };
    // Windows without and with the attack alternate, and their medians are compared: other work on
    // the machine (the other lane, a benchmark beside the suite) that lands in one window moves one
    // pair, not the verdict. A single before/during/after comparison failed on a busy machine.
    const usual: number[] = [];
    const attacked: number[] = [];
    const openDuringAttack: number[] = [];
    const failures: Record<string, number> = {};
    for (let pair = 0; pair < 3; pair++) {
        usual.push((await measure()).p99Ms);
        const slow = await openSlowClients();
        try {
            await new Promise((r) => setTimeout(r, 1000));
            const underAttack = await measure();
            attacked.push(underAttack.p99Ms);
            for (const [k, v] of Object.entries(underAttack.failures)) failures[k] = (failures[k] ?? 0) + v;
            openDuringAttack.push(await slow.open());
        } finally {
            slow.close();
        }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    figure("slowLoris", {
        slowConnections: 200,
        usualP99Ms: median(usual),
        underAttackP99Ms: median(attacked),
        ratio: Math.round((median(attacked) / median(usual)) * 100) / 100,
        windows: { usualP99Ms: usual, underAttackP99Ms: attacked },
        slowConnectionsOpenDuringAttack: openDuringAttack,
    });
    // The attack was real: nginx kept the slow connections open while the normal clients ran.
    expect(Math.min(...openDuringAttack)).toBe(200);
    expect(failures).toEqual({});
    expect(median(attacked)).toBeLessThanOrEqual(2 * median(usual));
});

/**
 * The slow-loris clients' process (node -e, the port as its argument): opens 200 connections, sends
 * each a request line, says "started 200" once all are connected, then trickles a header line on
 * each every 500 ms; answers "count" on stdin with the connections still open; exits when stdin ends.
 */
const SLOW_CLIENTS_SCRIPT = `
const net = require("net");
const port = Number(process.argv[1]);
const sockets = [];
let connected = 0;
for (let i = 0; i < 200; i++) {
    const sock = net.connect(port, "127.0.0.1", () => {
        if (++connected === 200) process.stdout.write("started 200\\n");
    });
    sock.on("error", () => undefined);
    sock.write("GET /login HTTP/1.1\\r\\nHost: x\\r\\n");
    sockets.push(sock);
}
let n = 0;
setInterval(() => {
    for (const sock of sockets) if (!sock.destroyed) sock.write("X-Slow-" + n + ": " + n + "\\r\\n");
    n++;
}, 500);
let input = "";
process.stdin.on("data", (d) => {
    input += d;
    for (let i = input.indexOf("\\n"); i >= 0; i = input.indexOf("\\n")) {
        input = input.slice(i + 1);
        process.stdout.write(sockets.filter((x) => !x.destroyed).length + "\\n");
    }
});
process.stdin.on("end", () => process.exit(0));
`;

/** Sends raw bytes and returns the status line nginx answers with. */
function raw(payload: string | Buffer): Promise<string> {
    return new Promise((resolve) => {
        const sock = net.connect(s.port, "127.0.0.1");
        let data = "";
        sock.setTimeout(10000, () => sock.destroy());
        sock.on("data", (d) => (data += d.toString("latin1")));
        sock.on("close", () => resolve(data.split("\r\n")[0]));
        sock.on("error", () => resolve(data.split("\r\n")[0]));
        sock.write(payload);
    });
}

/** Request lines in the app's access log, but for its health checks. */
async function appRequestLines(): Promise<number> {
    return (await containerLogs(s.app()))
        .split("\n")
        .filter((l) => /"(GET|POST|[A-Z]+) /.test(l) && !l.includes("/healthz")).length;
}

/**
 * The count once it stands still for a second (at most 20 s): gunicorn writes a request's line after
 * the response has gone out, so the last line of an earlier test's load may still be on its way.
 */
async function settledAppRequestLines(): Promise<number> {
    let last = await appRequestLines();
    for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const now = await appRequestLines();
        if (now === last) return now;
        last = now;
    }
    throw new Error("the app's access log never stood still");
}

test("oversized and malformed requests: 4xx from nginx, the app unaffected", async () => {
    const appLogBefore = await settledAppRequestLines();
    const cases: [string, string | Buffer, RegExp][] = [
        [
            "huge header",
            `GET /login HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70000)}\r\n\r\n`,
            /^HTTP\/1\.1 (400|494)/,
        ],
        ["huge URL", `GET /login?${"q".repeat(70000)} HTTP/1.1\r\nHost: x\r\n\r\n`, /^HTTP\/1\.1 414/],
        ["bad method token", `G@T /login HTTP/1.1\r\nHost: x\r\n\r\n`, /^HTTP\/1\.1 400/],
        ["unknown method", `BREW /login HTTP/1.1\r\nHost: x\r\n\r\n`, /^HTTP\/1\.1 405/],
        [
            "garbage",
            Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00, 0x0a, 0x0d, 0x0a, 0x0d, 0x0a]),
            /^HTTP\/1\.1 400/,
        ],
        [
            "traversal to uploads",
            `GET /protected-files/../protected-files/blatt.txt HTTP/1.1\r\nHost: x\r\n\r\n`,
            /^HTTP\/1\.1 404/,
        ],
        [
            "encoded traversal on static",
            `GET /static/..%2f..%2fapp.py HTTP/1.1\r\nHost: x\r\n\r\n`,
            /^HTTP\/1\.1 (400|404)/,
        ],
        ["traversal above root", `GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n`, /^HTTP\/1\.1 400/],
        ["dotfile", `GET /static/.htaccess HTTP/1.1\r\nHost: x\r\n\r\n`, /^HTTP\/1\.1 404/],
        [
            "body over the limit (chunked)",
            `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n`,
            /^HTTP\/1\.1 413/,
        ],
    ];
    const results: Record<string, string> = {};
    for (const [name, payload, expected] of cases) {
        results[name] = await raw(payload);
        expect({ name, status: results[name] }).toEqual({ name, status: expect.stringMatching(expected) });
    }
    // Settled too: a request that did reach the app has its line written by now.
    const appLogAfter = await settledAppRequestLines();
    figure("malformedRequests", { cases: results, requestsReachingApp: appLogAfter - appLogBefore });
    expect(appLogAfter - appLogBefore).toBe(0);
    expect((await request(s.port, "/healthz")).status).toBe(200);
    expect((await s.app().inspect()).RestartCount).toBeLessThanOrEqual(1); // only the deliberate crash above
});

test("forged X-Forwarded-For / X-Real-IP have no effect on the address the app sees", async () => {
    const honest = (await request(s.port, "/whoami")).json().client_ip;
    const forgedHeaders: Record<string, string>[] = [
        { "X-Forwarded-For": "10.9.8.7" },
        { "X-Real-IP": "127.0.0.1" },
        { "X-Forwarded-For": "127.0.0.1, 127.0.0.1", "X-Real-IP": "::1" },
    ];
    const seen = [];
    for (const headers of forgedHeaders) seen.push((await request(s.port, "/whoami", { headers })).json().client_ip);
    figure("forgedClientIp", { honest, seenWithForgedHeaders: seen });
    expect(seen).toEqual(forgedHeaders.map(() => honest));
});

test("a missing required setting (SECRET_KEY) fails the deploy on health instead of reporting running", async () => {
    // The program always sets SECRET_KEY; here it is removed from what the new version's containers
    // receive (the candidate's and the app's), as a broken setting would be. The init hook still
    // creates the database in the migrate step, which keeps its key.
    const run = await runProgram(
        testConfig({
            "lernmanager:migrationsPath": "",
            "lernmanager:adminTable": "",
            "lernmanager:port": String(await freePort()),
        }),
        {
            stack: "e2e-nokey",
        },
    );
    const withoutKey = (env: Record<string, string>) =>
        Object.fromEntries(Object.entries(env).filter(([k]) => k !== "SECRET_KEY"));
    const broken = run.registrations.map((r) =>
        r.custom && r.name === "lernmanager-e2e-nokey-app"
            ? {
                  ...r,
                  inputs: {
                      ...r.inputs,
                      envs: r.inputs.envs.filter((e: string) => !e.startsWith("SECRET_KEY=")),
                      waitTimeout: 25,
                  },
              }
            : r.custom && r.name === "lernmanager-e2e-nokey-candidate"
              ? { ...r, inputs: { ...r.inputs, environment: withoutKey(r.inputs.environment) } }
              : r,
    );
    const watch = await watchCreatedContainers("e2e-nokey");
    const started = Date.now();
    const error = await realize(broken).then(
        () => undefined,
        (e: Error) => e,
    );
    const seconds = (Date.now() - started) / 1000;
    const leftovers = await docker.listContainers({
        all: true,
        filters: { label: ["dev.lernmanager.stack=e2e-nokey"] },
    });
    // Which containers the deploy created, from the engine's events for this stack.
    const created = await watch.stop();
    const nginxCreated = created.some((name) => name === "lernmanager-e2e-nokey-nginx");
    figure("missingSecretKey", { deployFailed: !!error, secondsToFailure: Math.round(seconds), nginxCreated });
    // The new version ran once as the candidate, without the app's alias, and failed there: the app
    // container and nginx were never created.
    expect(created.some((name) => name.startsWith("lernmanager-e2e-nokey-candidate"))).toBe(true);
    expect(created.some((name) => name.startsWith("lernmanager-e2e-nokey-app"))).toBe(false);
    expect(nginxCreated).toBe(false);
    expect(error?.message).toMatch(/lernmanager-e2e-nokey-candidate failed/);
    expect(error?.message).toMatch(/did not become healthy/);
    expect(error?.message).toMatch(/SECRET_KEY is not set|Worker failed to boot/);
    // The realizer tore down what it had created (as a failed first `pulumi up` leaves nothing serving).
    expect(leftovers).toEqual([]);
});
