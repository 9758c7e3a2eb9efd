import { spawnSync } from "child_process";
import { gunicornSettingsFrom, renderGunicornConf } from "../../render/gunicorn";
import { renderNginxConfs } from "../../render/nginx";
import { nginxConfArgs, nginxSettingsFrom } from "../../render/web";
import { load, problems } from "../support/config";

describe("renderGunicornConf", () => {
    const conf = renderGunicornConf({ workers: 4, threads: 2 });

    test("gthread (the draining subclass) with the configured workers and threads, bound to the private port", () => {
        expect(conf).toContain('worker_class = "lm_drain.DrainingThreadWorker"');
        expect(conf).toContain("workers = 4");
        expect(conf).toContain("threads = 2");
        expect(conf).toContain('bind = ["0.0.0.0:8000"]');
    });

    test("timeouts suit 60 s outbound calls, with a graceful stop", () => {
        expect(Number(/^timeout = (\d+)/m.exec(conf)![1])).toBeGreaterThanOrEqual(120);
        expect(conf).toContain("graceful_timeout = 30");
    });

    test("no access log of its own by default (nginx logs every request); with accessLog, to stdout with rt_us", () => {
        expect(conf).toContain("accesslog = None");
        expect(conf).not.toContain("access_log_format");
        const logged = renderGunicornConf({ workers: 4, threads: 2, accessLog: true });
        expect(logged).toContain('accesslog = "-"');
        expect(logged).toMatch(/access_log_format = '.*rt_us=%\(D\)s/);
        expect(logged).not.toContain("accesslog = None");
    });

    test("worker heartbeat on the tmpfs (read-only root)", () => {
        expect(conf).toContain('worker_tmp_dir = "/tmp"');
    });

    test("lingers after closing its listeners so nginx retries instead of timing out", () => {
        expect(conf).toMatch(/def on_exit\(server\):\n(\s+#.*\n)+\s+time\.sleep\(5\)/);
    });

    test("holds each response's head back until its body (lm_whole_head, from the runtime folder)", () => {
        expect(conf).toContain('sys.path.insert(0, os.environ.get("LM_RUNTIME_DIR", "/opt/lernmanager"))');
        expect(conf).toMatch(/^import lm_whole_head.*\n\nlm_whole_head\.install\(\)$/m);
    });

    test("the init hook again in every worker after the fork only when asked (initInWorkers)", () => {
        expect(conf).not.toContain("def post_fork");
        const perWorker = renderGunicornConf({ workers: 4, threads: 2, initHookInWorkers: true });
        expect(perWorker).toMatch(
            /^def post_fork\(server, worker\):\n(\s+#.*\n)+\s+import lm_init\n\n\s+lm_init\.run_in_worker\(\)$/m,
        );
        // Its per-process threads (the analytics writer) get a moment after the last request
        // before the worker's interpreter exits; without them, a worker exits at once.
        expect(conf).not.toContain("def worker_exit");
        expect(perWorker).toMatch(/^def worker_exit\(server, worker\):\n(\s+#.*\n)+\s+time\.sleep\(1\)$/m);
        // Still valid Python (gunicorn's own parser is Python's).
        expect(
            spawnSync("python3", ["-c", "import ast,sys; ast.parse(sys.stdin.read())"], {
                input: perWorker,
            }).status,
        ).toBe(0);
    });

    test("the listener is drained only when the whole server stops (the master marks it)", () => {
        expect(conf).toMatch(/^import lm_drain.*\n\nlm_drain\.install_stop_marker\(\)$/m);
    });

    test("rejects impossible values", () => {
        expect(() => renderGunicornConf({ workers: 0, threads: 2 })).toThrow(/workers must be a positive whole number/);
        expect(() => renderGunicornConf({ workers: 2, threads: 1.5 })).toThrow(/threads/);
    });

    test("is stable (snapshot)", () => {
        expect(conf).toMatchSnapshot();
    });
});

describe("appQueue: where a request waits for a free thread", () => {
    test("shared by default: gunicorn accepts only with a thread free, and nginx gets the per-request form for every nginx", () => {
        const config = load({});
        expect(config.appQueue).toBe("shared");
        const conf = renderGunicornConf(gunicornSettingsFrom(config));
        expect(conf).toMatch(/^worker_connections = 2$/m);
        expect(conf).toMatch(/^keepalive = 0$/m);
        const forms = renderNginxConfs(nginxSettingsFrom(config));
        expect(nginxConfArgs(config)).toEqual({
            nginxConf: forms["per-request"],
            nginxConfPerRequest: forms["per-request"],
        });
        // worker_connections follows the threads.
        expect(renderGunicornConf(gunicornSettingsFrom(load({ threads: "6" })))).toMatch(/^worker_connections = 6$/m);
    });

    test("per-worker: gunicorn keeps its keep-alive, nginx >= 1.27.3 gets the pool", () => {
        const config = load({ appQueue: "per-worker" });
        const conf = renderGunicornConf(gunicornSettingsFrom(config));
        expect(conf).not.toContain("worker_connections");
        expect(conf).toMatch(/^keepalive = 15$/m);
        const forms = renderNginxConfs(nginxSettingsFrom(config));
        expect(nginxConfArgs(config)).toEqual({ nginxConf: forms.pooled, nginxConfPerRequest: forms["per-request"] });
    });

    test("anything else is refused before any resource, naming the key and the fix", () => {
        expect(problems({ appQueue: "fair" })).toEqual([
            'lernmanager:appQueue = "fair": must be one of shared, per-worker. Fix: `pulumi config set appQueue shared`',
        ]);
    });
});
