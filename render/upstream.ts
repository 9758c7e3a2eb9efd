import { LAYOUT } from "../core/layout";
import { TIMINGS, Timings } from "../core/timings";

/**
 * How nginx reaches the app. Both forms resolve the app's network alias at request time through
 * Docker's DNS (nginx starts and stays up while the app is away, and finds a replaced app container
 * within the resolver's cache time):
 *  - `pooled`: an `upstream` block whose server is re-resolved (`resolve`, nginx >= 1.27.3) with a
 *    keep-alive pool: a request reuses an idle connection to gunicorn instead of opening one;
 *  - `per-request`: `proxy_pass` through a variable (every nginx): a new connection per request,
 *    closed after the answer.
 * The nginx image decides at build time by its nginx version (containers/web/Dockerfile).
 */
export type UpstreamForm = "pooled" | "per-request";

/** The first nginx version that keeps a keep-alive pool to a server resolved at run time. */
export const POOLED_MIN_NGINX_VERSION = "1.27.3";

/** Name of the upstream block (pooled form). */
export const UPSTREAM_NAME = "lm_app";

export const UPSTREAM_POOL = {
    /** Idle connections each nginx worker keeps to the app (more are closed after their answer). */
    idleConnections: 32,
    /**
     * Seconds an idle pooled connection is kept (core/timings.ts `poolIdleSeconds`). Shorter than
     * gunicorn's keep-alive, so an idle connection is always ended by nginx, never by gunicorn while
     * nginx sends a request on it; a stopping worker keeps serving its idle ones a little longer
     * (containers/runtime/app/lm_idle.py).
     */
    idleTimeoutSeconds: TIMINGS.poolIdleSeconds,
    /** Requests per pooled connection before nginx closes it (keeps a connection's memory bounded). */
    requestsPerConnection: 10000,
} as const;

/** How the pool is sized and timed: UPSTREAM_POOL with the stack's timings unless given. */
export interface PoolSettings {
    /** Idle connections each nginx worker keeps (bench/tunes/pool-idle-8.json). @default UPSTREAM_POOL.idleConnections */
    readonly idleConnections?: number;
    /** @default TIMINGS */
    readonly timings?: Timings;
}

/**
 * The http-level part: the retry map (both forms) and, for the pooled form, the `upstream` block.
 * A request the app received nothing of may go once more whatever its method: in the per-request
 * form too, where a stopping container (its listener plugged, containers/runtime/app/lm_drain.py)
 * makes the connect time out or be refused while it is still in Docker's DNS.
 */
export function upstreamBlock(form: UpstreamForm, pool: PoolSettings = {}): string {
    const map = `
    # One more attempt (@lm_retry) for a request the app received nothing of: its last attempt sent
    # 0 bytes (a connection refused, timed out, or found closed before sending), whatever its method;
    # and for a GET or HEAD that got no answer (502). nginx's own next-upstream retry does not cover
    # a container that leaves the re-resolved upstream while a request waits on it: the request then
    # has no further try.
    map "$request_method|$upstream_status|$upstream_bytes_sent" $lm_retry_ok {
        volatile;
        "~[|, ]0$" 1;
        "~^(GET|HEAD)[|](.*[, ])?502[|]" 1;
        default 0;
    }
`;
    if (form === "per-request") return map;
    const p = {
        ...UPSTREAM_POOL,
        idleConnections: pool.idleConnections ?? UPSTREAM_POOL.idleConnections,
        idleTimeoutSeconds: (pool.timings ?? TIMINGS).poolIdleSeconds,
    };
    return `${map}
    # The app by its network alias, re-resolved through Docker's DNS (resolver above) while nginx
    # runs: both containers of an update are in it for a moment. Idle connections are pooled.
    upstream ${UPSTREAM_NAME} {
        zone ${UPSTREAM_NAME} 64k;
        # max_fails=0: a failed attempt never takes a container out of rotation (a stopping one
        # refuses for a moment, and a single failure would otherwise bench it for 10 s, or answer
        # every request with 502 while it is the only one): each request tries, and goes on to the
        # other container on error (proxy_next_upstream), as the per-request form does.
        server ${LAYOUT.appAlias}:${LAYOUT.appPort} resolve max_fails=0;
        keepalive ${p.idleConnections};
        keepalive_timeout ${p.idleTimeoutSeconds}s;
        keepalive_requests ${p.requestsPerConnection};
    }
`;
}

/** Lines indented for a location block. */
const inLocation = (lines: string[]) => lines.map((l) => `            ${l}`).join("\n");

/** The lines of a proxying location that name the app and the upstream connection's lifetime. */
export function proxyTarget(form: UpstreamForm): string {
    if (form === "pooled") {
        return inLocation([
            `proxy_pass http://${UPSTREAM_NAME};`,
            "proxy_http_version 1.1;",
            "# The connection goes back to the pool after the answer (an empty Connection header).",
            'proxy_set_header Connection "";',
        ]);
    }
    return inLocation([
        `set $lm_app http://${LAYOUT.appAlias}:${LAYOUT.appPort};`,
        "proxy_pass $lm_app;",
        "proxy_http_version 1.1;",
        "# No upstream keepalive pool exists (request-time resolution), so nginx closes every",
        "# upstream connection; saying so spares gunicorn its keep-alive bookkeeping.",
        "proxy_set_header Connection close;",
    ]);
}

/** The error pages of a proxying location: which failures get one more attempt (@lm_retry), in both forms. */
export function retryErrorPages(): string {
    return inLocation([
        "recursive_error_pages on;",
        "error_page 502 504 = @lm_retry;",
        "error_page 503 =503 /lernmanager-unavailable.html;",
    ]);
}

/** In @lm_retry: the requests that may not be sent once more ($lm_retry_ok, upstreamBlock) get the friendly page instead. */
export function retryGuard(): string {
    return inLocation([
        "# A GET or HEAD without an answer, or any request the app received nothing of ($lm_retry_ok).",
        "if ($lm_retry_ok = 0) {",
        "    return 503;",
        "}",
    ]);
}
