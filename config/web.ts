// The web server's keys: where nginx is published, its image and limits, the URL prefixes it serves
// itself, the login rate limit.
import type { KeyReader } from "./reader";
import { integer, type KeySpec } from "./spec";

export const WEB_KEYS = {
    staticUrl: {
        kind: "string",
        format: "urlPrefix",
        default: "/static/",
        description: "URL prefix nginx serves static files under.",
    },
    downloadsPrefix: {
        kind: "string",
        format: "urlPrefix",
        default: "/protected-files/",
        description: "Internal prefix for X-Accel-Redirect downloads from the uploads volume.",
    },
    uploadLimitMb: integer(
        [1, 4096],
        64,
        "Largest request body in MiB, enforced by nginx and passed to the app as MAX_UPLOAD_MB.",
    ),
    bindAddress: {
        kind: "string",
        format: "ipv4",
        default: "127.0.0.1",
        description: "Host address nginx's port is published on (0.0.0.0 for all interfaces).",
    },
    port: integer([1, 65535], 8080, "Host port nginx is published on."),
    allowPlainHttp: {
        kind: "boolean",
        default: false,
        description:
            "Publish plain HTTP on an address other than loopback without tls and without trustedProxies: every password and every student's data would cross the school network readable by anyone on it. Only for a closed test network; a school sets tls (or trustedProxies behind its TLS proxy) instead.",
    },
    nginxImage: {
        kind: "string",
        format: "image",
        default: "nginx:1.27.5-bookworm",
        description:
            "Base image of nginx (Debian-based: the health check uses bash); pin a tag. nginx >= 1.27.3 keeps a keep-alive pool to the app; an older one opens a connection per request.",
    },
    loginPath: {
        kind: "string",
        format: "urlPath",
        default: "/login",
        description: "Path whose POSTs are rate-limited per client IP.",
    },
    loginRatePerMinute: integer(
        [0, 6000],
        60,
        "Login POSTs allowed per client IP and minute, all of them at once if they come together (a class behind one school address logs in within seconds); beyond that 429 with a short German page. 0 turns the limit off.",
    ),
    nginxMemoryMb: integer([32, 65536], 512, "Memory limit of the nginx container in MiB."),
} as const satisfies Record<string, KeySpec>;

export type WebKey = keyof typeof WEB_KEYS;

export interface WebConfig {
    readonly staticUrl: string;
    readonly downloadsPrefix: string;
    readonly uploadLimitMb: number;
    readonly bindAddress: string;
    readonly port: number;
    readonly allowPlainHttp: boolean;
    readonly nginxImage: string;
    readonly loginPath: string;
    readonly loginRatePerMinute: number;
    readonly nginxMemoryMb: number;
}

export function readWeb(r: KeyReader<WebKey>): WebConfig {
    const staticUrl = r.text("staticUrl");
    const downloadsPrefix = r.text("downloadsPrefix");
    if (staticUrl === downloadsPrefix) {
        r.problems.push(
            `${r.show("downloadsPrefix")} equals staticUrl: downloads and static files need different prefixes. ` +
                r.fix("downloadsPrefix", "/protected-files/"),
        );
    }
    return {
        staticUrl,
        downloadsPrefix,
        uploadLimitMb: r.num("uploadLimitMb"),
        bindAddress: r.text("bindAddress"),
        port: r.num("port"),
        allowPlainHttp: r.flag("allowPlainHttp"),
        nginxImage: r.text("nginxImage"),
        loginPath: r.text("loginPath"),
        loginRatePerMinute: r.num("loginRatePerMinute"),
        nginxMemoryMb: r.num("nginxMemoryMb"),
    };
}

/**
 * Plain HTTP on the school network only when asked for: with tls off and no TLS proxy in front, a
 * port published on anything but loopback carries passwords and students' data unencrypted.
 */
export function checkPlainHttp(
    r: KeyReader<WebKey>,
    web: Pick<WebConfig, "bindAddress" | "allowPlainHttp">,
    https: { readonly tlsOn: boolean; readonly behindProxy: boolean },
): void {
    const loopback = web.bindAddress.startsWith("127.");
    if (loopback || https.tlsOn || https.behindProxy || web.allowPlainHttp) return;
    r.problems.push(
        `${r.ns}bindAddress = ${JSON.stringify(web.bindAddress)} publishes plain HTTP on the school network ` +
            "(tls is off and no trustedProxies are set): passwords and students' data would travel unencrypted. " +
            "Fix: `pulumi config set tls internal` and `pulumi config set domain lernen.schule-am-walde.de` " +
            "(or acme, or files; docs/https.md), or behind the school's TLS proxy " +
            '`pulumi config set --path "trustedProxies[0]" 10.0.0.7`; only on a closed test network ' +
            "`pulumi config set allowPlainHttp true`.",
    );
}
