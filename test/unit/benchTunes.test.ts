import * as fs from "fs";
import * as path from "path";
import { applyTune, imagesOf, loadTune, parseTune, Tune } from "../../bench/lib/tunes";
import { PROJECT_DIR } from "../../core/paths";
import { BENCH_IMAGES } from "../support/baseImages";
import { ProgramRun, runProgram, testConfig } from "../support/mocks";

const TUNES_DIR = path.join(PROJECT_DIR, "bench", "tunes");
const ARGS = ["NGINX_CONF", "NGINX_CONF_PER_REQUEST", "GUNICORN_CONF"] as const;
type Arg = (typeof ARGS)[number];
type Confs = Record<Arg, string>;

function confsOf(run: ProgramRun): Confs {
    const images = imagesOf(run);
    const args = { ...images.nginx.inputs.build.args, ...images.app.inputs.build.args } as Record<string, string>;
    return Object.fromEntries(ARGS.map((a) => [a, Buffer.from(args[a], "base64").toString("utf8")])) as Confs;
}

/** Lines (trimmed) only in `a`, and only in `b`. */
function diff(a: string, b: string): { removed: string[]; added: string[] } {
    const [la, lb] = [a.split("\n").map((l) => l.trim()), b.split("\n").map((l) => l.trim())];
    return { removed: la.filter((l) => !lb.includes(l)), added: lb.filter((l) => !la.includes(l)) };
}

const same = { removed: [], added: [] };
const gzipLevel = (level: number) => ({ removed: ["gzip_comp_level 1;"], added: [`gzip_comp_level ${level};`] });
const unbufferedLog = {
    removed: [
        "# Written in 64 KB batches (at least every second): one write per batch instead of per request.",
        "access_log /dev/stdout lernmanager buffer=64k flush=1s;",
    ],
    added: ["access_log /dev/stdout lernmanager;"],
};
const gunicornLog = {
    removed: [
        "# No access log of its own (config appAccessLog): nginx logs every request, with urt.",
        "accesslog = None",
    ],
    added: [
        'accesslog = "-"',
        "# Request time in microseconds (rt_us) after the usual combined-log fields, the worker, and nginx's",
        "# request id when it sends one (its traceRequests option), to join the two logs line by line.",
        `access_log_format = '%(h)s - %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" rt_us=%(D)s pid=%(p)s rid=%({x-request-id}i)s'`,
    ],
};
const noPreload = { removed: ["preload_app = True"], added: ["preload_app = False"] };
/** gunicorn with a queue per worker (appQueue per-worker) instead of one for all (the default). */
const perWorkerQueue = {
    removed: [
        "# Accept only with a thread free: waiting connections stay in the listener's queue, shared by all",
        "# workers. No keep-alive slot is left, so every connection closes after its answer.",
        "worker_connections = 2",
        "keepalive = 0",
    ],
    added: ["keepalive = 15"],
};

