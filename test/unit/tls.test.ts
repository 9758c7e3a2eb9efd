/** HTTPS config (config/tls.ts), nginx's TLS parts (render/tls.ts) and what the program declares. */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CONTAINERS_DIR } from "../../core/paths";
import { nginxAtLeast, nginxTest } from "../support/nginxCheck";
import { POOLED_MIN_NGINX_VERSION } from "../../render/upstream";
import { renderNginxConf } from "../../render/nginx";
import { testCa, TestCa } from "../support/certs";
import { runProgram, testConfig } from "../support/mocks";

let ca: TestCa;
let other: TestCa;
beforeAll(() => {
    ca = testCa("Schul-CA Test");
    other = testCa("Other CA");
});
afterAll(() => {
    ca?.remove();
    other?.remove();
});

describe("nginx with TLS", () => {
    const base = {
        staticUrl: "/static/",
        downloadsPrefix: "/protected-files/",
        uploadLimitMb: 64,
        loginPath: "/login",
        loginRatePerMinute: 60,
    };
    const tls = { publicHttpsPort: 443, hstsMaxAge: 300, hstsIncludeSubdomains: false, caDownload: true };

    test.each(["per-request", "pooled"] as const)(
        "the %s form with TLS passes a real `nginx -t` of its nginx, with a certificate",
        (form) => {
            const pair = ca.issue(["lernen.schule.test"]);
            const result = nginxTest(renderNginxConf({ ...base, tls, trustedProxies: ["10.9.0.0/24"] }, form), form, {
                "/srv/tls/live/fullchain.pem": pair.cert,
                "/srv/tls/live/privkey.pem": pair.key,
            });
            expect(nginxAtLeast(result.version, POOLED_MIN_NGINX_VERSION)).toBe(form === "pooled");
            expect(result.stderr).toMatch(/test is successful/);
            expect(result.stderr).not.toMatch(/\[(emerg|alert)\]/);
            expect(result.status).toBe(0);
        },
    );

    test("reusePort gives both listeners, HTTPS and the redirect, one socket per nginx worker", () => {
        const pair = ca.issue(["lernen.schule.test"]);
        const text = renderNginxConf({ ...base, tls, reusePort: true }, "pooled");
        expect(text.match(/^\s*listen .*$/gm)).toEqual([
            "        listen 8080 default_server reuseport;",
            "        listen 8443 ssl default_server reuseport;",
        ]);
        const result = nginxTest(text, "pooled", {
            "/srv/tls/live/fullchain.pem": pair.cert,
            "/srv/tls/live/privkey.pem": pair.key,
        });
        expect(result.stderr).toMatch(/test is successful/);
        expect(result.status).toBe(0);
    });
});

