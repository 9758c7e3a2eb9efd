import { renderGunicornConf } from "../../render/gunicorn";
import { renderNginxConf } from "../../render/nginx";
import { deriveTimings, TIMING_DEFAULTS, TIMING_RANGES, TIMINGS, TimingInputs, Timings } from "../../core/timings";
import { ProgramRun, Registration, runProgram, testConfig } from "../support/mocks";
import { TEST_NGINX_SETTINGS } from "../support/nginx";

// The master's linger at its exit (gunicorn.conf.py on_exit), not a worker's pause (worker_exit).
const ON_EXIT_SLEEP = /^def on_exit\(server\):\n(?:\s+#.*\n)*\s+time\.sleep\((\d+)\)$/gm;

/** Every coupling, as a relation that must hold (name → holds?). */
function invariants(t: Timings): Record<string, boolean> {
    return {
        "a request with the app's longest outbound call fits gunicorn's timeout twice":
            t.gunicornTimeoutSeconds >= 2 * t.appCallSeconds,
        "nginx waits longer than gunicorn lets a request run (gunicorn's worker restart comes first)":
            t.proxyTimeoutSeconds > t.gunicornTimeoutSeconds,
        "gunicorn holds an idle connection more than twice as long as nginx keeps it pooled":
            t.gunicornKeepaliveSeconds > 2 * t.poolIdleSeconds,
        "a stopping worker serves its idle connections longer than nginx keeps them":
            t.idleLingerSeconds > t.poolIdleSeconds,
        "the master lingers longer than nginx caches the app's address": t.exitLingerSeconds > t.resolverValidSeconds,
        "a worker's drain and idle linger end before the graceful timeout kills it":
            t.gracefulSeconds > t.drainLimitSeconds + t.idleLingerSeconds,
        "Docker kills the container only after the graceful stop and the exit linger":
            t.appStopGraceSeconds > t.gracefulSeconds + t.exitLingerSeconds,
    };
}

const broken = (t: Timings) =>
    Object.entries(invariants(t))
        .filter(([, holds]) => !holds)
        .map(([name]) => name);

const KEYS = Object.keys(TIMING_RANGES) as (keyof TimingInputs)[];

/** Every combination of the extremes of the input ranges (2^6). */
function extremes(): TimingInputs[] {
    return Array.from({ length: 2 ** KEYS.length }, (_, mask) =>
        Object.fromEntries(KEYS.map((k, i) => [k, TIMING_RANGES[k][(mask >> i) & 1]])),
    ) as unknown as TimingInputs[];
}

describe("core/timings.ts", () => {
    test("the defaults give today's values: timeout 120, nginx 130, lingers 5 and 5, stop grace 40", () => {
        expect(TIMINGS).toEqual({
            ...TIMING_DEFAULTS,
            gunicornTimeoutSeconds: 120,
            proxyTimeoutSeconds: 130,
            idleLingerSeconds: 5,
            exitLingerSeconds: 5,
            appStopGraceSeconds: 40,
        });
        expect(broken(TIMINGS)).toEqual([]);
    });

    test("at every combination of the ranges' extremes: derived with every invariant, or refused naming the coupling", () => {
        let derived = 0;
        for (const inputs of extremes()) {
            let t: Timings | undefined;
            try {
                t = deriveTimings(inputs);
            } catch (e) {
                // Only a coupling between inputs may refuse an in-range combination.
                expect((e as Error).message).toMatch(
                    /gunicornKeepaliveSeconds .* poolIdleSeconds|gracefulSeconds .* drainLimitSeconds/,
                );
                const keepaliveTooShort = inputs.gunicornKeepaliveSeconds <= 2 * inputs.poolIdleSeconds;
                const gracefulTooShort =
                    inputs.gracefulSeconds <= inputs.drainLimitSeconds + inputs.poolIdleSeconds + 1;
                expect(keepaliveTooShort || gracefulTooShort).toBe(true);
                continue;
            }
            derived++;
            expect({ inputs, broken: broken(t) }).toEqual({ inputs, broken: [] });
        }
        // All minima, all maxima and the mixed ones in between: a real share is valid.
        expect(derived).toBeGreaterThanOrEqual(16);
    });

    test("every value between the extremes of one input (the others at their defaults) keeps the invariants", () => {
        for (const k of KEYS) {
            const [min, max] = TIMING_RANGES[k];
            for (const v of [min, Math.round((min + max) / 2), max]) {
                try {
                    expect(broken(deriveTimings({ ...TIMING_DEFAULTS, [k]: v }))).toEqual([]);
                } catch (e) {
                    expect((e as Error).message).toMatch(/^timings: (gunicornKeepaliveSeconds|gracefulSeconds) \(/);
                }
            }
        }
    });

    test.each([
        ["gracefulSeconds", 4],
        ["poolIdleSeconds", 0],
        ["resolverValidSeconds", 61],
        ["appCallSeconds", 1.5],
        ["drainLimitSeconds", Number.NaN],
    ])("refuses %s = %p, naming it and its range", (key, value) => {
        expect(() => deriveTimings({ ...TIMING_DEFAULTS, [key]: value })).toThrow(
            new RegExp(`^timings: ${key} must be a whole number of seconds from \\d+ to \\d+, got`),
        );
    });

    test("refuses inputs that break a coupling", () => {
        expect(() => deriveTimings({ ...TIMING_DEFAULTS, gunicornKeepaliveSeconds: 8 })).toThrow(
            /gunicornKeepaliveSeconds \(8\) must be more than twice poolIdleSeconds \(4\)/,
        );
        expect(() => deriveTimings({ ...TIMING_DEFAULTS, gracefulSeconds: 7 })).toThrow(
            /gracefulSeconds \(7\) must be more than drainLimitSeconds \+ idle linger \(2 \+ 5\)/,
        );
    });
});

/** Timings unlike the defaults in every value, so a renderer that kept a literal is caught. */
const OTHER = deriveTimings({
    appCallSeconds: 90,
    gracefulSeconds: 45,
    poolIdleSeconds: 6,
    gunicornKeepaliveSeconds: 20,
    resolverValidSeconds: 3,
    drainLimitSeconds: 3,
});

const all = (text: string, re: RegExp) => [...text.matchAll(re)].map((m) => Number(m[1]));
/** The pooled form's upstream block ("" in the per-request form). */
const upstream = (conf: string) => /\n {4}upstream lm_app \{([^}]*)\}/.exec(conf)?.[1] ?? "";

describe("the renderers carry the derived values", () => {
    test.each([
        ["the defaults", TIMINGS],
        ["other timings", OTHER],
    ])("gunicorn.conf.py with %s", (_, t) => {
        const conf = renderGunicornConf({ workers: 2, threads: 2, timings: t });
        expect(all(conf, /^timeout = (\d+)$/gm)).toEqual([t.gunicornTimeoutSeconds]);
        expect(all(conf, /^graceful_timeout = (\d+)$/gm)).toEqual([t.gracefulSeconds]);
        expect(all(conf, /^keepalive = (\d+)$/gm)).toEqual([t.gunicornKeepaliveSeconds]);
        expect(all(conf, /^lm_idle\.IDLE_LINGER_SECONDS = (\d+)$/gm)).toEqual([t.idleLingerSeconds]);
        expect(all(conf, /^lm_drain\.DRAIN_LIMIT_SECONDS = (\d+)$/gm)).toEqual([t.drainLimitSeconds]);
        expect(all(conf, ON_EXIT_SLEEP)).toEqual([t.exitLingerSeconds]);
        expect(all(conf, /nginx keeps an idle connection (\d+) s/g)).toEqual([t.poolIdleSeconds]);
        expect(all(conf, /outbound calls of up to (\d+) s/g)).toEqual([t.appCallSeconds]);
    });

    test.each([
        ["the defaults", TIMINGS],
        ["other timings", OTHER],
    ])("nginx.conf (both forms) with %s", (_, t) => {
        for (const form of ["pooled", "per-request"] as const) {
            const conf = renderNginxConf({ ...TEST_NGINX_SETTINGS, timings: t }, form);
            const proxied = all(conf, /proxy_read_timeout (\d+)s;/g);
            expect(proxied.length).toBeGreaterThanOrEqual(3); // /, the login page, the retry
            expect(new Set([...proxied, ...all(conf, /proxy_send_timeout (\d+)s;/g)])).toEqual(
                new Set([t.proxyTimeoutSeconds]),
            );
            expect(all(conf, /resolver \S+ valid=(\d+)s/g)).toEqual([t.resolverValidSeconds]);
            expect(all(upstream(conf), /keepalive_timeout (\d+)s;/g)).toEqual(
                form === "pooled" ? [t.poolIdleSeconds] : [],
            );
        }
    });
});

describe("the declared stack carries the derived values (Pulumi mocks)", () => {
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runProgram(testConfig(), { stack: "unit-timings" });
    });
    const image = (suffix: string) => run.registrations.find((r) => r.name.endsWith(suffix))!;
    const arg = (r: Registration, name: string) => Buffer.from(r.inputs.build.args[name], "base64").toString("utf8");

    test("the app container's stop grace outlasts the graceful stop and the exit linger of the gunicorn.conf.py it runs", () => {
        const app = run.named("lernmanager-unit-timings-app");
        expect(app.inputs.destroyGraceSeconds).toBe(TIMINGS.appStopGraceSeconds);
        const conf = arg(image("-image-app"), "GUNICORN_CONF");
        const [graceful] = all(conf, /^graceful_timeout = (\d+)$/gm);
        const [linger] = all(conf, ON_EXIT_SLEEP);
        expect(app.inputs.destroyGraceSeconds).toBeGreaterThan(graceful + linger);
        expect(graceful).toBe(TIMINGS.gracefulSeconds);
    });

    test("the smoke step stops a rollback's app containers with the same grace", () => {
        const smoke = run.named("lernmanager-unit-timings-smoke");
        expect(all(smoke.inputs.create, /docker stop -t (\d+)/g)).toEqual([TIMINGS.appStopGraceSeconds]);
    });

    test("nginx waits longer than the declared gunicorn lets a request run; no connection outlives its answer (one queue)", () => {
        const gunicorn = arg(image("-image-app"), "GUNICORN_CONF");
        const nginx = arg(image("-nginx-image"), "NGINX_CONF");
        const [timeout] = all(gunicorn, /^timeout = (\d+)$/gm);
        const [linger] = all(gunicorn, ON_EXIT_SLEEP);
        expect(Math.min(...all(nginx, /proxy_read_timeout (\d+)s;/g))).toBeGreaterThan(timeout);
        expect(all(nginx, /resolver \S+ valid=(\d+)s/g)[0]).toBeLessThan(linger);
        // appQueue shared: no pool in nginx, no keep-alive in gunicorn.
        expect(all(gunicorn, /^keepalive = (\d+)$/gm)).toEqual([0]);
        expect(nginx).not.toMatch(/^\s*upstream /m);
        expect(nginx).toContain("proxy_set_header Connection close;");
    });

    test("with a queue per worker (the pool), nginx ends idle connections well before gunicorn would", async () => {
        const pooled = await runProgram(testConfig({ "lernmanager:appQueue": "per-worker" }), {
            stack: "unit-timings",
        });
        const find = (suffix: string) => pooled.registrations.find((r) => r.name.endsWith(suffix))!;
        const gunicorn = arg(find("-image-app"), "GUNICORN_CONF");
        const nginx = arg(find("-nginx-image"), "NGINX_CONF");
        const [keepalive] = all(gunicorn, /^keepalive = (\d+)$/gm);
        expect(keepalive).toBe(TIMINGS.gunicornKeepaliveSeconds);
        expect(all(upstream(nginx), /keepalive_timeout (\d+)s;/g)[0]).toBeLessThan(keepalive / 2);
    });

    test("every container the deploy waits for can become healthy at the end of its start period before the wait gives up", () => {
        const seconds = (d: string) => {
            const m = /^(?:(\d+)m)?(\d+)s$/.exec(d);
            if (!m) throw new Error(`not a Go duration: ${d}`);
            return Number(m[1] ?? 0) * 60 + Number(m[2]);
        };
        const waited = run.ofType("docker:index/container:Container").filter((c) => c.inputs.wait);
        expect(waited.length).toBeGreaterThanOrEqual(2); // the app and nginx
        for (const c of waited) {
            const h = c.inputs.healthcheck;
            const latest = seconds(h.startPeriod) + seconds(h.interval) + seconds(h.timeout);
            expect({ container: c.name, fits: c.inputs.waitTimeout > latest }).toEqual({
                container: c.name,
                fits: true,
            });
        }
    });
});
