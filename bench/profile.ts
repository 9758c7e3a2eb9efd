/**
 * cProfile (thread CPU time) of the app under gunicorn as declared (the baked gunicorn.conf.py, one
 * worker), every request thread included, while wrk drives one workload at it directly for a few seconds. Each
 * request carries `Connection: close`, like nginx's requests to gunicorn, so connection handling is
 * in the profile too. Prints where a request's CPU time goes, by package and by function.
 *
 *   npx ts-node bench/profile.ts [--workload login] [--seconds 8]
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { freePort, request } from "../test/support/http";
import { buildDeclared, declare } from "./lib/declare";
import {
    BENCH_LABEL,
    cleanupAll,
    docker,
    OBJECT_PREFIX,
    onCleanup,
    removeContainer,
    runOnce,
    STACK_PREFIX,
    sweepLeftovers,
} from "./lib/docker";
import { WorkloadName, WORKLOADS } from "./lib/options";
import { loginStudents } from "./lib/sessions";
import { BROWSER_HEADERS, WORKLOAD_DEFS, WRITE_EVERY } from "./lib/workloads";
import { runWrk } from "./lib/wrk";
import { log, sleep } from "./lib/util";

// Wraps the baked config: one worker, and a cProfile per thread (started by a one-shot profile hook
// in each new thread), all added up and dumped when the worker exits.
const PROFILE_CONF = `
exec(open("/opt/lernmanager/gunicorn.conf.py").read())
workers = 1
import cProfile, os, threading, time
_profiles = []
_lock = threading.Lock()
def _start(frame, event, arg):
    # CPU time of the thread, not wall time: waiting for the GIL or a core does not count.
    p = cProfile.Profile(time.thread_time)
    with _lock:
        _profiles.append(p)
    p.enable()
def post_fork(server, worker):
    threading.setprofile(_start)
    _start(None, None, None)
def worker_exit(server, worker):
    import pstats
    for p in _profiles:
        p.disable()
    stats = pstats.Stats(*_profiles)
    stats.dump_stats("/prof/worker.prof")
`;

const REPORT_PY = `
import pstats, sys, collections
s = pstats.Stats("/prof/worker.prof")
requests = int(sys.argv[1])
def package(filename):
    for key in ("gunicorn", "werkzeug", "flask_caching", "flask", "jinja2", "reportlab", "sqlite3", "logging", "selectors", "concurrent", "socket", "json"):
        if "/" + key + "/" in filename or filename.endswith("/" + key + ".py"):
            return key
    if filename.startswith("/app/"):
        return "app (/app)"
    if "/opt/lernmanager/" in filename:
        return "stack wrapper (lm_wsgi)"
    if filename == "~":
        return "builtins (C)"
    return "other stdlib"
by = collections.Counter()
idle = 0.0
for (filename, line, name), (cc, nc, tt, ct, callers) in s.stats.items():
    if name in ("<method 'poll' of 'select.epoll' objects>", "<method 'acquire' of '_thread.lock' objects>",
                "<method 'get' of '_queue.SimpleQueue' objects>", "<built-in method time.sleep>",
                "<built-in method _thread.start_new_thread>"):
        idle += tt
        continue
    by[package(filename)] += tt
busy = sum(by.values())
print("requests: %d, thread CPU per request: %.3f ms (poll/queue/lock waits excluded: %.1f s)" % (requests, 1000 * busy / max(requests, 1), idle))
for pkg, tt in by.most_common():
    print("  %-24s %6.3f ms/request  %5.1f %%" % (pkg, 1000 * tt / max(requests, 1), 100 * tt / busy))
print()
s.sort_stats("tottime").print_stats(18)
`;

async function main(): Promise<void> {
    const args = process.argv.slice(2);
    const workload = (args[args.indexOf("--workload") + 1] ?? "login") as WorkloadName;
    const seconds = Number(args.includes("--seconds") ? args[args.indexOf("--seconds") + 1] : 8);
    if (!WORKLOADS.includes(workload)) throw new Error(`unknown workload ${workload}`);
    await sweepLeftovers();
    const built = await buildDeclared(await declare(`${STACK_PREFIX}profile`, 8080));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lmbench-prof-"));
    fs.chmodSync(dir, 0o777);
    onCleanup(`folder ${dir}`, async () => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, "profile.conf.py"), PROFILE_CONF);
    fs.writeFileSync(path.join(dir, "report.py"), REPORT_PY);
    const port = await freePort();
    const container = await docker.createContainer({
        name: `${OBJECT_PREFIX}profile`,
        Image: built.ids.app,
        Env: ["SECRET_KEY=profile"],
        Labels: { [BENCH_LABEL]: "profile" },
        Entrypoint: [
            "sh",
            "-c",
            "python3 -OO /opt/lernmanager/lm_init.py && exec python3 -OO -m gunicorn --config /prof/profile.conf.py " +
                "--pythonpath /opt/lernmanager,/app lm_wsgi:application",
        ],
        ExposedPorts: { "8000/tcp": {} },
        HostConfig: {
            Binds: [`${dir}:/prof`],
            PortBindings: { "8000/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] },
        },
    });
    onCleanup("container lmbench-profile", () => removeContainer(container.id));
    await container.start();
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
        const ok = await request(port, "/login").then(
            (r) => r.status === 200,
            () => false,
        );
        if (ok) break;
        await sleep(100);
    }
    const cookies = await loginStudents(container);
    const w = WORKLOAD_DEFS[workload];
    await w.preflight(port, cookies[0]);
    const r = await runWrk({
        port,
        path: w.path,
        mode: w.mode,
        cookies,
        headers: { ...BROWSER_HEADERS, Connection: "close" },
        writeEvery: WRITE_EVERY,
        connections: 4,
        seconds,
    });
    log(`${workload}: ${r.requests} requests, ${r.rps.toFixed(0)} req/s; stopping gunicorn to write the profile`);
    await container.stop({ t: 30 });
    const report = await runOnce(built.ids.app, ["python3", "/prof/report.py", String(r.requests)], undefined, [
        `${dir}:/prof`,
    ]);
    process.stdout.write(report.output);
}

main()
    .catch((e: Error) => {
        log(`profile failed: ${e.stack ?? e.message}`);
        process.exitCode = 1;
    })
    .finally(() => cleanupAll());