describe("the program with TLS", () => {
    test("internal: an agent, a kept TLS volume, nginx on both ports with the certificate volume read-only, FORCE_HTTPS", async () => {
        const run = await runProgram(
            testConfig({
                "lernmanager:tls": "internal",
                "lernmanager:domain": "lernen.schule.test",
                "lernmanager:httpsPort": "9443",
                "lernmanager:protectData": "true",
            }),
            { stack: "unit-tls" },
        );
        const agent = run.named("lernmanager-unit-tls-tls");
        expect(agent.inputs.name).toBe("lernmanager-unit-tls-tls");
        expect(agent.inputs.envs).toContain("LM_TLS_MODE=internal");
        expect(agent.inputs.envs).toContain("LM_TLS_NAMES=lernen.schule.test");
        expect(agent.inputs.readOnly).toBe(true);
        expect(agent.inputs.user).toBe("10003:10002");
        // Retained, never protected: it goes away with `tls` off (engineRules.ts DELETE_PROTECTED_MESSAGE).
        expect(run.named("lernmanager-unit-tls-storage-tls").opts).toMatchObject({ retainOnDelete: true });
        expect(run.named("lernmanager-unit-tls-storage-tls").opts.protect).toBeFalsy();
        const nginx = run.named("lernmanager-unit-tls-nginx");
        expect(nginx.inputs.ports.map((p: { internal: number; external: number }) => [p.internal, p.external])).toEqual(
            [
                [8080, expect.any(Number)],
                [8443, 9443],
            ],
        );
        expect(nginx.inputs.mounts).toContainEqual({
            type: "volume",
            source: "lernmanager-unit-tls-tls",
            target: "/srv/tls",
            readOnly: true,
        });
        expect(nginx.inputs.networksAdvanced[0].aliases).toEqual(["nginx", "lernen.schule.test"]);
        expect(run.named("lernmanager-unit-tls-app").inputs.envs).toContain("FORCE_HTTPS=true");
        expect(run.outputs.url).toBe("https://lernen.schule.test:9443/");
        expect(run.named("lernmanager-unit-tls-smoke").inputs.create).toContain("https://nginx:8443");
    });

    test("the smoke step is told the HSTS value nginx must send (none with hstsMaxAge 0)", async () => {
        const smoke = async (extra: Record<string, string>) =>
            (
                await runProgram(
                    testConfig({ "lernmanager:tls": "internal", "lernmanager:domain": "lernen.schule.test", ...extra }),
                    { stack: "unit-hsts" },
                )
            ).named("lernmanager-unit-hsts-smoke").inputs.create as string;
        expect(await smoke({ "lernmanager:hstsMaxAge": "300" })).toContain("-e LM_SMOKE_HSTS='max-age=300'");
        expect(
            await smoke({ "lernmanager:hstsMaxAge": "31536000", "lernmanager:hstsIncludeSubdomains": "true" }),
        ).toContain("-e LM_SMOKE_HSTS='max-age=31536000; includeSubDomains'");
        expect(await smoke({ "lernmanager:hstsMaxAge": "0" })).toContain("-e LM_SMOKE_HSTS=''");
    });

    test("files: the school's key reaches only secret inputs; off: no agent, no TLS volume", async () => {
        const pair = ca.issue(["lernen.schule.test"]);
        const run = await runProgram(
            testConfig({
                "lernmanager:tls": "files",
                "lernmanager:domain": "lernen.schule.test",
                "lernmanager:tlsCertificate": pair.cert,
                "lernmanager:tlsKey": pair.key,
            }),
            { stack: "unit-files" },
        );
        const marker = pair.key.split("\n")[1];
        for (const reg of run.registrations) {
            for (const [field, input] of Object.entries(reg.inputs)) {
                if (JSON.stringify(input).includes(marker))
                    expect({ reg: reg.name, field, secret: reg.secretInputs.includes(field) }).toEqual({
                        reg: reg.name,
                        field,
                        secret: true,
                    });
            }
        }
        expect(run.named("lernmanager-unit-files-tls").secretInputs).toContain("envs");
        expect(JSON.stringify(run.outputs)).not.toContain(marker);
        const off = await runProgram(testConfig(), { stack: "unit-off" });
        expect(off.registrations.some((r) => r.name.endsWith("-tls"))).toBe(false);
        expect(off.named("lernmanager-unit-off-app").inputs.envs).not.toContain("FORCE_HTTPS=true");
    });
});

