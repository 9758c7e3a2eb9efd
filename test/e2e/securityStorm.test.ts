/**
 * Upload storms on the real engine (stack `e2e-sec-storm`). Twenty anonymous 64 MiB POSTs at a time
 * to an upload path while a class of 30 logs in and browses from the same address: nginx refuses
 * them before taking in their bodies (no session), stays up, and the class sees no error. Twenty of
 * a student's 64 MiB uploads at once: all taken, the bodies spooled on disk, nginx's own memory
 * small. Outside the upload paths a body over 1 MiB is refused at once.
 */
import * as http from "http";
import { csrfHeaders, login, request } from "../support/http";
import { runLoad } from "../support/load";
import { liveStack, type LiveStack } from "../support/stack";
import { recordFigure } from "../support/figures";

jest.setTimeout(900000);

const MIB = 1024 * 1024;
let s: LiveStack;
beforeAll(async () => {
    s = await liveStack("e2e-sec-storm", {});
});
afterAll(async () => {
    await s?.realization.teardown();
});

/** One multipart POST of `total` bytes, streamed from a 1 MiB buffer (the test holds no 64 MiB). */
function bigPost(port: number, path: string, total: number, cookie = ""): Promise<string> {
    const boundary = "lmstorm4c1d";
    const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="storm.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const chunk = Buffer.alloc(MIB, 0x61);
    return new Promise((resolve) => {
        const req = http.request(
            {
                host: "127.0.0.1",
                port,
                path,
                method: "POST",
                agent: false,
                timeout: 300000,
                headers: {
                    "Content-Type": `multipart/form-data; boundary=${boundary}`,
                    "Content-Length": total,
                    // A logged-in student's upload carries the session's CSRF token, as the page's script sends it.
                    ...(cookie ? csrfHeaders(cookie) : {}),
                },
            },
            (res) => {
                res.resume();
                res.on("end", () => resolve(String(res.statusCode)));
                res.on("error", (e) => resolve(`error ${e.message}`));
            },
        );
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
        let left = total - head.length - tail.length;
        req.write(head);
        const pump = () => {
            while (left > 0) {
                const n = Math.min(left, chunk.length);
                left -= n;
                if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
                    req.once("drain", pump);
                    return;
                }
            }
            req.end(tail);
        };
        pump();
    });
}

/** nginx's memory while `until` runs: the cgroup's peak usage and its anonymous (non-file) memory. */
async function sampleMemory(until: Promise<unknown>): Promise<{ peakUsageMb: number; peakAnonMb: number }> {
    let done = false;
    void until.finally(() => (done = true));
    let peakUsage = 0;
    let peakAnon = 0;
    while (!done) {
        const st = (await s.nginx().stats({ stream: false })) as unknown as {
            memory_stats: { usage?: number; stats?: Record<string, number> };
        };
        const m = st.memory_stats;
        peakUsage = Math.max(peakUsage, m.usage ?? 0);
        peakAnon = Math.max(peakAnon, m.stats?.anon ?? m.stats?.rss ?? m.stats?.total_rss ?? 0);
        await new Promise((r) => setTimeout(r, 300));
    }
    return { peakUsageMb: Math.round(peakUsage / MIB), peakAnonMb: Math.round(peakAnon / MIB) };
}

/** The session cookie of a student (uploads need one). */
const studentSession = () => login(s.port, "student30", "lernen");

test("a body over 1 MiB outside the upload paths is refused (413); an anonymous upload too (401); a student's 64 MiB upload is taken", async () => {
    const big = "x".repeat(2 * MIB);
    for (const p of ["/login", "/tasks/1/done", "/"]) {
        const res = await request(s.port, p, {
            method: "POST",
            headers: { "Content-Type": "application/x-www-form-urlencoded" },
            body: big,
        }).catch((e: Error) => ({ status: e.message }));
        expect({ p, status: res.status }).toEqual({ p, status: 413 });
    }
    expect(await bigPost(s.port, "/upload", 2 * MIB)).toMatch(/^(401|error (ECONNRESET|EPIPE))$/);
    expect(await bigPost(s.port, "/upload", 64 * MIB - 4096, await studentSession())).toBe("200");
});

