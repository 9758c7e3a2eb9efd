import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderNginxConf, type NginxSettings } from "../../render/nginx";
import { appEnvironment } from "../../render/app";
import { nginxSettingsFrom } from "../../render/web";
import { GRADING_AUTH_FILE, type NginxGrading } from "../../render/grading";
import { loadConfig } from "../../config/load";
import { PROJECT_DIR } from "../../core/paths";
import { load, problems } from "../support/config";
import { runProgram, testConfig } from "../support/mocks";
import { TEST_NGINX_SETTINGS } from "../support/nginx";
import { nginxTest } from "../support/nginxCheck";

const GRADING: NginxGrading = {
    url: "http://10.8.0.3:8420",
    uploadLimitMb: 2048,
    timeoutSeconds: 600,
    callbackFrom: ["10.8.0.3", "fd00::3/128"],
};
const on: NginxSettings = { ...TEST_NGINX_SETTINGS, sessionCookie: "session", grading: GRADING };
const TOKEN = "gr4d1ng-T0ken_value.~+/=";

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

describe("grading config", () => {
    test("off by default: no URL, a 2 GiB limit, 10 minutes, no callers", () => {
        const c = load({});
        expect(c.gradingServiceUrl).toBeUndefined();
        expect([c.gradingUploadLimitMb, c.gradingTimeoutSeconds, c.gradingCallbackFrom]).toEqual([2048, 600, []]);
        expect(nginxSettingsFrom(c).grading).toBeUndefined();
        expect(appEnvironment(c)).not.toHaveProperty("GRADING_SERVICE_URL");
    });

    test("set: nginx gets the service, the app its URL (GRADING_SERVICE_URL)", () => {
        const c = load({
            gradingServiceUrl: "http://grading.schule.local:8420/",
            gradingServiceToken: TOKEN,
            gradingUploadLimitMb: "512",
            gradingTimeoutSeconds: "120",
            gradingCallbackFrom: '["10.8.0.3", "10.9.0.0/24"]',
        });
        expect(nginxSettingsFrom(c).grading).toEqual({
            url: "http://grading.schule.local:8420",
            uploadLimitMb: 512,
            timeoutSeconds: 120,
            callbackFrom: ["10.8.0.3", "10.9.0.0/24"],
        });
        expect(appEnvironment(c)).toMatchObject({
            GRADING_SERVICE_URL: "http://grading.schule.local:8420",
            GRADING_SERVICE_TOKEN: TOKEN,
        });
    });

    test.each([
        [
            { gradingServiceUrl: "https://10.8.0.3:8420", gradingServiceToken: TOKEN },
            /gradingServiceUrl = .*http:\/\/host:port.*Fix: `pulumi config set gradingServiceUrl http:\/\/10\.8\.0\.3:8420`/,
        ],
        [
            { gradingServiceUrl: "http://10.8.0.3:8420/jobs", gradingServiceToken: TOKEN },
            /gradingServiceUrl = .*no path/,
        ],
        [{ gradingServiceUrl: "http://10.8.0.3", gradingServiceToken: TOKEN }, /gradingServiceUrl = .*a port/],
        [{ gradingServiceUrl: "http://10.8.0.3:99999", gradingServiceToken: TOKEN }, /gradingServiceUrl = /],
        [
            { gradingServiceUrl: "http://10.8.0.3:8420" },
            /needs lernmanager:gradingServiceToken.*Fix: `pulumi config set --secret gradingServiceToken/,
        ],
        [
            { gradingCallbackFrom: '["0.0.0.0/0"]' },
            /gradingCallbackFrom\[0\] = "0\.0\.0\.0\/0".*not every address.*Fix/,
        ],
        [{ gradingCallbackFrom: '["grading-box"]' }, /gradingCallbackFrom\[0\] = "grading-box".*Fix/],
        [{ gradingUploadLimitMb: "0" }, /gradingUploadLimitMb = "0": must be a whole number from 1 to 16384/],
        [
            { appEnv: '["GRADING_SERVICE_URL=http://x:1"]' },
            /appEnv sets GRADING_SERVICE_URL.*Fix: `pulumi config set gradingServiceUrl/,
        ],
    ])("%p is refused with the key and the fix", (values, message) => {
        const found = problems(values as Record<string, string>);
        expect(found).toEqual([expect.stringMatching(message)]);
    });

    test("a command that cannot read the encrypted token (npm run import) is left to `pulumi up`", () => {
        const raw = { "lernmanager:gradingServiceUrl": "http://10.8.0.3:8420" };
        const ctx = { project: "lernmanager", projectDir: PROJECT_DIR };
        expect(() => loadConfig(raw, ctx)).toThrow(/gradingServiceToken/);
        const c = loadConfig(raw, { ...ctx, encryptedKeys: new Set(["gradingServiceToken"]) });
        expect(c.gradingServiceUrl).toBe("http://10.8.0.3:8420");
    });

    test("a token nginx could not quote is refused without showing it", () => {
        const bad = 'abc" ; return 200 "x';
        const found = problems({ gradingServiceUrl: "http://10.8.0.3:8420", gradingServiceToken: bad });
        expect(found).toEqual([expect.stringMatching(/gradingServiceToken \(secret\): must be a bearer token.*Fix/)]);
        expect(found.join("\n")).not.toContain("abc");
    });
});