describe("the school CA (tls internal): name-constrained, its fingerprint a stack output", () => {
    const fp = Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).toUpperCase().padStart(2, "0")).join(":");
    test("the stack output schoolCaFingerprint is what the smoke test read from the TLS volume", async () => {
        const config = testConfig({ "lernmanager:tls": "internal", "lernmanager:domain": "lernen.schule.test" });
        const run = await runProgram(config, {
            stack: "unit-ca",
            smokeOutput: `smoke: ok   TLS agent: certificate in place: ok\nschool CA sha256 ${fp}\nsmoke: ok   nginx /nginx-health: 200\n`,
        });
        expect(run.outputs.schoolCaFingerprint).toBe(fp);
        const plain = await runProgram(testConfig({}), { stack: "unit-ca-off" });
        expect(plain.outputs.schoolCaFingerprint).toBeUndefined();
    });
    test("the agent's CA (its own ca_constraints, real openssl) refuses to vouch for foreign names and addresses", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-ca-nc-"));
        const script = `set -eu
NAMES="lernen.schule.test lm.schule.local"; ADDRESSES="10.0.0.5"
eval "$(sed -n '/^ca_constraints() {/,/^}/p' ${path.join(__dirname, "../../containers/tls/lm-tls.sh")})"
cd ${dir}
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=Schul-CA" -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \\
  -addext "keyUsage=critical,keyCertSign,cRLSign" -addext "nameConstraints=$(ca_constraints)" -out ca.crt
for san in DNS:lernen.schule.test DNS:sub.lm.schule.local IP:10.0.0.5 DNS:www.bank.example IP:10.0.0.6; do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -subj /CN=x -out r.csr 2>/dev/null
  printf 'subjectAltName=%s\\n' "$san" > e.cnf
  openssl x509 -req -in r.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile e.cnf -out c.pem 2>/dev/null
  if openssl verify -CAfile ca.crt c.pem >/dev/null 2>v.txt; then echo "$san trusted"; else echo "$san $(grep -o 'permitted subtree violation' v.txt)"; fi
done
openssl x509 -noout -ext nameConstraints -in ca.crt | head -1`;
        try {
            const out = spawnSync("sh", ["-c", script], { encoding: "utf8" });
            expect(out.stdout.trim().split("\n")).toEqual([
                "DNS:lernen.schule.test trusted",
                "DNS:sub.lm.schule.local trusted",
                "IP:10.0.0.5 trusted",
                "DNS:www.bank.example permitted subtree violation",
                "IP:10.0.0.6 permitted subtree violation",
                "X509v3 Name Constraints: critical",
            ]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("the TLS agent (containers/tls/lm-tls.sh)", () => {
    // The smoke step reads the status line, then the fingerprint: were the status "ok" first, it could
    // read the placeholder's fingerprint, match the placeholder nginx still serves, and pass.
    test("an ok status line is written only after the fingerprint of the certificate it is about", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-tls-agent-"));
        const bin = path.join(dir, "bin");
        const tlsDir = path.join(dir, "tls");
        const log = path.join(dir, "order.log");
        fs.mkdirSync(bin);
        const realMv = ["/usr/bin/mv", "/bin/mv"].find((p) => fs.existsSync(p))!;
        // mv, as the agent uses it to put its files in place: before the status line goes in, note
        // whether the fingerprint file already names the live certificate.
        fs.writeFileSync(
            path.join(bin, "mv"),
            [
                "#!/bin/sh",
                'for last; do :; done; src=""; for a; do [ "$a" = "$last" ] || src=$a; done',
                'if [ "$last" = "$LM_TLS_DIR/status" ]; then',
                "  live=$(openssl x509 -noout -fingerprint -sha256 -in \"$LM_TLS_DIR/live/fullchain.pem\" | sed 's/^.*=//; s/://g' | tr A-F a-f)",
                '  [ "$(cat "$LM_TLS_DIR/fingerprint" 2>/dev/null)" = "$live" ] && m=current || m=stale',
                '  echo "$(cut -d" " -f1 "$src") $m" >> "$LM_ORDER_LOG"',
                "fi",
                `exec ${realMv} "$@"`,
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        const pair = ca.issue(["lernen.schule.test"]);
        const agent = spawn("sh", [path.join(CONTAINERS_DIR, "tls", "lm-tls.sh"), "run"], {
            env: {
                ...process.env,
                PATH: `${bin}:${process.env.PATH}`,
                LM_TLS_DIR: tlsDir,
                LM_TLS_MODE: "files",
                LM_TLS_NAMES: "lernen.schule.test",
                LM_TLS_CERT_PEM: pair.cert,
                LM_TLS_KEY_PEM: pair.key,
                LM_ORDER_LOG: log,
            },
            stdio: "ignore",
        });
        try {
            const until = Date.now() + 30000;
            while (!(fs.existsSync(log) && /^ok /m.test(fs.readFileSync(log, "utf8"))) && Date.now() < until)
                await new Promise((r) => setTimeout(r, 200));
            // The placeholder's "pending" and then the school's certificate's "ok": each after its fingerprint.
            expect(fs.readFileSync(log, "utf8").trim().split("\n")).toEqual(["pending current", "ok current"]);
        } finally {
            agent.kill();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
