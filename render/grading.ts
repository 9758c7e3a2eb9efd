// nginx's part of the grading service (the real app's "KI-Bewertung"): the teacher's browser sends a
// class's work as one large ZIP to /grading/jobs; nginx asks the app whether the session may grade
// (auth_request to /internal/auth-check), then forwards it to the service with the service's token,
// so the app's workers never carry the upload and the token never reaches a browser. /internal/ is
// the door between nginx, the service and the app: the public gets 404 there.

/**
 * The file the nginx container's start.sh writes from the token in its environment (tmpfs, mode
 * 0600, owned by nginx's user): the token is in neither the image nor nginx.conf.
 */
export const GRADING_AUTH_FILE = "/tmp/nginx-grading-auth.conf";

/** The app's answer to "may this session grade?": 204 yes, 401 no (a subrequest nginx makes). */
export const AUTH_CHECK_PATH = "/internal/auth-check";

/** What nginx needs of the grading service; absent: /grading/ answers 404. */
export interface NginxGrading {
    /** http://host:port, as nginx reaches it (resolved at request time: a name may come and go). */
    readonly url: string;
    /** Largest upload in MiB. */
    readonly uploadLimitMb: number;
    /** Seconds nginx waits for the service between two reads or writes. */
    readonly timeoutSeconds: number;
    /** CIDRs the service calls /internal/grading/ from ([]: from nowhere). */
    readonly callbackFrom: readonly string[];
}

/** What the grading locations take from the rest of nginx.conf. */
export interface GradingParts {
    /** The lines that proxy to the app (render/nginx.ts), headers included. */
    readonly proxy: string;
    /** The security headers of a page nginx answers itself. */
    readonly pageHeaders: string;
    /** The security headers of a proxied answer (Cache-Control included). */
    readonly appHeaders: string;
    /** The session cookie test (an `if` returning 401), or "". */
    readonly sessionGate: string;
}

const URL_RE = /^http:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;
const CIDR_RE = /^[0-9A-Fa-f:.]+(\/\d{1,3})?$/;

export function checkNginxGrading(g: NginxGrading): void {
    if (!URL_RE.test(g.url)) throw new Error(`renderNginxConf: grading url ${g.url} must be http://host:port`);
    for (const [key, value] of [
        ["uploadLimitMb", g.uploadLimitMb],
        ["timeoutSeconds", g.timeoutSeconds],
    ] as const) {
        if (!Number.isInteger(value) || value < 1)
            throw new Error(`renderNginxConf: grading ${key} must be a positive whole number`);
    }
    for (const cidr of g.callbackFrom)
        if (!CIDR_RE.test(cidr)) throw new Error(`renderNginxConf: bad grading callback address ${cidr}`);
}

/** http level: the addresses the service calls back from. */
export function gradingHttpBlock(g: NginxGrading | undefined): string {
    if (!g || g.callbackFrom.length === 0) return "";
    return `
    # The grading service's addresses (gradingCallbackFrom, the client's address behind a trusted
    # proxy): the only callers of /internal/grading/.
    geo $lm_grading_caller {
        default 0;
${g.callbackFrom.map((c) => `        ${c} 1;`).join("\n")}
    }
`;
}

/** server level: /internal/ and /grading/. */
export function gradingLocations(g: NginxGrading | undefined, parts: GradingParts): string {
    const internal = `
        # /internal/ is the app's door for nginx and the grading service, never the public's: 404.
        location ^~ /internal/ {
            return 404;
        }`;
    if (!g) {
        return `${internal}
        # No grading service (gradingServiceUrl ""): a clear answer, not the app's.
        location ^~ /grading/ {
            default_type application/json;
${parts.pageHeaders}
            add_header Cache-Control "no-store" always;
            return 404 '{"error": "Bewertungsdienst nicht konfiguriert (gradingServiceUrl)"}';
        }
`;
    }
    const callbacks =
        g.callbackFrom.length > 0
            ? `
        # The service's callbacks (its results; the app checks their secret), from its addresses only.
        location ^~ /internal/grading/ {
            if ($lm_grading_caller = 0) {
                return 404;
            }
${parts.proxy}
        }`
            : "";
    return `${internal}${callbacks}
        # auth_request's question to the app, with the browser's cookies and without its body: may
        # this session grade? 204 yes, 401 no. Internal: a browser asking gets the 404 above.
        location = ${AUTH_CHECK_PATH} {
            internal;
            # The subrequest carries the upload's Content-Length: no limit here (the body stays
            # behind), else every upload over bodyLimitKb would fail the check with 413.
            client_max_body_size 0;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
${parts.proxy}
        }

        # A teacher's upload to the grading service (gradingServiceUrl): /grading/<path> is the
        # service's /<path>. The app answers auth_request before nginx reads the body, so a student's
        # or an anonymous upload costs nothing and never reaches the service; the body waits on the
        # spool volume. The service gets its token (from start.sh's file), never the session cookie.
        location ^~ /grading/ {
            client_max_body_size ${g.uploadLimitMb}m;${parts.sessionGate}
            auth_request ${AUTH_CHECK_PATH};
            error_page 500 502 503 504 = @lm_grading_down;
            set $lm_grading ${g.url};
            rewrite ^/grading(/.*)$ $1 break;
            proxy_pass $lm_grading;
            proxy_http_version 1.1;
            proxy_set_header Connection close;
            include ${GRADING_AUTH_FILE};
            proxy_set_header Host $proxy_host;
            proxy_set_header Cookie "";
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $lm_forwarded_proto;
            proxy_connect_timeout 5s;
            proxy_send_timeout ${g.timeoutSeconds}s;
            proxy_read_timeout ${g.timeoutSeconds}s;
            # An upload is never sent twice.
            proxy_next_upstream off;
${parts.appHeaders}
        }
        # The service (or the app's answer to auth_request) unreachable: JSON the upload page shows.
        location @lm_grading_down {
            default_type application/json;
${parts.pageHeaders}
            add_header Retry-After 60 always;
            add_header Cache-Control "no-store" always;
            return 503 '{"error": "Der Bewertungsdienst ist gerade nicht erreichbar. Bitte später erneut versuchen."}';
        }
`;
}
