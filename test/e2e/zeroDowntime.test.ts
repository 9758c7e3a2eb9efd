/**
 * Zero failed requests while the app is replaced by a new image the way Pulumi does it
 * (create the new container, wait until healthy, delete the old one with its grace period),
 * under 32 connections of mixed reads and writes through nginx.
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { APP_STOP_GRACE_SECONDS } from "../../components/appService";
import { login, request } from "../support/http";
import { lostWrites, runLoad } from "../support/load";
import { docker } from "../support/realize";
import { containerLogs, copyOfDemoApp, liveStack, LiveStack, redeclare } from "../support/stack";
import { explainLostWrites, noteAcknowledgedWrites } from "../support/writeTrail";
import { recordFigure } from "../support/figures";
import { settledEvents } from "../support/analytics";

jest.setTimeout(600000);

const NO_LOGIN_LIMIT = { "lernmanager:loginRatePerMinute": "0" };
let s: LiveStack;
const app = copyOfDemoApp();
beforeAll(async () => {
    // 30 simulated students share one client address here: no login rate limit for this stack.
    // The app copy notes the writes it acknowledges, in both versions: a missing one can be traced.
    noteAcknowledgedWrites(app.dir);
    s = await liveStack("e2e-zdt", { ...NO_LOGIN_LIMIT, "lernmanager:appSource": app.dir });
});
afterAll(async () => {
    await s?.realization.teardown();
    app.remove();
});

test("an app update under 32 connections of reads and writes: 0 failed requests, 0 lost writes", async () => {
    const cookies = await Promise.all(
        Array.from({ length: 30 }, (_, i) => login(s.port, `student${String(i + 1).padStart(2, "0")}`, "lernen")),
    );
    const eventsBefore = await settledEvents(s.port);
    fs.appendFileSync(path.join(app.dir, "app.py"), `\n# release ${randomBytes(4).toString("hex")}\n`);
    const next = await redeclare(s, { "lernmanager:appSource": app.dir });
    const before = (await request(s.port, "/healthz")).json().version;

    let updateSeconds = 0;
    const moments: Record<string, number> = {};
    // The deploy's smoke test requests "/" through nginx once: one more analytics event.
    let smokeTests = 0;
    const update = (async () => {
        await new Promise((r) => setTimeout(r, 2000)); // load is running before the update starts
        const t0 = Date.now();
        moments["the update started"] = t0;
        const replaced = await s.realization.update(next.registrations, {
            log: (line) => {
                if (/^ran \S+-smoke\b/.test(line)) smokeTests++;
            },
        });
        updateSeconds = (Date.now() - t0) / 1000;
        moments["it ended"] = Date.now();
        await new Promise((r) => setTimeout(r, 3000)); // and keeps running after it
        return replaced;
    })();
    const load = await runLoad({ port: s.port, connections: 32, durationMs: 240000, cookies, until: update });
    const replaced = await update;
    expect(replaced).toEqual(["lernmanager-e2e-zdt-app", "lernmanager-e2e-zdt-backups"]);
    expect((await request(s.port, "/healthz")).json().version).not.toBe(before);

    // Every request that reached the app queued one analytics event; the old container's workers
    // wrote theirs at their graceful exit.
    const recordedEvents = (await settledEvents(s.port)) - eventsBefore;

    // Every acknowledged write is in the database (lostWrites: a lookup the app could not answer is
    // asked again).
    const missing = await lostWrites(s.port, load.acknowledgedWrites);
    if (missing.length) console.log(await explainLostWrites(s, missing, load.acknowledgedAt, moments));
    console.log(
        `zero-downtime update: ${load.requests} requests in ${load.seconds.toFixed(1)} s (update ${updateSeconds.toFixed(1)} s), ` +
            `${load.failed} failed ${JSON.stringify(load.failures)}, ${load.acknowledgedWrites.length} writes acknowledged, ${missing.length} missing, ${recordedEvents} analytics events, p99 ${load.p99Ms} ms`,
    );
    recordFigure("zeroDowntimeUpdate", {
        requests: load.requests,
        failedRequests: load.failed,
        failures: load.failures,
        acknowledgedWrites: load.acknowledgedWrites.length,
        lostWrites: missing.length,
        analyticsEvents: recordedEvents,
        updateSeconds,
        p50Ms: load.p50Ms,
        p99Ms: load.p99Ms,
    });
    // What nginx saw go wrong with the app during the update (shown only when a request failed).
    if (load.failed > 0) {
        const problems = (await s.logs(s.nginx())).split("\n").filter((l) => /\[(error|warn)\]|" 50[234] /.test(l));
        console.log(`nginx during the update:\n${problems.slice(-40).join("\n")}`);
    }
    expect(load.requests).toBeGreaterThan(500);
    expect(load.acknowledgedWrites.length).toBeGreaterThan(100);
    expect(missing).toEqual([]);
    expect(load.failures).toEqual({});
    expect(smokeTests).toBe(1);
    expect(recordedEvents).toBe(load.requests + smokeTests);
});

// 48 clients, each opening a new connection per request straight to the app container (the way
// nginx does), for SECONDS. A connection refused or not answered in time is fine (nginx tries the
// other container: nothing was sent); a connection reset or closed after the request went out is
// what nginx cannot retry for a POST.
const HAMMER = `
import collections, json, socket, sys, threading, time
host, seconds, clients = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
counts, lock, end = collections.Counter(), threading.Lock(), time.time() + seconds
def client(i):
    n = 0
    while time.time() < end and n < 100000:
        n += 1
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((host, 8000))
        except ConnectionRefusedError:
            outcome = "refused"
            time.sleep(0.005)
        except OSError:
            outcome = "not connected in time"
        else:
            try:
                s.sendall(("GET " + ("/login" if n % 2 else "/healthz") + " HTTP/1.0\\r\\nHost: app\\r\\n\\r\\n").encode())
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                outcome = "answered" if data.startswith(b"HTTP/1.") else "closed after the request"
            except OSError as e:
                outcome = "reset after the request" if isinstance(e, ConnectionResetError) else type(e).__name__
        s.close()
        with lock:
            counts[outcome] += 1
threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(counts))
`;

test("a stopping app container serves or refuses every connection: none is reset after its request was sent", async () => {
    const app = s.app();
    const info = await app.inspect();
    const [network, endpoint] = Object.entries(info.NetworkSettings.Networks)[0];
    const client = await docker.createContainer({
        name: `lernmanager-e2e-zdt-hammer-${Date.now()}`,
        Image: info.Image,
        Entrypoint: ["python3", "-c", HAMMER],
        Cmd: [endpoint.IPAddress, "7", "48"],
        User: "10001",
        Labels: { "dev.lernmanager.stack": "e2e-zdt" },
        HostConfig: { NetworkMode: network },
    });
    try {
        await client.start();
        await new Promise((r) => setTimeout(r, 2500));
        await app.stop({ t: APP_STOP_GRACE_SECONDS }); // what the provider does when it deletes the old container
        await client.wait();
        const counts: Record<string, number> = JSON.parse((await containerLogs(client)).trim().split("\n").pop()!);
        const served = (await containerLogs(app)).split("\n").filter((l) => /still queued on the listener/.test(l));
        console.log(`stopping under 48 connecting clients: ${JSON.stringify(counts)}\n${served.join("\n")}`);
        recordFigure("stopUnderConnections", { outcomes: counts, servedFromQueue: served.length });
        expect(counts.answered).toBeGreaterThan(500);
        expect(counts.refused).toBeGreaterThan(0); // the stop happened while the clients ran
        expect(counts["reset after the request"] ?? 0).toBe(0);
        expect(counts["closed after the request"] ?? 0).toBe(0);
        expect(Object.keys(counts).sort()).toEqual(
            ["answered", "not connected in time", "refused"].filter((k) => k in counts),
        );
    } finally {
        await client.remove({ force: true });
    }
});