/** What each tune must change in the generated confs (A: as declared, B: tuned), per file in bench/tunes. */
const EXPECTED: Record<string, (a: Confs, b: Confs) => void> = {
    "gzip-level-2": (a, b) => expectDiffs(a, b, { NGINX_CONF: gzipLevel(2), NGINX_CONF_PER_REQUEST: gzipLevel(2) }),
    "gzip-level-5": (a, b) => expectDiffs(a, b, { NGINX_CONF: gzipLevel(5), NGINX_CONF_PER_REQUEST: gzipLevel(5) }),
    "lean-logs": (a, b) =>
        expectDiffs(a, b, {
            NGINX_CONF: unbufferedLog,
            NGINX_CONF_PER_REQUEST: unbufferedLog,
            GUNICORN_CONF: gunicornLog,
        }),
    "no-gzip-static": (a, b) => {
        const off = { removed: ["gzip_static on;"], added: ["gzip_static off;"] };
        expectDiffs(a, b, { NGINX_CONF: off, NGINX_CONF_PER_REQUEST: off });
    },
    "no-preload": (a, b) => expectDiffs(a, b, { GUNICORN_CONF: noPreload }),
    "trace-requests": (a, b) => {
        const proxied = (a.NGINX_CONF.match(/proxy_set_header X-Forwarded-Host /g) ?? []).length;
        const traced = {
            removed: [`'"$http_referer" "$http_user_agent" rt=$request_time urt=$upstream_response_time';`],
            added: [
                `'"$http_referer" "$http_user_agent" rt=$request_time urt=$upstream_response_time '`,
                `'rid=$request_id uct=$upstream_connect_time uht=$upstream_header_time';`,
                ...Array.from({ length: proxied }, () => "proxy_set_header X-Request-ID $request_id;"),
            ],
        };
        expectDiffs(a, b, { NGINX_CONF: traced, NGINX_CONF_PER_REQUEST: traced, GUNICORN_CONF: gunicornLog });
    },
    // The same confs (the image picks its form when it is built): only the base image differs.
    "nginx-1.22": (a, b) => {
        expectDiffs(a, b, {});
        // The image scripts/test-env.sh bench-images builds, named in one place.
        expect(loadTune(path.join(TUNES_DIR, "nginx-1.22.json")).config).toEqual({
            "lernmanager:nginxImage": BENCH_IMAGES.nginxOld,
        });
    },
    "nginx-compresses": (a, b) => {
        // Every location that proxies to the app (each has the same lines): the app gets no Accept-Encoding.
        const proxied = (a.NGINX_CONF.match(/proxy_set_header X-Forwarded-Host /g) ?? []).length;
        expect(proxied).toBeGreaterThan(1);
        const lines = [
            "# The app answers uncompressed; nginx's gzip compresses for the browsers that accept it.",
            'proxy_set_header Accept-Encoding "";',
        ];
        const added = { removed: [], added: Array.from({ length: proxied }, () => lines).flat() };
        expectDiffs(a, b, { NGINX_CONF: added, NGINX_CONF_PER_REQUEST: added });
    },
    // A (the default, appQueue shared) has the per-request form in both confs and gunicorn's shared queue.
    "per-request-upstream": (a, b) => {
        expect(b.NGINX_CONF).toBe(a.NGINX_CONF_PER_REQUEST);
        expectDiffs(a, b, { GUNICORN_CONF: perWorkerQueue });
    },
    "per-worker-queues": (a, b) => {
        expect(a.NGINX_CONF).toBe(a.NGINX_CONF_PER_REQUEST);
        expect(b.NGINX_CONF).toMatch(/^\s*upstream lm_app \{$/m);
        expectDiffs(a, b, { NGINX_CONF: diff(a.NGINX_CONF, b.NGINX_CONF), GUNICORN_CONF: perWorkerQueue });
        expect(diff(a.NGINX_CONF, b.NGINX_CONF).added).toContain("keepalive 32;");
    },
    "pool-idle-8": (a, b) => {
        expectDiffs(a, b, { NGINX_CONF: diff(a.NGINX_CONF, b.NGINX_CONF), GUNICORN_CONF: perWorkerQueue });
        expect(b.NGINX_CONF).toContain("keepalive 8;");
        expect(b.NGINX_CONF).not.toContain("keepalive 32;");
    },
    "nginx-one-worker": (a, b) => {
        const one = { removed: ["worker_processes auto;"], added: ["worker_processes 1;"] };
        expectDiffs(a, b, { NGINX_CONF: one, NGINX_CONF_PER_REQUEST: one });
    },
    "reuse-port": (a, b) => {
        const listen = { removed: ["listen 8080 default_server;"], added: ["listen 8080 default_server reuseport;"] };
        expectDiffs(a, b, { NGINX_CONF: listen, NGINX_CONF_PER_REQUEST: listen });
    },
    "workers-2x4": (a, b) =>
        expectDiffs(a, b, {
            // A worker of the shared queue accepts as many connections as it has threads.
            GUNICORN_CONF: {
                removed: ["workers = 4", "threads = 2", "worker_connections = 2"],
                added: ["workers = 2", "threads = 4", "worker_connections = 4"],
            },
        }),
    "workers-4x4": (a, b) =>
        expectDiffs(a, b, {
            GUNICORN_CONF: {
                removed: ["threads = 2", "worker_connections = 2"],
                added: ["threads = 4", "worker_connections = 4"],
            },
        }),
    "before-tuning": (a, b) => {
        expect(b.NGINX_CONF).toBe(b.NGINX_CONF_PER_REQUEST);
        const nginx = {
            removed: [...unbufferedLog.removed, ...gzipLevel(5).removed, "gzip_static on;"],
            added: [...unbufferedLog.added, ...gzipLevel(5).added, "gzip_static off;"],
        };
        expect(diff(a.NGINX_CONF_PER_REQUEST, b.NGINX_CONF_PER_REQUEST)).toEqual(nginx);
        const gunicorn = diff(a.GUNICORN_CONF, b.GUNICORN_CONF);
        const expected = [noPreload, gunicornLog, perWorkerQueue];
        expect([...gunicorn.removed].sort()).toEqual(expected.flatMap((c) => c.removed).sort());
        expect([...gunicorn.added].sort()).toEqual(expected.flatMap((c) => c.added).sort());
    },
};

function expectDiffs(a: Confs, b: Confs, changes: Partial<Record<Arg, { removed: string[]; added: string[] }>>): void {
    for (const arg of ARGS) expect({ arg, ...diff(a[arg], b[arg]) }).toEqual({ arg, ...(changes[arg] ?? same) });
}

const CONFIG = { "lernmanager:port": "8080" };

async function declared(tune?: Tune): Promise<ProgramRun> {
    const config = testConfig({ ...CONFIG, ...tune?.config });
    const run = await runProgram(config, { stack: "unit-tunes" });
    if (tune) applyTune(run, config, tune);
    return run;
}

describe("bench/tunes/*.json: typed renderer options, no text edits", () => {
    const files = fs.readdirSync(TUNES_DIR).filter((f) => f.endsWith(".json"));
    let a: Confs;
    let aBase: string;
    let aNginxImage: string;
    beforeAll(async () => {
        const run = await declared();
        a = confsOf(run);
        aBase = imagesOf(run).nginx.inputs.build.args.BASE_IMAGE as string;
        aNginxImage = imagesOf(run).nginx.inputs.imageName as string;
    });

    test("every tune file has its expected change here, and every expectation its file", () => {
        expect(files.map((f) => path.basename(f, ".json")).sort()).toEqual(Object.keys(EXPECTED).sort());
    });

    test.each(files)("%s loads, applies and changes the generated confs as intended", async (file) => {
        const tune = loadTune(path.join(TUNES_DIR, file));
        const run = await declared(tune);
        const b = confsOf(run);
        EXPECTED[path.basename(file, ".json")](a, b);
        // The containers and steps run the tuned images, under their own tags.
        const images = imagesOf(run);
        const base = images.nginx.inputs.build.args.BASE_IMAGE as string;
        expect(ARGS.some((arg) => a[arg] !== b[arg]) || base !== aBase).toBe(true);
        if (tune.config?.["lernmanager:nginxImage"]) {
            expect(base).toBe(tune.config["lernmanager:nginxImage"]);
            expect(images.nginx.inputs.imageName).not.toBe(aNginxImage);
        }
        const app = run.named("lernmanager-unit-tunes-app");
        expect(app.inputs.image).toBe(images.app.inputs.imageName);
        if (tune.gunicorn) expect(images.app.inputs.imageName).toMatch(/:tuned-[0-9a-f]{8}$/);
        if (tune.nginx) expect(images.nginx.inputs.imageName).toMatch(/:tuned-[0-9a-f]{8}$/);
        expect(run.named("lernmanager-unit-tunes-nginx").inputs.image).toBe(images.nginx.inputs.imageName);
    });

    test("refuses to tune a conf the renderer would not give for the stack's config", async () => {
        const config = testConfig(CONFIG);
        const run = await runProgram(config, { stack: "unit-tunes" });
        const args = imagesOf(run).nginx.inputs.build.args as Record<string, string>;
        const text = Buffer.from(args.NGINX_CONF, "base64")
            .toString("utf8")
            .replace("gzip_comp_level 1;", "gzip_comp_level 3;");
        args.NGINX_CONF = Buffer.from(text, "utf8").toString("base64");
        expect(() => applyTune(run, config, { description: "x", nginx: { gzipLevel: 2 } })).toThrow(
            /NGINX_CONF of .*-nginx-image is not what the renderer gives/,
        );
    });

    test.each([
        [
            { description: "old", nginx: [["gzip_comp_level 1;", "gzip_comp_level 5;"]] },
            /"nginx" must be an object of options/,
        ],
        [
            { description: "x", nginx: { gzip_comp_level: 5 } },
            /nginx\.gzip_comp_level is not an option; known: gzipLevel/,
        ],
        [{ description: "x", gunicorn: { preloadApp: "no" } }, /gunicorn\.preloadApp must be a boolean/],
        [{ description: "x", nginx: { form: "pool" } }, /nginx\.form must be "pooled" or "per-request"/],
        [{ description: "x", nginx: { gzipLevel: 1.5 } }, /nginx\.gzipLevel must be a number/],
        [{ description: "x", config: { "lernmanager:workers": 2 } }, /"config" maps Pulumi keys to strings/],
        [{ nginx: { gzipLevel: 2 } }, /"description" is required/],
        [{ description: "x" }, /changes nothing/],
        [{ description: "x", gzip: 1 }, /"gzip" is not part of a tune/],
    ])("refuses %j", (json, message) => {
        expect(() => parseTune(json, "t.json")).toThrow(message);
    });
});
