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
    /** Its SHA-256 fingerprint (AB:CD:…), written by the TLS agent. */
    caFingerprint: `${LAYOUT.tlsDir}/public/schul-ca.sha256`,
} as const;

/** The fixed plain-HTTP path of the school CA's certificate, and of its German install page. */
export const CA_DOWNLOAD_PATH = "/schul-ca.crt";
export const CA_PAGE_PATH = "/schul-ca";
/** The school CA's SHA-256 fingerprint as plain text (shown on the install page). */
export const CA_FINGERPRINT_PATH = "/schul-ca.sha256";

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

/** The Strict-Transport-Security line of the HTTPS server ("" with hstsMaxAge 0). */
export function hstsHeader(tls: NginxTls): string {
    return hstsValue(tls) ? `add_header Strict-Transport-Security "${hstsValue(tls)}" always;` : "";
}

/**
 * The CA download and its German page (both servers). `headers`: the security headers (their
 * add_header lines replace the server's inherited ones).
 */
function sharedLocations(tls: NginxTls, headers: string): string {
    if (!tls.caDownload) return "";
    return `
        # The school CA's certificate (not secret) and how to install it, reachable before it is trusted.
        location = ${CA_DOWNLOAD_PATH} {
            alias ${TLS_PATHS.caCertificate};
            default_type application/x-x509-ca-cert;
${headers}
            add_header Content-Disposition 'attachment; filename="schul-ca.crt"' always;
            add_header Cache-Control "no-cache" always;
        }
        location = ${CA_FINGERPRINT_PATH} {
            alias ${TLS_PATHS.caFingerprint};
            default_type "text/plain; charset=utf-8";
${headers}
            add_header Cache-Control "no-cache" always;
        }
        # The page shows the fingerprint (server-side include of the location above).
        location = ${CA_PAGE_PATH} {
            alias /etc/nginx/lernmanager/schul-ca.html;
            # The bare type: ssi_types matches it without parameters.
            default_type text/html;
            charset utf-8;
            ssi on;
${headers}
            add_header Cache-Control "no-cache" always;
        }
`;
}

/**
 * The plain-HTTP server with TLS on: ACME challenges, the CA download and /nginx-health are
 * answered; everything else is redirected (301) to the same URL over HTTPS.
 */
export function redirectServer(
    tls: NginxTls,
    headers: string,
    connectionsPerAddress: number,
    listenFlags = "",
): string {
    const port = tls.publicHttpsPort === 443 ? "" : `:${tls.publicHttpsPort}`;
    return `
    server {
        listen ${LAYOUT.nginxPort} default_server${listenFlags};
        server_name _;
        limit_conn lm_addr ${connectionsPerAddress};

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
${sharedLocations(tls, headers)}
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

/**
 * The first lines of the HTTPS server: listen, certificate, protocols, resumption, the CA pages
 * (`headers`: the security headers and HSTS, which render/nginx.ts adds to every location).
 */
export function tlsServerHead(tls: NginxTls, http2Directive: boolean, headers: string, listenFlags = ""): string {
    // nginx >= 1.25.1 turns HTTP/2 on with its own directive (`listen ... http2` is deprecated there).
    const listen = http2Directive
        ? `        listen ${LAYOUT.nginxTlsPort} ssl default_server${listenFlags};\n        http2 on;`
        : `        listen ${LAYOUT.nginxTlsPort} ssl http2 default_server${listenFlags};`;
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
${sharedLocations(tls, headers)}`;
}

/**
 * The client's address, scheme and host. From a trusted proxy, nginx takes the last address in
 * X-Forwarded-For that is not itself a trusted proxy, the proxy's X-Forwarded-Proto, and the host
 * it was asked for (X-Forwarded-Host, with X-Forwarded-Port when the host names none); from
 * anywhere else these headers are ignored (and later overwritten for the app). The host is what the
 * browser sent, port included ($host drops it); `$lm_default_host` (set per server) stands in when
 * the client sent no Host.
 */
export function clientAddressRules(trustedProxies: readonly string[]): string {
    for (const cidr of trustedProxies) {
        const [addr, bits] = cidr.split("/");
        if (!net.isIP(addr) || (bits !== undefined && !/^\d{1,3}$/.test(bits)))
            throw new Error(`renderNginxConf: trustedProxies entry ${cidr} is not a CIDR`);
    }
    const clientHost = `
    map $http_host $lm_client_host {
        "" $lm_default_host;
        default $http_host;
    }
`;
    if (trustedProxies.length === 0) {
        return `${clientHost}
    map $scheme $lm_forwarded_proto {
        default $scheme;
    }
    map $scheme $lm_forwarded_host {
        default $lm_client_host;
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
${clientHost}
    # A host name or [IPv6] with an optional port; anything else is ignored.
    map "$lm_via_trusted_proxy:$http_x_forwarded_host" $lm_proxy_host {
        "~^1:(?<fhost>([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?)$" $fhost;
        default "";
    }
    map "$lm_via_trusted_proxy:$http_x_forwarded_port" $lm_proxy_port {
        "~^1:(?<fport>[0-9]{1,5})$" $fport;
        default "";
    }
    # host|scheme|port: a host that names its port as it is, else the proxy's port unless the scheme's own.
    map "$lm_proxy_host|$lm_forwarded_proto|$lm_proxy_port" $lm_forwarded_host {
        "~^\\|" $lm_client_host;
        "~^(?<fh>[^|]*:[0-9]+)\\|" $fh;
        "~^(?<fh>[^|]+)\\|[^|]*\\|$" $fh;
        "~^(?<fh>[^|]+)\\|https\\|443$" $fh;
        "~^(?<fh>[^|]+)\\|http\\|80$" $fh;
        "~^(?<fh>[^|]+)\\|[^|]*\\|(?<fp>[0-9]+)$" "$fh:$fp";
        default $lm_client_host;
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