test("20 anonymous 64 MiB uploads at a time while a class of 30 logs in and browses: 0 errors for the class, nginx up", async () => {
    const t0 = Date.now();
    let stop = false;
    const outcomes: Record<string, number> = {};
    // Twenty attackers, each sending its next 64 MiB upload as soon as the last one was answered.
    const storm = Promise.all(
        Array.from({ length: 20 }, async () => {
            while (!stop) {
                const st = await bigPost(s.port, "/upload", 64 * MIB - 4096);
                outcomes[st] = (outcomes[st] ?? 0) + 1;
            }
        }),
    );
    const classErrors: string[] = [];
    const load = await (async () => {
        await new Promise((r) => setTimeout(r, 500)); // the storm is under way
        const cookies = await Promise.all(
            Array.from({ length: 30 }, (_, i) =>
                login(s.port, `student${String(i + 1).padStart(2, "0")}`, "lernen").catch((e: Error) => {
                    classErrors.push(`login: ${e.message}`);
                    return "";
                }),
            ),
        );
        return runLoad({ port: s.port, connections: 30, durationMs: 20000, cookies: cookies.filter(Boolean) });
    })();
    stop = true;
    await storm;
    const nginx = await s.nginx().inspect();
    const figure = {
        anonymousUploads: Object.values(outcomes).reduce((a, b) => a + b, 0),
        anonymousOutcomes: outcomes,
        classLogins: 30,
        classRequests: load.requests,
        classErrors: classErrors.length + load.failed,
        classFailures: load.failures,
        classP99Ms: load.p99Ms,
        nginxRestarts: nginx.RestartCount,
        seconds: (Date.now() - t0) / 1000,
    };
    console.log(`anonymous upload storm: ${JSON.stringify(figure)}`);
    recordFigure("anonymousUploadStorm", figure);

    expect(nginx.State.Running).toBe(true);
    expect(nginx.RestartCount).toBe(0);
    expect(classErrors).toEqual([]);
    expect(load.failures).toEqual({});
    expect(load.requests).toBeGreaterThan(300);
    expect(figure.anonymousUploads).toBeGreaterThanOrEqual(20);
    for (const outcome of Object.keys(outcomes)) expect(outcome).toMatch(/^(401|error (ECONNRESET|EPIPE))$/);
});

test("20 of a student's 64 MiB uploads at once: all taken, the bodies wait on disk, nginx's own memory stays small", async () => {
    const cookie = await studentSession();
    const t0 = Date.now();
    const storm = Promise.all(Array.from({ length: 20 }, () => bigPost(s.port, "/upload", 64 * MIB - 4096, cookie)));
    const memory = await sampleMemory(storm);
    const statuses = await storm;
    const byStatus: Record<string, number> = {};
    for (const st of statuses) byStatus[st] = (byStatus[st] ?? 0) + 1;
    const nginx = await s.nginx().inspect();
    const figure = {
        uploads: statuses.length,
        uploadStatuses: byStatus,
        nginxPeakMemoryMb: memory.peakUsageMb,
        nginxPeakAnonMemoryMb: memory.peakAnonMb,
        nginxMemoryLimitMb: Math.round((nginx.HostConfig.Memory ?? 0) / MIB),
        nginxRestarts: nginx.RestartCount,
        seconds: (Date.now() - t0) / 1000,
    };
    console.log(`upload storm with a session: ${JSON.stringify(figure)}`);
    recordFigure("sessionUploadStorm", figure);
    expect(byStatus).toEqual({ "200": 20 });
    expect(nginx.State.Running).toBe(true);
    expect(nginx.State.OOMKilled).toBe(false);
    expect(nginx.RestartCount).toBe(0);
    // The page cache of the spooled files counts in the cgroup's usage (reclaimable); nginx's own
    // (anonymous) memory is what a body in memory would have grown.
    expect(memory.peakAnonMb).toBeLessThan(128);
    expect((await request(s.port, "/nginx-health")).status).toBe(200);
});
