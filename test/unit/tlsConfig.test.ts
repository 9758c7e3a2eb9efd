/**
 * HTTPS config as loadConfig reads it (config/tls.ts) and nginx's TLS parts (render/tls.ts), without
 * running the program: what `bash scripts/mutate.sh config/tls.ts` (and render/tls.ts) runs against
 * each mutant. What the program declares with TLS, the school CA and the agent: test/unit/tls.test.ts.
 */
import { load, problems } from "../support/config";
import { renderNginxConf } from "../../render/nginx";
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING } from "../../config/tls";
import { testCa, TestCa } from "../support/certs";
import {
    CA_DOWNLOAD_PATH,
    CA_FINGERPRINT_PATH,
    CA_PAGE_PATH,
    checkNginxTls,
    clientAddressRules,
    hstsHeader,
    nginxTlsFrom,
    TLS_CIPHERS,
    tlsServerHead,
} from "../../render/tls";
import { LAYOUT } from "../../core/layout";

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

describe("tls config: refused before any resource, each with the fix", () => {
    test("off by default; acme and internal need a domain", () => {
        expect(load({}).tls.mode).toBe("off");
        for (const mode of ["acme", "internal"]) {
            expect(problems({ tls: mode })).toContainEqual(
                expect.stringMatching(
                    /needs the server's name, but domain is not set\. Fix: `pulumi config set domain /,
                ),
            );
        }
        expect(problems({ tls: "https" })[0]).toMatch(
            /tls = "https": must be one of off, acme, files, internal\. Fix:/,
        );
    });

    test("files: a key that does not match, an expired certificate, one not for the domain", () => {
        const good = ca.issue(["lernen.schule.test"]);
        const stranger = other.issue(["lernen.schule.test"]);
        const base = { tls: "files", domain: "lernen.schule.test", tlsCertificate: good.cert };
        expect(problems({ ...base, tlsKey: good.key })).toEqual([]);
        expect(problems({ ...base, tlsKey: stranger.key })).toEqual([
            expect.stringMatching(
                /tlsKey \(secret\) does not belong to tlsCertificate .*Fix: set the key the certificate was issued for/,
            ),
        ]);
        const later = new Date(Date.now() + 40 * 86400_000);
        expect(problems({ ...base, tlsKey: good.key }, later)).toEqual([
            expect.stringMatching(/tlsCertificate expired on .*\. Fix: renew it/),
        ]);
        expect(problems({ ...base, domain: "andere.schule.test", tlsKey: good.key })).toEqual([
            expect.stringMatching(
                /tlsCertificate is not valid for andere\.schule\.test \(it is for DNS:lernen\.schule\.test\)\. Fix:/,
            ),
        ]);
        expect(problems({ tls: "files", tlsCertificate: "not a pem", tlsKey: good.key })[0]).toMatch(
            /tlsCertificate is not a PEM certificate .*Fix: `pulumi config set tlsCertificate -- "\$\(cat fullchain.pem\)"`/,
        );
        expect(problems({ tls: "files" })).toHaveLength(2);
    });

    test("names, addresses, ports and proxies are checked", () => {
        expect(problems({ tls: "internal", domain: "schule test" })[0]).toMatch(
            /domain = "schule test": must be a DNS name/,
        );
        expect(problems({ tls: "internal", domain: "s.test", serverAddresses: '["10.0.0.300"]' })[0]).toMatch(
            /serverAddresses\[0\] = "10.0.0.300": not an IP address/,
        );
        expect(problems({ tls: "internal", domain: "s.test", httpsPort: "8080" })[0]).toMatch(
            /httpsPort = "8080": equals port/,
        );
        expect(problems({ trustedProxies: '["10.0.0.0/33"]' })[0]).toMatch(
            /trustedProxies\[0\] = "10.0.0.0\/33": must be an address or CIDR/,
        );
        expect(problems({ trustedProxies: '["0.0.0.0/0"]' })[0]).toMatch(/trusts every address/);
        expect(load({ trustedProxies: '["10.0.0.7", "172.18.0.0/16"]' }).trustedProxies).toEqual([
            "10.0.0.7",
            "172.18.0.0/16",
        ]);
    });

    test("a test school never uses the production ACME server unless told to", () => {
        const school = { tls: "acme", domain: "s.test", acmeEmail: "it@s.test", createdAt: "2026-11-30T00:00:00Z" };
        expect(load(school).tls.acme?.server).toBe(LETS_ENCRYPT_STAGING);
        expect(load({ ...school, acmeServer: LETS_ENCRYPT }).tls.acme?.server).toBe(LETS_ENCRYPT);
        expect(load({ tls: "acme", domain: "s.test", acmeEmail: "it@s.test" }).tls.acme?.server).toBe(LETS_ENCRYPT);
        expect(problems({ tls: "acme", domain: "s.test" })[0]).toMatch(
            /needs a contact address .*Fix: `pulumi config set acmeEmail/,
        );
    });
});

describe("plain HTTP on the school network only when asked for", () => {
    const fix =
        /publishes plain HTTP on the school network .*Fix: `pulumi config set tls internal`.*trustedProxies.*`pulumi config set allowPlainHttp true`/;
    test("a non-loopback address without tls and without a TLS proxy is refused, with the fix", () => {
        expect(problems({ bindAddress: "0.0.0.0" })).toEqual([expect.stringMatching(fix)]);
        expect(problems({ bindAddress: "10.0.0.5", port: "80" })).toEqual([expect.stringMatching(fix)]);
    });
    test("loopback, tls, a trusted proxy or an explicit allowPlainHttp pass", () => {
        expect(problems({})).toEqual([]);
        expect(problems({ bindAddress: "127.0.0.1" })).toEqual([]);
        expect(problems({ bindAddress: "0.0.0.0", tls: "internal", domain: "s.test" })).toEqual([]);
        expect(problems({ bindAddress: "0.0.0.0", trustedProxies: '["10.0.0.7"]' })).toEqual([]);
        expect(problems({ bindAddress: "0.0.0.0", allowPlainHttp: "true" })).toEqual([]);
        expect(load({ bindAddress: "0.0.0.0", allowPlainHttp: "true" }).allowPlainHttp).toBe(true);
    });
});

describe("the Host the app sees: as the browser sent it, port included", () => {
    const base = {
        staticUrl: "/static/",
        downloadsPrefix: "/protected-files/",
        uploadLimitMb: 64,
        loginPath: "/login",
        loginRatePerMinute: 60,
    };
    const tls = { publicHttpsPort: 8443, hstsMaxAge: 300, hstsIncludeSubdomains: false, caDownload: true };
    test("directly: the client's Host header ($http_host), else the name with the published port", () => {
        const conf = renderNginxConf({ ...base, tls });
        expect(conf).toContain("proxy_set_header Host $lm_forwarded_host;");
        expect(conf).toContain("proxy_set_header X-Forwarded-Host $lm_forwarded_host;");
        expect(conf).not.toMatch(/proxy_set_header Host \$host;/);
        expect(conf).toMatch(/map \$http_host \$lm_client_host \{\s+"" \$lm_default_host;\s+default \$http_host;/);
        expect(conf).toMatch(/map \$scheme \$lm_forwarded_host \{\s+default \$lm_client_host;/);
        expect(conf).toContain('set $lm_default_host "$host:8443";');
        expect(renderNginxConf({ ...base, tls: { ...tls, publicHttpsPort: 443 } })).toContain(
            'set $lm_default_host "$host";',
        );
        expect(renderNginxConf({ ...base, publicPort: 8080 })).toContain('set $lm_default_host "$host:8080";');
        expect(renderNginxConf(base)).toContain('set $lm_default_host "$host";');
    });
    test("behind a trusted proxy: its X-Forwarded-Host, with X-Forwarded-Port unless the scheme's own", () => {
        const conf = renderNginxConf({ ...base, trustedProxies: ["10.9.0.7"] });
        expect(conf).toContain('map "$lm_via_trusted_proxy:$http_x_forwarded_host" $lm_proxy_host {');
        expect(conf).toContain('map "$lm_via_trusted_proxy:$http_x_forwarded_port" $lm_proxy_port {');
        expect(conf).toContain('"~^(?<fh>[^|]+)\\|https\\|443$" $fh;');
        expect(conf).toContain('"~^(?<fh>[^|]+)\\|[^|]*\\|(?<fp>[0-9]+)$" "$fh:$fp";');
        // Nothing from an untrusted peer: without the trusted flag the forwarded host is never taken.
        expect(conf).toMatch(/"~\^1:\(\?<fhost>/);
    });
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
    const conf = renderNginxConf({ ...base, tls, trustedProxies: ["10.9.0.0/24"] });

    test("port 80 redirects, except the ACME challenge, the CA download and nginx's own health", () => {
        const plain = conf.slice(conf.indexOf("server {"), conf.indexOf("server {", conf.indexOf("server {") + 1));
        expect(plain).toContain("listen 8080 default_server;");
        expect(plain).toContain("location ^~ /.well-known/acme-challenge/ {");
        expect(plain).toContain("location = /schul-ca.crt {");
        expect(plain).toContain("return 301 https://$host$request_uri;");
        expect(renderNginxConf({ ...base, tls: { ...tls, publicHttpsPort: 8443 } })).toContain(
            "return 301 https://$host:8443$request_uri;",
        );
    });

    test("TLS 1.2+, modern ciphers, resumption, HTTP/2, staged HSTS", () => {
        expect(conf).toContain("listen 8443 ssl http2 default_server;");
        expect(conf).toContain("ssl_protocols TLSv1.2 TLSv1.3;");
        expect(conf).toMatch(/ssl_ciphers ECDHE-[A-Z0-9-:]+;/);
        expect(conf).not.toMatch(/ssl_ciphers[^;]*(CBC|RC4|3DES|SHA1?[:;])/);
        expect(conf).toContain("ssl_session_cache shared:lm_tls:10m;");
        expect(conf).toContain('add_header Strict-Transport-Security "max-age=300" always;');
        expect(
            renderNginxConf({ ...base, tls: { ...tls, hstsMaxAge: 31536000, hstsIncludeSubdomains: true } }),
        ).toContain('"max-age=31536000; includeSubDomains"');
        expect(renderNginxConf({ ...base, tls: { ...tls, hstsMaxAge: 0 } })).not.toContain("Strict-Transport-Security");
    });

    test("forwarded headers count only from trusted proxies", () => {
        expect(conf).toContain("set_real_ip_from 10.9.0.0/24;");
        expect(conf).toContain("real_ip_recursive on;");
        expect(conf).toContain("proxy_set_header X-Forwarded-Proto $lm_forwarded_proto;");
        expect(conf).toContain("proxy_set_header X-Forwarded-For $remote_addr;");
        const none = renderNginxConf(base);
        expect(none).not.toContain("set_real_ip_from");
        expect(none).toContain("map $scheme $lm_forwarded_proto {");
    });
});

describe("tls config: the edges of each check", () => {
    const list = (xs: string[]) => JSON.stringify(xs);

    test("a bad tls mode names every mode and the other ways to HTTPS", () => {
        expect(problems({ tls: "https" })[0]).toMatch(
            /\(or acme with a public domain, files with the school's certificate, off behind a TLS proxy\)$/,
        );
    });

    test("names: domain and extraNames trimmed and lower-cased, once each; a bad or over-long name is refused", () => {
        const t = load({
            tls: "internal",
            domain: " Lernen.Schule.TEST ",
            extraNames: list(["LM.Schule.Local", "lernen.schule.test"]),
        }).tls;
        expect(t.domain).toBe("lernen.schule.test");
        expect(t.names).toEqual(["lernen.schule.test", "lm.schule.local"]);
        expect(load({}).tls.names).toEqual([]);
        // A one-letter label anywhere is a label.
        expect(load({ tls: "internal", domain: "lernen.x.schule.de" }).tls.domain).toBe("lernen.x.schule.de");
        expect(problems({ tls: "internal", domain: "s.test", extraNames: list(["bad name"]) })).toEqual([
            'lernmanager:extraNames[0] = "bad name": not a DNS name. Fix: remove it or correct it.',
        ]);
        const long = Array(4).fill("a".repeat(63)).join(".") + ".de"; // 257 characters
        expect(problems({ tls: "internal", domain: long })[0]).toMatch(/must be a DNS name/);
    });

    test("extraNames, serverAddresses and trustedProxies that are not lists name the list and the fix", () => {
        expect(problems({ tls: "internal", domain: "s.test", extraNames: "lm.local" })).toEqual([
            'lernmanager:extraNames = "lm.local": must be a list of DNS names. Fix: e.g. `pulumi config set --path "extraNames[0]" lernmanager.schule.local`',
        ]);
        expect(problems({ tls: "internal", domain: "s.test", serverAddresses: "10.0.0.5" })).toEqual([
            'lernmanager:serverAddresses = "10.0.0.5": must be a list of IP addresses. Fix: e.g. `pulumi config set --path "serverAddresses[0]" 10.0.0.5`',
        ]);
        expect(problems({ trustedProxies: "10.0.0.0/24" })).toEqual([
            'lernmanager:trustedProxies = "10.0.0.0/24": must be a list of CIDRs. Fix: e.g. `pulumi config set --path "trustedProxies[0]" 10.0.0.0/24`',
        ]);
    });

    test("serverAddresses: IPv4 and IPv6 kept", () => {
        expect(
            load({ tls: "internal", domain: "s.test", serverAddresses: list(["10.0.0.5", "fd00::5"]) }).tls.addresses,
        ).toEqual(["10.0.0.5", "fd00::5"]);
    });

    test("httpsPort may equal port while tls is off", () => {
        expect(problems({ httpsPort: "8080" })).toEqual([]);
    });

    test("acme: server, e-mail and CA certificate trimmed and checked", () => {
        const acme = { tls: "acme", domain: "s.test", acmeEmail: " it@schule.de " };
        expect(load({ ...acme, acmeServer: " https://acme.test/dir " }).tls.acme).toEqual({
            server: "https://acme.test/dir",
            email: "it@schule.de",
            caCertificate: "",
        });
        for (const bad of [
            "http://acme.test/dir",
            "xhttps://acme.test/dir",
            "https://acme.test/dir x",
            "https://acme.test",
        ])
            expect(problems({ ...acme, acmeServer: bad })).toEqual([
                `lernmanager:acmeServer = "${bad}": must be an https:// ACME directory URL. Fix: \`pulumi config rm acmeServer\` (Let's Encrypt)`,
            ]);
        for (const bad of ["it@schule", "a b@schule.de", "it@schule.de x"])
            expect(problems({ ...acme, acmeEmail: bad })).toEqual([
                `lernmanager:acmeEmail = "${bad}": not an e-mail address. Fix: \`pulumi config set acmeEmail it@schule.de\``,
            ]);
        const pem = ca.issue(["acme.test"]).cert;
        expect(load({ ...acme, acmeCaCertificate: ` ${pem} ` }).tls.acme?.caCertificate).toBe(pem.trim());
        expect(problems({ ...acme, acmeCaCertificate: "not a pem" })).toEqual([
            'lernmanager:acmeCaCertificate: not a PEM certificate. Fix: `pulumi config set acmeCaCertificate -- "$(cat ca.pem)"`',
        ]);
    });

    test("the agent's timings, HSTS and image are read as given", () => {
        const t = load({
            tlsRenewDays: "20",
            tlsCheckHours: "6",
            hstsMaxAge: "600",
            hstsIncludeSubdomains: "true",
            tlsImage: " lego:1 ",
        }).tls;
        expect(t).toMatchObject({
            renewDays: 20,
            checkHours: 6,
            hstsMaxAge: 600,
            hstsIncludeSubdomains: true,
            agentImage: "lego:1",
        });
    });

    test("trustedProxies: IPv6 up to /128, IPv4 up to /32; bad prefixes, a second slash or a name are refused", () => {
        expect(load({ trustedProxies: list(["fd00::/64", "fd00::1/128", "10.0.0.7/32"]) }).trustedProxies).toEqual([
            "fd00::/64",
            "fd00::1/128",
            "10.0.0.7/32",
        ]);
        for (const bad of ["fd00::/129", "10.0.0.0/x", "10.0.0.0/24x", "10.0.0.0/x24", "10.0.0.0/24/1", "proxy/24"])
            expect(problems({ trustedProxies: list([bad]) })).toEqual([
                `lernmanager:trustedProxies[0] = "${bad}": must be an address or CIDR like 10.0.0.7 or 10.0.0.0/24. Fix: correct or remove it.`,
            ]);
    });
});