describe("grading in nginx.conf", () => {
    test("off: /grading/ answers a clear 404 of its own and /internal/ is closed", () => {
        const off = renderNginxConf(TEST_NGINX_SETTINGS);
        const grading = location(off, "^~ /grading/");
        expect(grading).toMatch(
            /return 404 '\{"error": "Bewertungsdienst nicht konfiguriert \(gradingServiceUrl\)"\}';/,
        );
        expect(grading).not.toContain("proxy_pass");
        expect(location(off, "^~ /internal/")).toMatch(/\{\s*return 404;\s*\}/);
        expect(off).not.toContain("auth_request");
        expect(off).not.toContain(GRADING_AUTH_FILE);
    });

    test("on: auth_request to the app's internal /internal/auth-check, without the body", () => {
        const conf = renderNginxConf(on);
        const check = location(conf, "= /internal/auth-check");
        expect(check).toMatch(/\{\s*internal;/);
        expect(check).toContain("proxy_pass_request_body off;");
        // The subrequest has the upload's Content-Length: a limit here would turn a large upload into 413.
        expect(check).toContain("client_max_body_size 0;");
        expect(check).toContain('proxy_set_header Content-Length "";');
        expect(check).toContain("proxy_pass $lm_app;");
        expect(location(conf, "^~ /internal/")).toMatch(/\{\s*return 404;\s*\}/);
    });

    test("on: /grading/<path> goes to the service's /<path> with the token file, never the cookie", () => {
        const conf = renderNginxConf(on);
        const g = location(conf, "^~ /grading/");
        expect(g).toContain("auth_request /internal/auth-check;");
        // The cheap refusal first: no session cookie, no subrequest.
        expect(g).toMatch(/if \(\$cookie_session = ""\) \{\s*return 401;/);
        expect(g).toContain("set $lm_grading http://10.8.0.3:8420;");
        expect(g).toContain("rewrite ^/grading(/.*)$ $1 break;");
        expect(g).toContain("proxy_pass $lm_grading;");
        expect(g).toContain(`include ${GRADING_AUTH_FILE};`);
        expect(g).toContain('proxy_set_header Cookie "";');
        expect(g).toContain("client_max_body_size 2048m;");
        expect(g).toContain("proxy_send_timeout 600s;");
        expect(g).toContain("proxy_read_timeout 600s;");
        expect(g).toContain("proxy_next_upstream off;");
        expect(g).toContain("error_page 500 502 503 504 = @lm_grading_down;");
        for (const name of ["X-Content-Type-Options", "X-Frame-Options", "Cache-Control"])
            expect(g).toContain(`add_header ${name} $`);
        expect(location(conf, "@lm_grading_down")).toMatch(/return 503 '\{"error": /);
        // The token is not in the file (it is in start.sh's file, written at run time).
        expect(conf).not.toMatch(/Bearer/);
    });

    test("on: callbacks only from gradingCallbackFrom; none listed, none let through", () => {
        const conf = renderNginxConf(on);
        expect(conf).toMatch(/geo \$lm_grading_caller \{\s*default 0;\s*10\.8\.0\.3 1;\s*fd00::3\/128 1;\s*\}/);
        const cb = location(conf, "^~ /internal/grading/");
        expect(cb).toMatch(/if \(\$lm_grading_caller = 0\) \{\s*return 404;/);
        expect(cb).toContain("proxy_pass $lm_app;");
        const none = renderNginxConf({ ...on, grading: { ...GRADING, callbackFrom: [] } });
        expect(none).not.toContain("/internal/grading/");
        expect(none).not.toContain("geo ");
    });

    test.each([
        [{ url: "https://x:1" }, /grading url/],
        [{ url: "http://x:1/path" }, /grading url/],
        [{ uploadLimitMb: 0 }, /uploadLimitMb/],
        [{ callbackFrom: ["1.2.3.4; allow all"] }, /callback address/],
    ])("rejects bad grading settings %p", (bad, message) => {
        expect(() => renderNginxConf({ ...on, grading: { ...GRADING, ...bad } })).toThrow(message);
    });

    test.each(["per-request", "pooled"] as const)("the %s form with grading on passes a real `nginx -t`", (form) => {
        for (const settings of [on, { ...on, grading: { ...GRADING, callbackFrom: [] } }]) {
            const result = nginxTest(renderNginxConf(settings, form), form);
            expect(result.stderr).toMatch(/test is successful/);
            expect(result.stderr).not.toMatch(/\[(warn|emerg|alert)\]/);
            expect(result.status).toBe(0);
        }
    });
});

describe("the token's way into nginx", () => {
    const start = fs.readFileSync(path.join(__dirname, "../../containers/web/start.sh"), "utf8");
    // start.sh's own lines about the token, run against a scratch folder instead of /tmp.
    const script = start.slice(start.indexOf("token=${LM_GRADING_TOKEN"), start.indexOf('if [ -n "${LM_TLS_CERT'));
    const run = (token: string | undefined) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-grading-"));
        const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
        if (token !== undefined) env.LM_GRADING_TOKEN = token;
        const r = spawnSync(
            "bash",
            ["-c", `set -eu\n${script.split(GRADING_AUTH_FILE).join(`${dir}/auth.conf`)}\nenv > ${dir}/env`],
            { encoding: "utf8", env },
        );
        const file = path.join(dir, "auth.conf");
        const out = {
            status: r.status,
            stderr: r.stderr,
            text: fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined,
            mode: fs.existsSync(file) ? fs.statSync(file).mode & 0o777 : undefined,
            env: fs.existsSync(path.join(dir, "env")) ? fs.readFileSync(path.join(dir, "env"), "utf8") : "",
        };
        fs.rmSync(dir, { recursive: true, force: true });
        return out;
    };

    test("start.sh writes the header line into a file only nginx's user reads, and drops the variable", () => {
        const r = run(TOKEN);
        expect(r.status).toBe(0);
        expect(r.text).toBe(`proxy_set_header Authorization "Bearer ${TOKEN}";\n`);
        expect(r.mode).toBe(0o600);
        expect(r.env).not.toContain(TOKEN);
    });

    test("no token: an empty file (nginx.conf has no /grading/ forward then); a bad one stops the start unshown", () => {
        expect(run(undefined)).toMatchObject({ status: 0, text: "" });
        const bad = run('x"; return 200 "y');
        expect(bad.status).toBe(1);
        expect(bad.text).toBeUndefined();
        expect(bad.stderr).toMatch(/not a bearer token/);
        expect(bad.stderr).not.toContain("return 200");
    });

    test("the program hands the token to nginx as a secret env only, never in the image or its build", async () => {
        const run = await runProgram(
            testConfig({
                "lernmanager:gradingServiceUrl": "http://10.8.0.3:8420",
                "lernmanager:gradingServiceToken": TOKEN,
            }),
            { stack: "unit-grading" },
        );
        const nginx = run.named("lernmanager-unit-grading-nginx");
        expect(nginx.inputs.envs).toContain(`LM_GRADING_TOKEN=${TOKEN}`);
        expect(nginx.secretInputs).toContain("envs");
        for (const reg of run.registrations)
            for (const [field, input] of Object.entries(reg.inputs))
                if (JSON.stringify(input).includes(TOKEN))
                    expect({ reg: reg.name, field, secret: reg.secretInputs.includes(field) }).toEqual({
                        reg: reg.name,
                        field,
                        secret: true,
                    });
        const image = run.named("lernmanager-unit-grading-nginx-image");
        expect(JSON.stringify(image.inputs)).not.toContain(TOKEN);
        const conf = Buffer.from(
            image.inputs.build?.args?.NGINX_CONF ?? image.inputs.args?.NGINX_CONF,
            "base64",
        ).toString();
        expect(conf).toContain("set $lm_grading http://10.8.0.3:8420;");
        // Off: nginx gets no env at all (an empty list would be a diff on every existing stack).
        const off = await runProgram(testConfig(), { stack: "unit-grading-off" });
        expect(off.named("lernmanager-unit-grading-off-nginx").inputs.envs).toBeUndefined();
    });
});
