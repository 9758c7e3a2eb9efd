import { LAYOUT } from "../core/layout";
import { checkNginxGrading, gradingHttpBlock, gradingLocations, type NginxGrading } from "./grading";
import { checkNginxTls, clientAddressRules, hstsHeader, redirectServer, tlsServerHead, type NginxTls } from "./tls";
import { proxyTarget, retryErrorPages, retryGuard, upstreamBlock, UpstreamForm } from "./upstream";
import { TIMINGS, Timings } from "../core/timings";

/** What the generated nginx.conf depends on. */
export interface NginxSettings {
    /** URL prefix of static files, starts and ends with `/`. @default "/static/" */
    readonly staticUrl: string;
    /** Internal prefix the app names in `X-Accel-Redirect`. @default "/protected-files/" */
    readonly downloadsPrefix: string;
    /** Largest upload in MiB (the app's limit), on uploadPaths only. @default 64 */
    readonly uploadLimitMb: number;
    /** Largest request body in KiB on every other path. @default 1024 */
    readonly bodyLimitKb?: number;
    /** The app's upload paths (`*`: any text within a segment). @default UPLOAD_PATHS_DEFAULT */
    readonly uploadPaths?: readonly string[];
    /** The app's session cookie: uploads without it are refused (401) before their body is read; "" none. @default "" */
    readonly sessionCookie?: string;
    /** Open connections per client address. @default 200 */
    readonly connectionsPerAddress?: number;
    /** Content-Security-Policy added where the app sends none ("" none); report-only unless enforce. */
    readonly csp?: { readonly policy: string; readonly enforce: boolean };
    /** Path whose POSTs are rate-limited. @default "/login" */
    readonly loginPath: string;
    /** Login POSTs per client IP and minute; 0 = no limit. @default 30 */
    readonly loginRatePerMinute: number;
    /** The coupled timings (core/timings.ts): proxy timeouts, resolver cache, pool idle time. @default TIMINGS */
    readonly timings?: Timings;
    /**
     * gzip level 1-9. Level 1 costs nginx about half the CPU of level 5 per CSS/JS response and still
     * sends under 30 % of the bytes (bench/results/tuning.md). @default 1
     */
    readonly gzipLevel?: number;
    /** Serve the precompressed name.gz of static files (bench/tunes/no-gzip-static.json). @default true */
    readonly gzipStatic?: boolean;
    /**
     * Pass the browser's Accept-Encoding to the app, which compresses its own answers (the real app's
     * Flask-Compress, gzip level 6 in Python, in every worker). false: the app gets none and nginx's
     * gzip compresses what it sends (bench/tunes/nginx-compresses.json). @default true
     */
    readonly appCompresses?: boolean;
    /**
     * Give every request an id (nginx's $request_id), pass it to the app as X-Request-ID and log it
     * with the upstream's connect and header times, so each nginx line can be joined with gunicorn's
     * (config appAccessLog): where a slow request spent its time (bench/tunes/trace-requests.json).
     * @default false
     */
    readonly traceRequests?: boolean;
    /** Write the access log in 64 KB batches rather than per request (bench/tunes/lean-logs.json). @default true */
    readonly accessLogBuffered?: boolean;
    /** Idle pooled connections per nginx worker (render/upstream.ts). @default UPSTREAM_POOL.idleConnections */
    readonly upstreamIdleConnections?: number;
    /**
     * A listening socket per nginx worker on every port (`listen ... reuseport`): the kernel spreads
     * new connections over the workers instead of the workers taking turns at one shared queue
     * (bench/tunes/reuse-port.json; measured, no gain: bench/results/tuning.md). @default false
     */
    readonly reusePort?: boolean;
    /**
     * nginx worker processes; 0 means one per core (`auto`). On two cores shared with gunicorn's
     * processes, fewer nginx workers mean fewer processes taking turns at the CPU
     * (bench/tunes/nginx-one-worker.json; measured, no gain: bench/results/tuning.md). @default 0
     */
    readonly workerProcesses?: number;
    /** HTTPS (render/tls.ts); absent: plain HTTP only. */
    readonly tls?: NginxTls;
    /** CIDRs of TLS proxies whose X-Forwarded-For/-Proto/-Host/-Port count (render/tls.ts). @default [] */
    readonly trustedProxies?: readonly string[];
    /**
     * The host port plain HTTP is published on: the Host the app sees when a client sent none (80: no
     * port). @default 80
     */
    readonly publicPort?: number;
    /** The grading service behind /grading/ (render/grading.ts); absent: /grading/ answers 404. */
    readonly grading?: NginxGrading;
}

