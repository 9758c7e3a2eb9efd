import { spawnSync } from "child_process";
import { TEST_NGINX_SETTINGS } from "../support/nginx";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { GUNICORN_DEFAULTS, renderGunicornConf } from "../../render/gunicorn";
import { NginxSettings, renderNginxConf, renderNginxConfs } from "../../render/nginx";
import { POOLED_MIN_NGINX_VERSION, UPSTREAM_POOL } from "../../render/upstream";
import { CONTAINERS_DIR } from "../../core/paths";
import { nginxConfForms } from "../../render/web";

const settings: NginxSettings = TEST_NGINX_SETTINGS;
const confs = renderNginxConfs(settings);

/** The proxying locations of a config: `/`, the login page and the retry. */
function proxyLocations(conf: string): string[] {
    return ["location / {", "location = /login {", "location @lm_retry {"].map((start) => {
        const i = conf.indexOf(start);
        if (i < 0) throw new Error(`no ${start}`);
        return conf.slice(i, conf.indexOf("\n        }\n", i));
    });
}

describe("the pooled upstream (nginx >= 1.27.3)", () => {
    const pooled = confs.pooled;

    test("an upstream block re-resolves the app alias through Docker's DNS and pools idle connections", () => {
        const block = /upstream lm_app \{([^}]*)\}/.exec(pooled)![1];
        expect(block).toContain("zone lm_app 64k;");
        expect(block).toContain("server app:8000 resolve max_fails=0;");
        expect(block).toContain(`keepalive ${UPSTREAM_POOL.idleConnections};`);
        expect(block).toContain(`keepalive_timeout ${UPSTREAM_POOL.idleTimeoutSeconds}s;`);
        // resolve needs a resolver at http level.
        expect(pooled).toContain("resolver 127.0.0.11 valid=2s ipv6=off;");
    });

    test("every proxying location uses the pool: HTTP/1.1, empty Connection header, same retries", () => {
        for (const loc of proxyLocations(pooled)) {
            expect(loc).toContain("proxy_pass http://lm_app;");
            expect(loc).toContain("proxy_http_version 1.1;");
            expect(loc).toContain('proxy_set_header Connection "";');
            expect(loc).not.toContain("Connection close");
            expect(loc).not.toContain("$lm_app");
            expect(loc).toContain("proxy_next_upstream error timeout;");
            expect(loc).not.toContain("non_idempotent");
        }
    });

    test("nginx ends idle connections before gunicorn would, and a stopping worker outlasts nginx's idle timeout", () => {
        expect(GUNICORN_DEFAULTS.keepaliveSeconds).toBeGreaterThan(UPSTREAM_POOL.idleTimeoutSeconds * 2);
        const gunicorn = renderGunicornConf({ workers: 4, threads: 2 });
        expect(gunicorn).toContain(`keepalive = ${GUNICORN_DEFAULTS.keepaliveSeconds}`);
        const linger = Number(/^lm_idle\.IDLE_LINGER_SECONDS = (\d+)$/m.exec(gunicorn)![1]);
        expect(linger).toBeGreaterThan(UPSTREAM_POOL.idleTimeoutSeconds);
    });

    test("one more attempt for any request the app received nothing of, and for a GET/HEAD without an answer", () => {
        const map = /map "\$request_method\|\$upstream_status\|\$upstream_bytes_sent" \$lm_retry_ok \{([^}]*)\}/.exec(
            pooled,
        )![1];
        const rules = [...map.matchAll(/"~([^"]+)" 1;/g)].map((m) => new RegExp(m[1]));
        const retried = (key: string) => rules.some((r) => r.test(key));
        expect(retried("POST|504|0")).toBe(true); // connect timed out: nothing sent
        expect(retried("POST|502, 502|0, 0")).toBe(true);
        expect(retried("POST|504 : 502|0 : 0")).toBe(true);
        expect(retried("POST|502|318")).toBe(false); // sent: the app may have processed it
        expect(retried("POST|504, 502|0, 318")).toBe(false);
        expect(retried("GET|502|120")).toBe(true);
        expect(retried("HEAD|504, 502|0, 120")).toBe(true);
        expect(retried("GET|504|120")).toBe(false); // read timeout: not again
        for (const loc of proxyLocations(pooled).slice(0, 2)) {
            expect(loc).toContain("error_page 502 504 = @lm_retry;");
            expect(loc).toContain("error_page 503 =503 /lernmanager-unavailable.html;");
        }
        expect(proxyLocations(pooled)[2]).toMatch(/if \(\$lm_retry_ok = 0\) \{\s*return 503;/);
    });

    test("differs from the per-request form only in how the app is reached", () => {
        // Both have the same retry map, error pages and @lm_retry guard; only the upstream block
        // and the lines that reach the app differ.
        const strip = (c: string) =>
            c
                .replace(/\n    # The app by its network alias[\s\S]*?\n    \}\n/, "")
                .replace(
                    /\n {12}(set \$lm_app|proxy_pass|proxy_set_header Connection|# (No upstream|upstream connection|The connection goes)).*/g,
                    "",
                );
        expect(strip(pooled)).toEqual(strip(confs["per-request"]));
    });
});

describe("the per-request form (older nginx)", () => {
    test("is what renderNginxConf gives by default: a variable, a new connection per request, no upstream block", () => {
        const per = confs["per-request"];
        expect(per).toEqual(renderNginxConf(settings));
        expect(per).not.toMatch(/^\s*upstream\s/m);
        for (const loc of proxyLocations(per)) {
            expect(loc).toContain("set $lm_app http://app:8000;");
            expect(loc).toContain("proxy_pass $lm_app;");
            expect(loc).toContain("proxy_set_header Connection close;");
        }
    });

    test("retries like the pooled form: any request the app received nothing of, and a GET/HEAD without an answer", () => {
        const per = confs["per-request"];
        expect(per).toContain('map "$request_method|$upstream_status|$upstream_bytes_sent" $lm_retry_ok {');
        const [root, , retry] = proxyLocations(per);
        expect(root).toContain("error_page 502 504 = @lm_retry;");
        expect(root).toContain("error_page 503 =503 /lernmanager-unavailable.html;");
        expect(retry).toMatch(/if \(\$lm_retry_ok = 0\) \{\s*return 503;/);
        expect(retry).not.toContain("$request_method !~");
    });
});

describe("containers/web/select-conf.sh (the nginx image picks the form by its nginx version)", () => {
    const script = path.join(CONTAINERS_DIR, "web", "select-conf.sh");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-select-"));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, "pooled"), confs.pooled);
    fs.writeFileSync(path.join(dir, "per"), confs["per-request"]);

    test.each([
        ["nginx version: nginx/1.22.1", "per-request"],
        ["nginx version: nginx/1.27.2", "per-request"],
        ["nginx version: nginx/1.27.3", "pooled"],
        ["nginx version: nginx/1.28.0", "pooled"],
        ["nginx version: nginx/1.30.6 (Debian)", "pooled"],
        ["nginx version: nginx/1.100.0", "pooled"],
        ["nginx version: nginx/0.99.99", "per-request"],
    ])("%s -> %s", (version, form) => {
        const target = path.join(dir, `out-${form}-${version.replace(/\W/g, "")}`);
        const r = spawnSync("sh", [script, path.join(dir, "pooled"), path.join(dir, "per"), target], {
            encoding: "utf8",
            env: { ...process.env, NGINX_VERSION: version },
        });
        expect(r.status).toBe(0);
        expect(r.stdout.trim()).toBe(form);
        expect(fs.readFileSync(target, "utf8")).toBe(form === "pooled" ? confs.pooled : confs["per-request"]);
    });

    test("with one queue for all workers (appQueue shared) both confs are per-request, and it says so on any nginx", () => {
        const shared = nginxConfForms(settings, "shared");
        expect(shared.nginxConf).toBe(confs["per-request"]);
        expect(shared.nginxConfPerRequest).toBe(confs["per-request"]);
        const perWorker = nginxConfForms(settings, "per-worker");
        expect(perWorker).toEqual({ nginxConf: confs.pooled, nginxConfPerRequest: confs["per-request"] });
        fs.writeFileSync(path.join(dir, "shared"), shared.nginxConf);
        const target = path.join(dir, "out-shared");
        const r = spawnSync("sh", [script, path.join(dir, "shared"), path.join(dir, "per"), target], {
            encoding: "utf8",
            env: { ...process.env, NGINX_VERSION: "nginx version: nginx/1.30.0" },
        });
        expect(r.status).toBe(0);
        expect(r.stdout.trim()).toBe("per-request");
        expect(fs.readFileSync(target, "utf8")).toBe(confs["per-request"]);
    });

    test("compares with the same first pooled version as render/upstream.ts", () => {
        expect(fs.readFileSync(script, "utf8")).toContain(`printf '${POOLED_MIN_NGINX_VERSION}\\n%s\\n'`);
    });

    test("fails the build when it cannot read a version", () => {
        const r = spawnSync("sh", [script, "a", "b", path.join(dir, "x")], {
            encoding: "utf8",
            env: { ...process.env, NGINX_VERSION: "something else" },
        });
        expect(r.status).not.toBe(0);
        expect(r.stderr).toContain("cannot read the nginx version");
    });
});
