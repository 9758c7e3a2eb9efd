import { spawnSync } from "child_process";
import { TEST_NGINX_SETTINGS } from "../support/nginx";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { nginxTest, nginxAtLeast } from "../support/nginxCheck";
import { POOLED_MIN_NGINX_VERSION } from "../../render/upstream";
import { GZIP_TYPES, NginxSettings, renderNginxConf, uploadPathRegex } from "../../render/nginx";

const settings: NginxSettings = TEST_NGINX_SETTINGS;
const conf = renderNginxConf(settings);

/** The body of the first `location <match> {` block (nested blocks included). */
function location(text: string, match: string): string {
    const start = text.indexOf(`location ${match} {`);
    if (start < 0) throw new Error(`no location ${match}`);
    let depth = 0;
    for (let i = text.indexOf("{", start); i < text.length; i++) {
        if (text[i] === "{") depth++;
        if (text[i] === "}" && --depth === 0) return text.slice(start, i + 1);
    }
    throw new Error("unbalanced braces");
}

describe("renderNginxConf", () => {
    test("serves static files from the static volume with a 30-day expiry", () => {
        const block = location(conf, "^~ /static/");
        expect(block).toContain("alias /srv/static/;");
        expect(block).toContain("expires 30d;");
        expect(block).toContain("gzip_static on;");
        expect(block).not.toContain("proxy_pass");
    });

    test("logs every request with the time it waited for the app, in batches", () => {
        expect(conf).toMatch(/log_format lernmanager '[^;]*urt=\$upstream_response_time';/);
        expect(conf).toContain("access_log /dev/stdout lernmanager buffer=64k flush=1s;");
    });

    test("compresses HTML, CSS, both JavaScript types, JSON and SVG", () => {
        expect(conf).toMatch(/^\s*gzip on;/m);
        const types = /gzip_types ([^;]+);/.exec(conf)![1].split(" ");
        for (const t of [
            "text/css",
            "application/javascript",
            "text/javascript",
            "application/json",
            "image/svg+xml",
        ]) {
            expect(types).toContain(t);
        }
        // text/html is always compressed once gzip is on; listing it again makes nginx warn.
        expect(types).not.toContain("text/html");
        expect(GZIP_TYPES).toContain("text/javascript");
        expect(conf).toContain("gzip_proxied any;");
    });

    test("proxies to the app alias, resolved at request time through Docker's DNS", () => {
        expect(conf).toContain("resolver 127.0.0.11 valid=2s ipv6=off;");
        const root = location(conf, "/");
        expect(root).toContain("set $lm_app http://app:8000;");
        expect(root).toContain("proxy_pass $lm_app;");
        // No static upstream block: nginx must start and stay up while the app is unreachable.
        expect(conf).not.toMatch(/^\s*upstream\s/m);
    });

    test("overwrites X-Forwarded-For and X-Real-IP with the peer address", () => {
        const root = location(conf, "/");
        expect(root).toContain("proxy_set_header X-Forwarded-For $remote_addr;");
        expect(root).toContain("proxy_set_header X-Real-IP $remote_addr;");
        expect(conf).not.toContain("$proxy_add_x_forwarded_for");
    });

    test("small bodies everywhere, the upload limit only on the upload paths, and waits long enough for slow requests", () => {
        expect(conf).toMatch(/^    client_max_body_size 1024k;$/m);
        const uploads = location(conf, "~ ^(/upload)$");
        expect(uploads).toContain("client_max_body_size 64m;");
        expect(uploads).toContain("proxy_pass $lm_app;");
        expect(location(conf, "/")).not.toContain("client_max_body_size");
        expect(location(conf, "= /login")).not.toContain("client_max_body_size");
        const timeout = Number(/proxy_read_timeout (\d+)s;/.exec(conf)![1]);
        expect(timeout).toBeGreaterThanOrEqual(120);
    });

    test("upload paths: * is any text within one segment, dots are literal", () => {
        expect(uploadPathRegex("/admin/thema/*/material-upload")).toBe("/admin/thema/[^/]*/material-upload");
        expect(uploadPathRegex("/schueler/thema/*/aufgabe-*/abgabe-pruefen")).toBe(
            "/schueler/thema/[^/]*/aufgabe-[^/]*/abgabe-pruefen",
        );
        expect(uploadPathRegex("/a.json")).toBe("/a\\.json");
        expect(() => uploadPathRegex("/x$(y)")).toThrow(/bad upload path/);
        const two = renderNginxConf({ ...settings, uploadPaths: ["/upload", "/admin/thema/*/material-upload"] });
        expect(two).toContain("location ~ ^(/upload|/admin/thema/[^/]*/material-upload)$ {");
    });

    test("an upload without the app's session cookie is refused before its body is read", () => {
        const gated = renderNginxConf({ ...settings, sessionCookie: "session" });
        expect(location(gated, "~ ^(/upload)$")).toMatch(/if \(\$cookie_session = ""\) \{\s*return 401;/);
        expect(conf).not.toContain("$cookie_");
        expect(() => renderNginxConf({ ...settings, sessionCookie: "a b" })).toThrow(/sessionCookie/);
    });

    test("request bodies and large answers wait on the spool volume, not in the memory-backed /tmp", () => {
        expect(conf).toContain("client_body_temp_path /srv/nginx-spool/body 1 2;");
        expect(conf).toContain("proxy_temp_path /srv/nginx-spool/proxy 1 2;");
        expect(conf).not.toMatch(/client_body_temp_path \/tmp/);
    });

    test("open connections per client address are limited (a class behind one NAT address fits)", () => {
        expect(conf).toContain("limit_conn_zone $binary_remote_addr zone=lm_addr:10m;");
        expect(conf).toContain("limit_conn lm_addr 200;");
        expect(conf).toContain("limit_conn_status 429;");
        expect(renderNginxConf({ ...settings, connectionsPerAddress: 50 })).toContain("limit_conn lm_addr 50;");
    });

    test("serves X-Accel-Redirect downloads from the uploads volume, internal only", () => {
        const block = location(conf, "^~ /protected-files/");
        expect(block).toContain("internal;");
        expect(block).toContain("alias /srv/uploads/;");
    });

    test("retries a request that got no answer: on the other app container, and once more for GET/HEAD or when the app received nothing", () => {
        const root = location(conf, "/");
        expect(root).toContain("proxy_next_upstream error timeout;");
        expect(root).toContain("proxy_next_upstream_timeout 10s;");
        expect(root).not.toContain("non_idempotent");
        expect(root).toContain("error_page 502 504 = @lm_retry;");
        const retry = location(conf, "@lm_retry");
        expect(retry).toMatch(/if \(\$lm_retry_ok = 0\) \{\s*return 503;/);
        expect(retry).toContain("proxy_pass $lm_app;");
        expect(retry).toContain("error_page 502 503 504 =503 /lernmanager-unavailable.html;");
        expect(retry).not.toContain("@lm_retry;");
    });

    test("/healthz answers only the stack's own addresses (start.sh writes them from its routes)", () => {
        const block = location(conf, "= /healthz");
        expect(block).toMatch(/include \/tmp\/nginx-internal\.conf;\s*deny all;/);
        expect(block).toContain("proxy_pass $lm_app;");
        // Retried like a page: a request that met a removed container's address is not a sick app.
        expect(block).toContain("error_page 502 504 = @lm_retry;");
        const start = fs.readFileSync(path.join(__dirname, "../../containers/web/start.sh"), "utf8");
        expect(start).toContain("} > /tmp/nginx-internal.conf");
        // The script's own lines, run here against a route table: loopback and the gateway-less subnets.
        const script = start.slice(start.indexOf("hex_ip()"), start.indexOf("} > /tmp/nginx-internal.conf") + 1);
        const routes = [
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
            "eth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\t0\t0\t0",
            "eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0",
        ].join("\n");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-routes-"));
        try {
            fs.writeFileSync(path.join(dir, "route"), routes + "\n");
            const out = spawnSync("bash", ["-c", script.replace("/proc/net/route", path.join(dir, "route"))], {
                encoding: "utf8",
            });
            expect(out.stdout).toBe("allow 127.0.0.1;\nallow 172.18.0.0/16;\n");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("has its own health endpoint and a friendly page for 502/503/504", () => {
        expect(location(conf, "= /nginx-health")).toContain("return 200");
        expect(conf).toContain("error_page 502 503 504 =503 /lernmanager-unavailable.html;");
    });

    test("hardening: no version, no listings, no dotfiles, security headers only where the app set none", () => {
        expect(conf).toContain("server_tokens off;");
        expect(conf).toContain("autoindex off;");
        expect(conf).toMatch(/location ~ \/\\\.\(\?!well-known\/\) \{\s*return 404;/);
        expect(conf).toMatch(
            /map \$upstream_http_x_frame_options \$lm_x_frame_options \{\s*"" "SAMEORIGIN";\s*default "";/,
        );
        expect(conf).toContain("add_header X-Content-Type-Options $lm_x_content_type_options always;");
    });

    test("every location that adds a header of its own repeats the security headers (add_header is not inherited there)", () => {
        const withCsp = renderNginxConf({ ...settings, csp: { policy: "default-src 'self'", enforce: false } });
        const blocks = [
            "/",
            "= /login",
            "~ ^(/upload)$",
            "@lm_retry",
            "^~ /protected-files/",
            "= /lernmanager-unavailable.html",
            "= /lernmanager-too-many-logins.html",
        ];
        for (const match of blocks) {
            const block = location(withCsp, match);
            for (const name of [
                "X-Content-Type-Options",
                "X-Frame-Options",
                "Referrer-Policy",
                "Permissions-Policy",
                "Content-Security-Policy-Report-Only",
            ])
                expect({ match, has: block.includes(`add_header ${name} $`) }).toEqual({ match, has: true });
        }
        // The app's answers are not stored unless the app says so; static files keep their expiry.
        expect(withCsp).toMatch(
            /map \$upstream_http_cache_control \$lm_cache_control \{\s*"" "no-store";\s*default "";/,
        );
        expect(location(withCsp, "/")).toContain("add_header Cache-Control $lm_cache_control always;");
        expect(location(withCsp, "^~ /static/")).not.toContain("add_header");
        expect(withCsp).toMatch(
            /map \$upstream_http_content_security_policy_report_only \$lm_content_security_policy_report_only \{\s*"" "default-src 'self'";/,
        );
        const enforced = renderNginxConf({ ...settings, csp: { policy: "default-src 'self'", enforce: true } });
        expect(enforced).toContain("add_header Content-Security-Policy $lm_content_security_policy always;");
        expect(enforced).not.toContain("Report-Only");
        expect(conf).not.toContain("Content-Security-Policy");
        expect(() => renderNginxConf({ ...settings, csp: { policy: 'a "b"', enforce: false } })).toThrow(/csp/);
    });

    test("refuses methods the app does not use", () => {
        expect(conf).toMatch(
            /if \(\$request_method !~ \^\(GET\|HEAD\|POST\|PUT\|PATCH\|DELETE\|OPTIONS\)\$\) \{\s*return 405;/,
        );
    });

    test("rate-limits login POSTs only, and can switch the limit off", () => {
        expect(conf).toContain("limit_req_zone $lm_login_key zone=lm_login:10m rate=30r/m;");
        // A minute's worth may arrive at once (a class behind one address), then 429 with a German page.
        expect(location(conf, "= /login")).toContain("limit_req zone=lm_login burst=30 nodelay;");
        expect(location(conf, "= /login")).toContain("error_page 429 /lernmanager-too-many-logins.html;");
        expect(location(conf, "= /lernmanager-too-many-logins.html")).toContain("internal;");
        const off = renderNginxConf({ ...settings, loginRatePerMinute: 0 });
        expect(off).not.toContain("limit_req");
    });

    test("follows the settings", () => {
        const other = renderNginxConf({
            ...settings,
            staticUrl: "/assets/",
            downloadsPrefix: "/dl-internal/",
            uploadLimitMb: 10,
        });
        expect(other).toContain("location ^~ /assets/ {");
        expect(other).toContain("location ^~ /dl-internal/ {");
        expect(other).toContain("client_max_body_size 10m;");
    });

    test.each([
        [{ staticUrl: "static" }, /staticUrl/],
        [{ downloadsPrefix: "/x" }, /downloadsPrefix/],
        [{ uploadLimitMb: 0 }, /uploadLimitMb/],
        [{ gzipLevel: 10 }, /gzipLevel/],
        [{ loginRatePerMinute: -1 }, /loginRatePerMinute/],
        [{ workerProcesses: -1 }, /workerProcesses/],
        [{ workerProcesses: 1.5 }, /workerProcesses/],
    ])("rejects bad settings %p", (bad, message) => {
        expect(() => renderNginxConf({ ...settings, ...bad } as NginxSettings)).toThrow(message);
    });

    test("is stable (snapshot)", () => {
        expect(conf).toMatchSnapshot();
    });

    // Each form with the nginx it is made for (select-conf.sh installs the pooled one from 1.27.3 on).
    test.each(["per-request", "pooled"] as const)("the %s form passes a real `nginx -t` of its nginx", (form) => {
        const result = nginxTest(renderNginxConf(settings, form), form);
        // The pooled form's nginx has the pool; the per-request one is checked with an nginx that has not.
        expect({ form, pooledCapable: nginxAtLeast(result.version, POOLED_MIN_NGINX_VERSION) }).toEqual({
            form,
            pooledCapable: form === "pooled",
        });
        expect(result.stderr).toMatch(/test is successful/);
        expect(result.stderr).not.toMatch(/\[(warn|emerg|alert)\]/);
        expect(result.status).toBe(0);
    });

    // The default appQueue (shared) gives every nginx the per-request form, the prod image's too.
    test("the per-request form passes a real `nginx -t` of the test image's nginx (>= 1.27.3) as well", () => {
        const result = nginxTest(renderNginxConf(settings, "per-request"), "per-request", {}, "image");
        expect(nginxAtLeast(result.version, POOLED_MIN_NGINX_VERSION)).toBe(true);
        expect(result.stderr).toMatch(/test is successful/);
        expect(result.stderr).not.toMatch(/\[(warn|emerg|alert)\]/);
        expect(result.status).toBe(0);
    });

    // A benchmark option (bench/tunes/reuse-port.json): off by default, and valid in both forms when on.
    test("reusePort gives the listener one socket per nginx worker, only when asked", () => {
        expect(conf.match(/^\s*listen .*$/gm)).toEqual(["        listen 8080 default_server;"]);
        for (const form of ["per-request", "pooled"] as const) {
            const text = renderNginxConf({ ...settings, reusePort: true }, form);
            expect(text.match(/^\s*listen .*$/gm)).toEqual(["        listen 8080 default_server reuseport;"]);
            const result = nginxTest(text, form);
            expect(result.stderr).toMatch(/test is successful/);
            expect(result.status).toBe(0);
        }
    });

    test("`nginx -t` fails a broken config (the check can fail), in both nginx", () => {
        for (const form of ["per-request", "pooled"] as const) {
            const broken = renderNginxConf(settings, form).replace("server_tokens off;", "server_tokens of;");
            const result = nginxTest(broken, form);
            expect(result.stderr).toMatch(/\[emerg\] .*invalid value "of"/);
            expect(result.status).not.toBe(0);
        }
    });
});
