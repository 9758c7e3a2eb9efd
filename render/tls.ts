// The HTTPS parts of nginx.conf (render/nginx.ts renders the rest): the TLS server's head, the
// plain-HTTP server that redirects to it, and the trusted-proxy (real client address) rules.
import * as net from "net";
import { LAYOUT } from "../core/layout";
import type { TlsConfig } from "../config/tls";

/** HTTPS as nginx renders it (from the stack's TlsConfig). */
export interface NginxTls {
    /** The host port HTTPS is published on (443: no port in redirects). */
    readonly publicHttpsPort: number;
    /** Strict-Transport-Security max-age in seconds; 0 sends none. */
    readonly hstsMaxAge: number;
    readonly hstsIncludeSubdomains: boolean;
    /** Serve the school CA at CA_DOWNLOAD_PATH over plain HTTP (tls: internal). */
    readonly caDownload: boolean;
}

/** Where the TLS agent keeps what nginx reads (the TLS volume, read-only in nginx). */
export const TLS_PATHS = {
    certificate: `${LAYOUT.tlsDir}/live/fullchain.pem`,
    key: `${LAYOUT.tlsDir}/live/privkey.pem`,
    /** HTTP-01 answers: <webroot>/.well-known/acme-challenge/<token>. */
    webroot: `${LAYOUT.tlsDir}/webroot`,
    /** The school CA's certificate (internal). */
    caCertificate: `${LAYOUT.tlsDir}/public/schul-ca.crt`,
} as const;

/** The fixed plain-HTTP path of the school CA's certificate, and of its German install page. */
export const CA_DOWNLOAD_PATH = "/schul-ca.crt";
export const CA_PAGE_PATH = "/schul-ca";

/** Mozilla's "intermediate" TLS 1.2 suites (ECDHE, AEAD only); TLS 1.3 suites are nginx's defaults. */
export const TLS_CIPHERS = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
] as const;

export function checkNginxTls(tls: NginxTls): void {
    if (!Number.isInteger(tls.publicHttpsPort) || tls.publicHttpsPort < 1 || tls.publicHttpsPort > 65535)
        throw new Error("renderNginxConf: tls.publicHttpsPort must be 1-65535");
    if (!Number.isInteger(tls.hstsMaxAge) || tls.hstsMaxAge < 0)
        throw new Error("renderNginxConf: tls.hstsMaxAge must be 0 or more");
}

/** The CA download and its German page (both servers), and the ACME challenge path (plain HTTP). */
function sharedLocations(tls: NginxTls): string {
    if (!tls.caDownload) return "";
    return `
        # The school CA's certificate (not secret) and how to install it, reachable before it is trusted.
        location = ${CA_DOWNLOAD_PATH} {
            alias ${TLS_PATHS.caCertificate};
            default_type application/x-x509-ca-cert;
            add_header Content-Disposition 'attachment; filename="schul-ca.crt"' always;
            add_header Cache-Control "no-cache" always;
        }
        location = ${CA_PAGE_PATH} {
            alias /etc/nginx/lernmanager/schul-ca.html;
            default_type "text/html; charset=utf-8";
        }
`;
}

/**
 * The plain-HTTP server with TLS on: ACME challenges, the CA download and /nginx-health are
 * answered; everything else is redirected (301) to the same URL over HTTPS.
 */
export function redirectServer(tls: NginxTls): string {
    const port = tls.publicHttpsPort === 443 ? "" : `:${tls.publicHttpsPort}`;
    return `
    server {
        listen ${LAYOUT.nginxPort} default_server;
        server_name _;

        location ^~ /.well-known/acme-challenge/ {
            root ${TLS_PATHS.webroot};
            default_type text/plain;
            try_files $uri =404;
        }
        location = /nginx-health {
            access_log off;
            default_type text/plain;
            return 200 "ok\\n";
        }
${sharedLocations(tls)}
        location / {
            return 301 https://$host${port}$request_uri;
        }
    }
`;
}

/** The Strict-Transport-Security value nginx sends over HTTPS ("" when hstsMaxAge is 0: none). */
export function hstsValue(tls: Pick<NginxTls, "hstsMaxAge" | "hstsIncludeSubdomains">): string {
    return tls.hstsMaxAge > 0
        ? `max-age=${tls.hstsMaxAge}${tls.hstsIncludeSubdomains ? "; includeSubDomains" : ""}`
        : "";
}

/** The first lines of the HTTPS server: listen, certificate, protocols, resumption, HSTS. */
export function tlsServerHead(tls: NginxTls, http2Directive: boolean): string {
    const hsts = hstsValue(tls) ? `        add_header Strict-Transport-Security "${hstsValue(tls)}" always;\n` : "";
    // nginx >= 1.25.1 turns HTTP/2 on with its own directive (`listen ... http2` is deprecated there).
    const listen = http2Directive
        ? `        listen ${LAYOUT.nginxTlsPort} ssl default_server;\n        http2 on;`
        : `        listen ${LAYOUT.nginxTlsPort} ssl http2 default_server;`;
    return `${listen}
        server_name _;
        # Written by the TLS agent; a renewed certificate is loaded by a graceful reload (healthcheck.sh).
        ssl_certificate ${TLS_PATHS.certificate};
        ssl_certificate_key ${TLS_PATHS.key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ${TLS_CIPHERS.join(":")};
        ssl_prefer_server_ciphers off;
        # Session resumption from a cache shared by the workers (no tickets: their key would never rotate).
        ssl_session_cache shared:lm_tls:10m;
        ssl_session_timeout 1d;
        ssl_session_tickets off;
${hsts}${sharedLocations(tls)}`;
}

/**
 * The client's address and scheme. From a trusted proxy, nginx takes the last address in
 * X-Forwarded-For that is not itself a trusted proxy, and the proxy's X-Forwarded-Proto; from
 * anywhere else both headers are ignored (and later overwritten for the app).
 */
export function clientAddressRules(trustedProxies: readonly string[]): string {
    for (const cidr of trustedProxies) {
        const [addr, bits] = cidr.split("/");
        if (!net.isIP(addr) || (bits !== undefined && !/^\d{1,3}$/.test(bits)))
            throw new Error(`renderNginxConf: trustedProxies entry ${cidr} is not a CIDR`);
    }
    if (trustedProxies.length === 0) {
        return `
    map $scheme $lm_forwarded_proto {
        default $scheme;
    }
`;
    }
    const list = trustedProxies.map((c) => `        ${c} 1;`).join("\n");
    return `
    # Trusted TLS proxies (config trustedProxies): only their forwarded headers count.
${trustedProxies.map((c) => `    set_real_ip_from ${c};`).join("\n")}
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    geo $realip_remote_addr $lm_via_trusted_proxy {
        default 0;
${list}
    }
    map "$lm_via_trusted_proxy:$http_x_forwarded_proto" $lm_forwarded_proto {
        "~^1:(?<proto>https?)$" $proto;
        default $scheme;
    }
`;
}

/** nginx's HTTPS settings from the stack's TLS config; undefined with tls off. */
export function nginxTlsFrom(tls: TlsConfig): NginxTls | undefined {
    if (tls.mode === "off") return undefined;
    return {
        publicHttpsPort: tls.httpsPort,
        hstsMaxAge: tls.hstsMaxAge,
        hstsIncludeSubdomains: tls.hstsIncludeSubdomains,
        caDownload: tls.mode === "internal",
    };
}