export const NGINX_DEFAULTS = {
    gzipLevel: 1,
    gzipStatic: true,
    appCompresses: true,
    traceRequests: false,
    accessLogBuffered: true,
    reusePort: false,
    workerProcesses: 0,
    bodyLimitKb: 1024,
    connectionsPerAddress: 200,
} as const;

/** The demo app's upload path (the stack's tests); config/web.ts adds the real app's. */
export const UPLOAD_PATHS_DEFAULT = ["/upload"] as const;

/** MIME types compressed besides text/html (which gzip always includes). */
export const GZIP_TYPES = [
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "image/svg+xml",
    "text/plain",
    "text/xml",
    "application/xml",
] as const;

/** Security headers added to every answer unless the app already sent its own. */
export const SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
} as const;

/**
 * The app's answers are never stored unless the app says otherwise (Cache-Control): on a shared
 * classroom PC the next student must not get the last one's pages from the browser's cache or its
 * back button. Static files keep their own caching (expires).
 */
export const APP_CACHE_CONTROL = "no-store";

/**
 * The `allow` lines of the stack's own addresses (loopback, the stack network's subnet), written by
 * the nginx container's start.sh from its routes: /healthz answers only them.
 */
export const INTERNAL_ALLOW_FILE = "/tmp/nginx-internal.conf";

/** An upload path pattern as a regular expression (`*`: any text within one path segment). */
export function uploadPathRegex(pattern: string): string {
    if (!/^\/[A-Za-z0-9_.~*\/-]*$/.test(pattern)) throw new Error(`renderNginxConf: bad upload path ${pattern}`);
    return pattern
        .split("*")
        .map((part) => part.replace(/[.]/g, "\\."))
        .join("[^/]*");
}

/**
 * Renders nginx.conf for the nginx container. Pure and total: every input is checked, the same
 * settings always give the same text.
 *
 * The app is proxied by its network alias, resolved with Docker's DNS at request time: nginx starts
 * and keeps running while the app is briefly unreachable, and finds a replaced app container within
 * `resolverValidSeconds`. `form` says how (render/upstream.ts): with a keep-alive pool (`pooled`,
 * nginx >= 1.27.3) or a new connection per request (`per-request`, every nginx).
 */