describe("nginx's TLS parts (render/tls.ts)", () => {
    const tls = { publicHttpsPort: 443, hstsMaxAge: 300, hstsIncludeSubdomains: false, caDownload: true };

    test("an HTTPS port outside 1-65535 or a negative or fractional HSTS age is refused before rendering", () => {
        for (const port of [0, 65536, 443.5])
            expect(() => checkNginxTls({ ...tls, publicHttpsPort: port })).toThrow(
                "renderNginxConf: tls.publicHttpsPort must be 1-65535",
            );
        for (const age of [-1, 1.5])
            expect(() => checkNginxTls({ ...tls, hstsMaxAge: age })).toThrow(
                "renderNginxConf: tls.hstsMaxAge must be 0 or more",
            );
        for (const port of [1, 65535]) expect(() => checkNginxTls({ ...tls, publicHttpsPort: port })).not.toThrow();
        expect(() => checkNginxTls({ ...tls, hstsMaxAge: 0 })).not.toThrow();
    });

    test("HSTS: the header with the age (and includeSubDomains when asked); none at age 0", () => {
        expect(hstsHeader(tls)).toBe('add_header Strict-Transport-Security "max-age=300" always;');
        expect(hstsHeader({ ...tls, hstsIncludeSubdomains: true })).toBe(
            'add_header Strict-Transport-Security "max-age=300; includeSubDomains" always;',
        );
        expect(hstsHeader({ ...tls, hstsMaxAge: 0 })).toBe("");
    });

    test("the HTTPS head: the listen line of each nginx form, the ciphers, the CA pages only with caDownload", () => {
        const pooled = tlsServerHead(tls, true, "");
        expect(pooled).toContain(`listen ${LAYOUT.nginxTlsPort} ssl default_server;\n        http2 on;`);
        expect(tlsServerHead(tls, false, "")).toContain(`listen ${LAYOUT.nginxTlsPort} ssl http2 default_server;`);
        expect(pooled).toContain(`ssl_ciphers ${TLS_CIPHERS.join(":")};`);
        for (const path of [CA_DOWNLOAD_PATH, CA_PAGE_PATH, CA_FINGERPRINT_PATH])
            expect(pooled).toContain(`location = ${path} {`);
        expect([CA_PAGE_PATH, CA_FINGERPRINT_PATH]).toEqual(["/schul-ca", "/schul-ca.sha256"]);
        // Without the CA pages the head ends with the session settings.
        expect(tlsServerHead({ ...tls, caDownload: false }, true, "")).toMatch(/\n        ssl_session_tickets off;\n$/);
    });

    test("trusted proxies: each is a real-IP source and a member of the trusted set; a bad entry is refused", () => {
        const rules = clientAddressRules(["10.9.0.0/24", "fd00::7"]);
        expect(rules).toContain("    set_real_ip_from 10.9.0.0/24;\n    set_real_ip_from fd00::7;");
        expect(rules).toContain("        default 0;\n        10.9.0.0/24 1;\n        fd00::7 1;\n    }");
        for (const bad of ["proxy/24", "10.0.0.0/1234", "10.0.0.0/x", "10.0.0.0/x24", "10.0.0.0/24x"])
            expect(() => clientAddressRules([bad])).toThrow(
                `renderNginxConf: trustedProxies entry ${bad} is not a CIDR`,
            );
    });

    test("nginxTlsFrom: nothing with tls off; the port, HSTS and the CA pages (internal only) otherwise", () => {
        const cfg = (mode: string) =>
            load(
                mode === "off"
                    ? {}
                    : { tls: mode, domain: "s.test", acmeEmail: "it@schule.de", hstsMaxAge: "600", httpsPort: "9443" },
            ).tls;
        expect(nginxTlsFrom(cfg("off"))).toBeUndefined();
        expect(nginxTlsFrom(cfg("internal"))).toEqual({
            publicHttpsPort: 9443,
            hstsMaxAge: 600,
            hstsIncludeSubdomains: false,
            caDownload: true,
        });
        expect(nginxTlsFrom(cfg("acme"))?.caDownload).toBe(false);
    });
});
