/**
 * Every timing that depends on another one, derived in one place, so that no two can drift apart
 * (a pool that idles longer than gunicorn's keep-alive, a stop grace shorter than the drain). The renderers
 * (render/gunicorn.ts, render/nginx.ts, render/upstream.ts), the app container
 * (components/appService.ts) and the scripts that stop it take their values from here; the Python
 * runtime (containers/runtime/app/lm_idle.py, lm_drain.py) gets them from the generated gunicorn.conf.py and
 * has no default of its own.
 *
 * How an app container stops (SIGTERM from `docker stop` or the provider's delete):
 *   1. gunicorn's master marks the stop and signals its workers; each worker plugs and drains its
 *      listener (at most `drainLimitSeconds`), then serves requests arriving on its idle keep-alive
 *      connections until nginx has closed them (at most `idleLingerSeconds`, longer than nginx's
 *      `poolIdleSeconds`), then finishes its in-flight requests. The master kills workers still
 *      running after `gracefulSeconds`;
 *   2. the master lingers `exitLingerSeconds` (longer than nginx's resolver cache, `resolverValidSeconds`)
 *      before the container exits (gunicorn.conf.py `on_exit`);
 *   3. Docker kills the container after `appStopGraceSeconds`: later than steps 1 and 2 can take.
 */

/** The independent timings, each chosen for a reason of its own; the rest follows from them. */
export interface TimingInputs {
    /** Longest outbound call the app makes within a request (an LLM or grading service). @default 60 */
    readonly appCallSeconds: number;
    /** gunicorn's graceful_timeout: how long a stopping worker may take. @default 30 */
    readonly gracefulSeconds: number;
    /** nginx keeps an idle pooled connection to gunicorn this long (upstream `keepalive_timeout`). @default 4 */
    readonly poolIdleSeconds: number;
    /**
     * gunicorn's keepalive: more than twice `poolIdleSeconds`, so an idle connection is always ended
     * by nginx, never by gunicorn while nginx sends a request on it. @default 15
     */
    readonly gunicornKeepaliveSeconds: number;
    /** nginx caches the app's resolved address this long (`resolver ... valid=`). @default 2 */
    readonly resolverValidSeconds: number;
    /** Bound on a stopping worker's drain of one listener (containers/runtime/app/lm_drain.py). @default 2 */
    readonly drainLimitSeconds: number;
}

/** The inputs and what is derived from them (all whole seconds). */
export interface Timings extends TimingInputs {
    /** gunicorn's `timeout`: twice the longest outbound call. */
    readonly gunicornTimeoutSeconds: number;
    /** nginx's `proxy_read_timeout` / `proxy_send_timeout`: gunicorn restarts a stuck worker first. */
    readonly proxyTimeoutSeconds: number;
    /** A stopping worker serves its idle keep-alive connections this long (lm_idle.py): past nginx's idle timeout. */
    readonly idleLingerSeconds: number;
    /** The master's linger before the container exits (gunicorn.conf.py `on_exit`): past nginx's resolver cache. */
    readonly exitLingerSeconds: number;
    /** The app container's stop timeout (`destroyGraceSeconds`, `docker stop -t`): graceful stop, linger and a margin. */
    readonly appStopGraceSeconds: number;
}

export const TIMING_DEFAULTS: TimingInputs = {
    appCallSeconds: 60,
    gracefulSeconds: 30,
    poolIdleSeconds: 4,
    gunicornKeepaliveSeconds: 15,
    resolverValidSeconds: 2,
    drainLimitSeconds: 2,
};

/** The range each input is accepted in (inclusive). */
export const TIMING_RANGES: Readonly<Record<keyof TimingInputs, readonly [number, number]>> = {
    appCallSeconds: [1, 3600],
    gracefulSeconds: [5, 600],
    poolIdleSeconds: [1, 60],
    gunicornKeepaliveSeconds: [3, 300],
    resolverValidSeconds: [1, 60],
    drainLimitSeconds: [1, 10],
};

/** Seconds nginx waits beyond gunicorn's timeout: gunicorn's worker restart (a 502) comes first. */
export const PROXY_TIMEOUT_MARGIN = 10;
/** Seconds the idle linger outlasts nginx's idle timeout. */
export const IDLE_LINGER_MARGIN = 1;
/** Seconds the exit linger outlasts nginx's resolver cache. */
export const EXIT_LINGER_MARGIN = 3;
/** Seconds the stop timeout leaves beyond the graceful stop and the exit linger (process exit, log flush). */
export const STOP_GRACE_MARGIN = 5;

/** Derives the coupled timings; throws, naming the input, when an input is out of range or breaks a coupling. */
export function deriveTimings(inputs: TimingInputs): Timings {
    for (const [name, [min, max]] of Object.entries(TIMING_RANGES)) {
        const value = inputs[name as keyof TimingInputs];
        if (!Number.isInteger(value) || value < min || value > max) {
            throw new Error(`timings: ${name} must be a whole number of seconds from ${min} to ${max}, got ${value}`);
        }
    }
    const idleLingerSeconds = inputs.poolIdleSeconds + IDLE_LINGER_MARGIN;
    const exitLingerSeconds = inputs.resolverValidSeconds + EXIT_LINGER_MARGIN;
    if (inputs.gunicornKeepaliveSeconds <= 2 * inputs.poolIdleSeconds) {
        throw new Error(
            `timings: gunicornKeepaliveSeconds (${inputs.gunicornKeepaliveSeconds}) must be more than twice poolIdleSeconds (${inputs.poolIdleSeconds}), so nginx ends idle connections first`,
        );
    }
    if (inputs.gracefulSeconds <= inputs.drainLimitSeconds + idleLingerSeconds) {
        throw new Error(
            `timings: gracefulSeconds (${inputs.gracefulSeconds}) must be more than drainLimitSeconds + idle linger (${inputs.drainLimitSeconds} + ${idleLingerSeconds}), so a stopping worker finishes its drain and linger before it is killed`,
        );
    }
    const gunicornTimeoutSeconds = 2 * inputs.appCallSeconds;
    return {
        ...inputs,
        gunicornTimeoutSeconds,
        proxyTimeoutSeconds: gunicornTimeoutSeconds + PROXY_TIMEOUT_MARGIN,
        idleLingerSeconds,
        exitLingerSeconds,
        appStopGraceSeconds: inputs.gracefulSeconds + exitLingerSeconds + STOP_GRACE_MARGIN,
    };
}

/** The stack's timings. */
export const TIMINGS: Timings = deriveTimings(TIMING_DEFAULTS);