export function renderNginxConf(settings: NginxSettings, form: UpstreamForm = "per-request"): string {
    const s = { ...NGINX_DEFAULTS, ...settings };
    const t = s.timings ?? TIMINGS;
    const prefixRe = /^\/([A-Za-z0-9_-]+\/)+$/;
    if (!prefixRe.test(s.staticUrl))
        throw new Error(`renderNginxConf: staticUrl ${s.staticUrl} must look like /static/`);
    if (!prefixRe.test(s.downloadsPrefix)) {
        throw new Error(`renderNginxConf: downloadsPrefix ${s.downloadsPrefix} must look like /protected-files/`);
    }
    if (!/^\/[A-Za-z0-9_./-]*$/.test(s.loginPath)) throw new Error(`renderNginxConf: bad loginPath ${s.loginPath}`);
    // The timings are checked where they are derived (core/timings.ts).
    for (const key of ["uploadLimitMb", "gzipLevel", "upstreamIdleConnections"] as const) {
        const value = s[key] ?? 1;
        if (!Number.isInteger(value) || value < 1)
            throw new Error(`renderNginxConf: ${key} must be a positive whole number`);
    }
    if (s.gzipLevel > 9) throw new Error("renderNginxConf: gzipLevel must be 1-9");
    if (s.tls) checkNginxTls(s.tls);
    if (s.grading) checkNginxGrading(s.grading);
    if (!Number.isInteger(s.loginRatePerMinute) || s.loginRatePerMinute < 0) {
        throw new Error("renderNginxConf: loginRatePerMinute must be 0 or more");
    }

    if (!Number.isInteger(s.workerProcesses) || s.workerProcesses < 0) {
        throw new Error("renderNginxConf: workerProcesses must be 0 (one per core) or a positive whole number");
    }
    for (const key of ["bodyLimitKb", "connectionsPerAddress"] as const) {
        if (!Number.isInteger(s[key]) || s[key] < 1)
            throw new Error(`renderNginxConf: ${key} must be a positive whole number`);
    }
    const csp = s.csp ?? { policy: "", enforce: false };
    if (/["\\\r\n$]/.test(csp.policy)) throw new Error("renderNginxConf: csp policy must be one plain header line");
    const uploads = s.uploadPaths ?? UPLOAD_PATHS_DEFAULT;
    const listenFlags = s.reusePort ? " reuseport" : "";
    const cookie = s.sessionCookie ?? "";
    if (cookie && !/^[A-Za-z0-9_]+$/.test(cookie)) throw new Error(`renderNginxConf: bad sessionCookie ${cookie}`);
    const sessionGate = cookie
        ? `
            # Only with a session (the app checks it): an anonymous body is refused before nginx takes it in.
            if ($cookie_${cookie} = "") {
                return 401;
            }`
        : "";

    const accessLog = s.accessLogBuffered
        ? "# Written in 64 KB batches (at least every second): one write per batch instead of per request.\n" +
          "    access_log /dev/stdout lernmanager buffer=64k flush=1s;"
        : "access_log /dev/stdout lernmanager;";
    const headers: Record<string, string> = { ...SECURITY_HEADERS };
    if (csp.policy)
        headers[csp.enforce ? "Content-Security-Policy" : "Content-Security-Policy-Report-Only"] = csp.policy;
    const headerMaps = [...Object.entries(headers), ["Cache-Control", APP_CACHE_CONTROL]]
        .map(([name, value]) => {
            const v = varName(name);
            return `    map $upstream_http_${name.toLowerCase().replace(/-/g, "_")} $${v} {\n        "" "${value}";\n        default "";\n    }`;
        })
        .join("\n");
    // add_header is inherited only by locations without one of their own: every location that adds
    // a header repeats these (the 429, 503 and CA pages, the app's locations).
    const securityLines = (indent: string, withHsts: boolean) =>
        [
            ...Object.keys(headers).map((name) => `${indent}add_header ${name} $${varName(name)} always;`),
            ...(withHsts && s.tls && hstsHeader(s.tls) ? [`${indent}${hstsHeader(s.tls)}`] : []),
        ].join("\n");
    const addHeaders = securityLines("        ", true);
    const pageHeaders = securityLines("            ", true);
    const appHeaders = `${pageHeaders}\n            add_header Cache-Control $${varName("Cache-Control")} always;`;
    const proxy = `${proxyTarget(form)}
${appHeaders}
            # The host as the browser typed it, port included: the app compares it with the Referer
            # and Origin of every form (Flask-WTF's strict referrer check on HTTPS), and $host drops
            # the port. From a trusted proxy: the host the proxy was asked for (render/tls.ts).
            proxy_set_header Host $lm_forwarded_host;
            # Overwritten, never appended: a client-sent header has no effect.
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $remote_addr;
            # The client's scheme: $scheme, or a trusted proxy's X-Forwarded-Proto (render/tls.ts).
            proxy_set_header X-Forwarded-Proto $lm_forwarded_proto;
            proxy_set_header X-Forwarded-Host $lm_forwarded_host;${
                s.appCompresses
                    ? ""
                    : `
            # The app answers uncompressed; nginx's gzip compresses for the browsers that accept it.
            proxy_set_header Accept-Encoding "";`
            }${
                s.traceRequests
                    ? `
            proxy_set_header X-Request-ID $request_id;`
                    : ""
            }
            # The app is on the same host: a connect that takes longer means it is gone.
            proxy_connect_timeout 1s;
            proxy_send_timeout ${t.proxyTimeoutSeconds}s;
            proxy_read_timeout ${t.proxyTimeoutSeconds}s;
            # Try the other app container (during an update both answer the alias) when a connection
            # fails or times out. A request that was already sent is retried only if its method is
            # idempotent (nginx never resends a POST it has passed on), and only within 10 s.
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
            proxy_next_upstream_timeout 10s;`;
    // nginx's own 502 (no answer: a worker died mid-request, a container went away) and 504 go to
    // one more attempt when it is safe; see @lm_retry.
    const retry = retryErrorPages();
    const loginLimit =
        s.loginRatePerMinute > 0
            ? `
        # A whole minute's logins may come at once (a class behind one school address); beyond
        # that 429 with a short German page.
        location = ${s.loginPath} {
            limit_req zone=lm_login burst=${s.loginRatePerMinute} nodelay;
            error_page 429 /lernmanager-too-many-logins.html;
${proxy}
${retry}
        }
        location = /lernmanager-too-many-logins.html {
            internal;
            root /etc/nginx/lernmanager;
${pageHeaders}
            add_header Retry-After 60 always;
            add_header Cache-Control "no-store" always;
        }
`
            : "";
    const loginZone =
        s.loginRatePerMinute > 0
            ? `
    # Login POSTs are limited per client address; other methods have an empty key (no limit).
    map $request_method $lm_login_key {
        POST $binary_remote_addr;
        default "";
    }
    limit_req_zone $lm_login_key zone=lm_login:10m rate=${s.loginRatePerMinute}r/m;
    limit_req_status 429;
`
            : "";

    return `# Generated by lernmanager-stack (render/nginx.ts); baked into the nginx image.
worker_processes ${s.workerProcesses === 0 ? "auto" : s.workerProcesses};
pid /tmp/nginx.pid;
error_log stderr warn;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    charset_types text/css text/plain text/xml application/javascript text/javascript application/json image/svg+xml;
    server_tokens off;

    # Request bodies beyond client_body_buffer_size and large app answers wait on disk (the spool
    # volume), never in the memory-backed /tmp: twenty 64 MiB uploads at once cost no memory.
    client_body_temp_path ${LAYOUT.nginxSpoolDir}/body 1 2;
    proxy_temp_path ${LAYOUT.nginxSpoolDir}/proxy 1 2;
    # The root filesystem is read-only: the unused temp paths are on the small /tmp tmpfs.
    fastcgi_temp_path /tmp/nginx-fastcgi;
    uwsgi_temp_path /tmp/nginx-uwsgi;
    scgi_temp_path /tmp/nginx-scgi;

    log_format lernmanager '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                           '"$http_referer" "$http_user_agent" rt=$request_time urt=$upstream_response_time${
                               s.traceRequests
                                   ? " '\n                           'rid=$request_id uct=$upstream_connect_time uht=$upstream_header_time"
                                   : ""
                           }';
    ${accessLog}

    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    open_file_cache max=2000 inactive=60s;
    # Short: the app's entry script replaces changed static files on every start.
    open_file_cache_valid 5s;
    open_file_cache_errors on;

    # Slow or idle clients are cut off here; nginx buffers bodies so gunicorn workers are never held.
    client_header_timeout 15s;
    client_body_timeout 30s;
    send_timeout 60s;
    keepalive_timeout 30s;
    keepalive_requests 1000;
    client_header_buffer_size 4k;
    large_client_header_buffers 4 16k;
    # Small bodies everywhere; uploadLimitMb only on the app's upload paths (below).
    client_max_body_size ${s.bodyLimitKb}k;
    client_body_buffer_size 256k;
    proxy_buffering on;
    proxy_request_buffering on;
    proxy_buffers 32 16k;

    gzip on;
    gzip_comp_level ${s.gzipLevel};
    gzip_min_length 256;
    gzip_vary on;
    gzip_proxied any;
    gzip_types ${GZIP_TYPES.join(" ")};

    # Docker's embedded DNS; the app alias is looked up at request time and cached briefly.
    resolver ${LAYOUT.dockerDns} valid=${t.resolverValidSeconds}s ipv6=off;
    resolver_timeout 2s;
${upstreamBlock(form, { idleConnections: s.upstreamIdleConnections, timings: t })}
${headerMaps}
${clientAddressRules(s.trustedProxies ?? [])}${loginZone}${gradingHttpBlock(s.grading)}
    # Open connections per client address (the real client's behind a trusted proxy), sized for a
    # class behind one NAT address; beyond it 429. With HTTP/2 each open request counts.
    limit_conn_zone $binary_remote_addr zone=lm_addr:10m;
    limit_conn_status 429;
    limit_conn_log_level warn;
${s.tls ? redirectServer(s.tls, securityLines("            ", false), s.connectionsPerAddress, listenFlags) : ""}
    server {
${
    s.tls
        ? tlsServerHead(s.tls, form === "pooled", pageHeaders, listenFlags)
        : `        listen ${LAYOUT.nginxPort} default_server${listenFlags};
        server_name _;
`
}        # The Host the app sees when the client sent none (HTTP/1.0): the name with the published port.
        limit_conn lm_addr ${s.connectionsPerAddress};
        set $lm_default_host "${defaultHost(s.tls ? s.tls.publicHttpsPort : (s.publicPort ?? 80), s.tls ? 443 : 80)}";
        autoindex off;

        # Methods the app uses; anything else never reaches it.
        if ($request_method !~ ^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)$) {
            return 405;
        }
${addHeaders}

        location = /nginx-health {
            access_log off;
            default_type text/plain;
            return 200 "ok\\n";
        }

        location ^~ ${s.staticUrl} {
            alias ${LAYOUT.staticDir}/;
            expires 30d;
            # name.gz beside a text file, compressed once at start-up (containers/runtime/app/lm_static.py).
            gzip_static ${s.gzipStatic ? "on" : "off"};
            location ~ /\\. {
                return 404;
            }
        }

        # Downloads the app approved with X-Accel-Redirect; never reachable directly.
        location ^~ ${s.downloadsPrefix} {
            internal;
            alias ${LAYOUT.nginxUploadsDir}/;
${appHeaders}
        }

        # Dotfiles (.git, .env, ...) are never served or proxied.
        location ~ /\\.(?!well-known/) {
            return 404;
        }

        # App unreachable (stopped, restarting, being replaced): a friendly page, 503 + Retry-After.
        error_page 502 503 504 =503 /lernmanager-unavailable.html;
        location = /lernmanager-unavailable.html {
            internal;
            root /etc/nginx/lernmanager;
${pageHeaders}
            add_header Retry-After 10 always;
            add_header Cache-Control "no-store" always;
        }
        # The look of those pages, served by nginx itself (the app may be down).
        location = /lernmanager-pages.css {
            root /etc/nginx/lernmanager;
            expires 1h;
        }
${loginLimit}${gradingLocations(s.grading, { proxy, pageHeaders, appHeaders, sessionGate })}
        # The app's health (its version, the database) only for the stack itself: nginx's health check,
        # the deploy's smoke test, the server's own loopback (through Docker's proxy, from the stack
        # network's gateway). A client on the school network is refused. Retried like a page: right
        # after an update nginx may still hold the removed container's address for a moment, and a
        # health check must not report that moment as the app being down.
        location = /healthz {
            include ${INTERNAL_ALLOW_FILE};
            deny all;
${proxy}
${retry}
        }

        # The app's upload paths (uploadPaths): the only ones that take bodies up to uploadLimitMb.
        location ~ ^(${uploads.map(uploadPathRegex).join("|")})$ {
            client_max_body_size ${s.uploadLimitMb}m;${sessionGate}
${proxy}
${retry}
        }

        location / {
${proxy}
${retry}
        }

        # One more attempt for a GET or HEAD that got no answer from the app (another worker or
        # container takes it), and for any request the app received nothing of. Other requests get
        # the friendly page: they may have been processed.
        location @lm_retry {
            recursive_error_pages on;
            error_page 502 503 504 =503 /lernmanager-unavailable.html;
${retryGuard()}
${proxy}
        }
    }
}
`;
}

/** `$host`, with `:port` unless the port is the scheme's own. */
function defaultHost(port: number, schemePort: number): string {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`renderNginxConf: bad port ${port}`);
    return port === schemePort ? "$host" : `$host:${port}`;
}

function varName(header: string): string {
    return `lm_${header.toLowerCase().replace(/-/g, "_")}`;
}

/** Both forms of nginx.conf: the nginx image picks one by its nginx version (containers/web/Dockerfile). */
export function renderNginxConfs(settings: NginxSettings): Record<UpstreamForm, string> {
    return { pooled: renderNginxConf(settings, "pooled"), "per-request": renderNginxConf(settings, "per-request") };
}
