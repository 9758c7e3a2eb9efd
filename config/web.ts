// The web server's keys: where nginx is published, its image and limits, the URL prefixes it serves
// itself, the login rate limit.
import { stringList } from "./lists";
import type { KeyReader } from "./reader";
import { integer, type KeySpec } from "./spec";

/**
 * What the app fixes in its code and reads from no setting (Lernmanager's config.py and app.py; the
 * demo app mirrors both): the largest request body it takes, and the prefix of its X-Accel-Redirect
 * answers. nginx must agree with them, so they are no config values: a larger upload limit would let
 * bodies through that the app then refuses (a redirect to / with an error flash), another prefix
 * would break every download.
 */
export const APP_MAX_BODY_MB = 64;
export const APP_DOWNLOADS_PREFIX = "/protected-files/";

export const WEB_KEYS = {
    staticUrl: {
        kind: "string",
        format: "urlPrefix",
        default: "/static/",
        description: "URL prefix nginx serves static files under.",
    },
    uploadLimitMb: integer(
        [1, APP_MAX_BODY_MB],
        APP_MAX_BODY_MB,
        `Largest upload in MiB nginx takes, on uploadPaths only. At most ${APP_MAX_BODY_MB}: the app refuses larger bodies itself (its MAX_CONTENT_LENGTH is fixed in its code); below that nginx refuses larger uploads with 413.`,
        `the app refuses every request body over ${APP_MAX_BODY_MB} MiB itself: its MAX_CONTENT_LENGTH is fixed in its code and it reads no setting, so a larger nginx limit would only let uploads through that the app then turns into a redirect to / with an error`,
    ),
    bodyLimitKb: integer(
        [16, 65536],
        1024,
        "Largest request body in KiB everywhere but uploadPaths (forms, logins, JSON): a stranger cannot make nginx take in 64 MiB on any path.",
    ),
    uploadPaths: {
        kind: "array",
        default: [
            "/upload",
            "/admin/themen/import",
            "/admin/thema/*/material-upload",
            "/schueler/thema/*/aufgabe-*/artefakt/vorschau",
            "/schueler/thema/*/aufgabe-*/abgabe-pruefen",
        ],
        description:
            "The app's upload paths, the only ones that take bodies up to uploadLimitMb; `*` stands for any text within one path segment. The defaults are the demo app's and the real Lernmanager's (topic import, material upload, artefact preview and check).",
    },
    sessionCookie: {
        kind: "string",
        default: "session",
        description:
            "The app's session cookie (Flask's SESSION_COOKIE_NAME): an upload without it is refused by nginx (401) before nginx takes in its body, so anonymous uploads cost nothing; the app checks the session itself. \"\" lets anonymous uploads through (an app whose uploads need no login).",
    },
    connectionsPerAddress: integer(
        [10, 10000],
        200,
        "Open connections nginx allows one client address (a class of 30 behind one school NAT address, up to 6 connections per browser); beyond it 429.",
    ),
    contentSecurityPolicy: {
        kind: "string",
        default:
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'",
        description:
            'Content-Security-Policy nginx adds to responses whose app sent none; report-only (browsers log violations in the console, block nothing) until cspEnforce is true. "" sends none.',
    },
    cspEnforce: {
        kind: "boolean",
        default: false,
        description:
            "Send contentSecurityPolicy as Content-Security-Policy (enforced) instead of Content-Security-Policy-Report-Only: set it once a browser console shows no violations on the app's pages (docs/security.md).",
    },
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
            "Base image of nginx (Debian-based: the health check uses bash); pin a tag. With appQueue per-worker, nginx >= 1.27.3 keeps a keep-alive pool to the app; an older one opens a connection per request, as every nginx does with the default appQueue.",
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
    readonly uploadLimitMb: number;
    readonly bodyLimitKb: number;
    readonly uploadPaths: readonly string[];
    readonly connectionsPerAddress: number;
    readonly sessionCookie: string;
    readonly contentSecurityPolicy: string;
    readonly cspEnforce: boolean;
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
    if (staticUrl === APP_DOWNLOADS_PREFIX) {
        r.problems.push(
            `${r.show("staticUrl")} is the prefix of the app's X-Accel-Redirect downloads (fixed in its code): ` +
                `static files need another one. ${r.fix("staticUrl", "/static/")}`,
        );
    }
    return {
        staticUrl,
        uploadLimitMb: r.num("uploadLimitMb"),
        bodyLimitKb: r.num("bodyLimitKb"),
        uploadPaths: uploadPaths(r),
        connectionsPerAddress: r.num("connectionsPerAddress"),
        sessionCookie: sessionCookie(r),
        contentSecurityPolicy: contentSecurityPolicy(r),
        cspEnforce: r.flag("cspEnforce"),
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

const UPLOAD_PATH_RE = /^\/[A-Za-z0-9_.~*\/-]*$/;

/** `uploadPaths`: absolute paths, `*` for any text within a segment. */
function uploadPaths(r: KeyReader<WebKey>): string[] {
    return stringList(
        r,
        "uploadPaths",
        "a list of URL paths",
        '`pulumi config set --path "uploadPaths[0]" /admin/thema/*/material-upload`',
    ).filter((p, i) => {
        if (UPLOAD_PATH_RE.test(p) && !p.includes("**")) return true;
        r.problems.push(
            `${r.ns}uploadPaths[${i}] = ${JSON.stringify(p)}: must be a URL path like /admin/thema/*/material-upload (letters, digits, / . _ ~ - and * within a segment). Fix: correct or remove it.`,
        );
        return false;
    });
}

/** `contentSecurityPolicy`: one header line (no quotes that would end nginx's string, no line breaks). */
function contentSecurityPolicy(r: KeyReader<WebKey>): string {
    const policy = r.text("contentSecurityPolicy").trim();
    if (/["\\\r\n$]/.test(policy)) {
        r.problems.push(
            `${r.show("contentSecurityPolicy")}: must not contain double quotes, backslashes, $ or line breaks. Fix: \`pulumi config rm contentSecurityPolicy\` (the default policy)`,
        );
        return "";
    }
    return policy;
}

/** `sessionCookie`: a cookie name nginx can read as $cookie_<name> (or "" for none). */
function sessionCookie(r: KeyReader<WebKey>): string {
    const name = r.text("sessionCookie").trim();
    if (name && !/^[A-Za-z0-9_]+$/.test(name)) {
        r.problems.push(
            `${r.show("sessionCookie")}: must be a cookie name of letters, digits and _ (or "" for none). Fix: \`pulumi config set sessionCookie session\``,
        );
        return "";
    }
    return name;
}
