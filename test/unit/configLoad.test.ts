// loadConfig's own part (config/load.ts: the namespace, unknown and retired keys, how the areas are
// put together, encrypted keys) and the one loop that reads every key by its kind (config/reader.ts,
// here with a key table of its own), without running the program: what `bash scripts/mutate.sh
// config/load.ts` and `config/reader.ts` run against each mutant. Each area's own checks: the
// area's test file (backupsConfig, tlsConfig, config.test.ts).
import { ConfigError, loadConfig } from "../../config/load";
import { readKeys } from "../../config/reader";
import type { KeySpec } from "../../config/spec";
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING } from "../../config/tls";
import { PROJECT_DIR } from "../../core/paths";
import { testCa } from "../support/certs";

const SPECS = {
    count: { kind: "integer", range: [2, 10], default: 4, description: "" },
    limit: { kind: "integer", range: [0, 99], default: 7, description: "", rangeReason: "nginx caps it" },
    big: { kind: "integer", default: 0, description: "" },
    on: { kind: "boolean", default: true, description: "" },
    off: { kind: "boolean", default: false, description: "" },
    name: { kind: "string", default: "plain", description: "" },
    folder: { kind: "string", format: "relPath", default: "static", description: "" },
    prefix: { kind: "string", format: "urlPrefix", default: "/static/", description: "" },
    page: { kind: "string", format: "urlPath", default: "/", description: "" },
    file: { kind: "string", format: "fileName", default: "app.db", description: "" },
    app: { kind: "string", format: "target", default: "app:app", description: "" },
    hook: { kind: "string", format: "optionalTarget", default: "app:init_app", description: "" },
    since: { kind: "string", format: "isoTime", default: "", description: "" },
    paths: { kind: "array", default: ["a", "b"], description: "" },
    jobs: { kind: "objects", default: "[]", description: "" },
} satisfies Record<string, KeySpec>;
type Key = keyof typeof SPECS;

/** readKeys over SPECS with these values (namespace `lm:`). */
const read = (values: Partial<Record<Key, string>> = {}) =>
    readKeys<Key>(new Map(Object.entries(values)), SPECS, "lm:", []);

describe("readKeys: each key by its kind", () => {
    test("nothing given: every key's default, nothing reported", () => {
        const r = read();
        expect(r.ns).toBe("lm:");
        expect(r.problems).toEqual([]);
        expect([r.num("count"), r.num("limit"), r.num("big")]).toEqual([4, 7, 0]);
        expect([r.flag("on"), r.flag("off")]).toEqual([true, false]);
        expect([r.text("name"), r.text("folder"), r.text("prefix"), r.text("file"), r.text("since")]).toEqual([
            "plain",
            "static",
            "/static/",
            "app.db",
            "",
        ]);
        expect(r.target("app")).toEqual({ module: "app", attribute: "app", spec: "app:app" });
        expect(r.target("hook")).toEqual({ module: "app", attribute: "init_app", spec: "app:init_app" });
        // Lists and objects come raw (undefined when not set), for their area to parse.
        expect([r.text("paths"), r.text("jobs")]).toEqual([undefined, undefined]);
        expect(r.get("paths")).toBe("a,b");
        expect(r.get("count")).toBe("4");
        expect(r.given("count")).toBeUndefined();
        expect(r.isSet("count")).toBe(false);
        expect(r.defaultOf("paths")).toEqual(["a", "b"]);
        expect(r.show("name")).toBe("lm:name = undefined");
        expect(r.fix("count", 4)).toBe("Fix: `pulumi config set count 4`");
    });

    test("given values: read by their kind, raw text where the area parses it", () => {
        const r = read({
            count: " 9 ",
            limit: "0",
            big: "-9007199254740991",
            on: "false",
            off: "true",
            name: " as is ",
            folder: "assets/css//",
            prefix: "/s/t/",
            app: " pkg.wsgi:application ",
            hook: "",
            since: "2026-11-30T00:00:00Z",
            paths: '["x"]',
            jobs: '[{"name":"j"}]',
        });
        expect(r.problems).toEqual([]);
        expect([r.num("count"), r.num("limit"), r.num("big")]).toEqual([9, 0, -9007199254740991]);
        expect([r.flag("on"), r.flag("off")]).toEqual([false, true]);
        expect([r.text("name"), r.text("folder"), r.text("prefix"), r.text("since")]).toEqual([
            " as is ",
            "assets/css",
            "/s/t/",
            "2026-11-30T00:00:00Z",
        ]);
        expect(r.target("app")).toEqual({ module: "pkg.wsgi", attribute: "application", spec: "pkg.wsgi:application" });
        expect(r.target("hook")).toBeUndefined();
        expect([r.text("paths"), r.text("jobs")]).toEqual(['["x"]', '[{"name":"j"}]']);
        expect([r.get("count"), r.get("paths"), r.given("name")]).toEqual([" 9 ", '["x"]', " as is "]);
        expect([r.isSet("count"), r.isSet("on"), r.isSet("big"), r.isSet("page")]).toEqual([true, true, true, false]);
        expect(r.show("name")).toBe('lm:name = " as is "');
        // An optional target is trimmed too: blanks alone turn it off.
        expect(read({ hook: " app:init_app " }).target("hook")).toEqual({
            module: "app",
            attribute: "init_app",
            spec: "app:init_app",
        });
        const blank = read({ hook: "  " });
        expect(blank.target("hook")).toBeUndefined();
        expect(blank.problems).toEqual([]);
        expect(read({ folder: "css" }).text("folder")).toBe("css");
        expect(read({ folder: "a/b/" }).text("folder")).toBe("a/b");
    });

    test("integers: both ends of the range count; a value outside, a fraction or text is refused with the default as fix", () => {
        expect([read({ count: "2" }).num("count"), read({ count: "10" }).num("count")]).toEqual([2, 10]);
        for (const bad of ["1", "11", "-3", "1.0", "1.5", "1e1", "4x", "x4", "", "0x4"]) {
            const r = read({ count: bad });
            expect(r.num("count")).toBe(4);
            expect(r.problems).toEqual([
                `lm:count = ${JSON.stringify(bad)}: must be a whole number from 2 to 10. Fix: \`pulumi config set count 4\``,
            ]);
        }
        expect(read({ limit: "100" }).problems).toEqual([
            'lm:limit = "100": must be a whole number from 0 to 99 (nginx caps it). Fix: `pulumi config set limit 7`',
        ]);
        expect(read({ limit: "-1" }).num("limit")).toBe(7);
        // Without a range: any safe integer.
        expect(read({ big: "9007199254740991" }).num("big")).toBe(9007199254740991);
        expect(read({ big: "9007199254740992" }).problems).toEqual([
            'lm:big = "9007199254740992": must be a whole number from -9007199254740991 to 9007199254740991. Fix: `pulumi config set big 0`',
        ]);
        expect(read({ big: "-9007199254740992" }).num("big")).toBe(0);
    });

    test("booleans: only true or false", () => {
        for (const bad of ["TRUE", "yes", "1", ""]) {
            const r = read({ on: bad });
            expect(r.flag("on")).toBe(true);
            expect(r.problems).toEqual([
                `lm:on = ${JSON.stringify(bad)}: must be true or false. Fix: \`pulumi config set on true\``,
            ]);
        }
        expect(read({ off: "maybe" }).flag("off")).toBe(false);
    });

    test("formats: the problem names the key, the value and the fix; a wrong folder or prefix becomes the default", () => {
        const folder = read({ folder: "../etc" });
        expect(folder.text("folder")).toBe("static");
        expect(folder.problems).toEqual([
            'lm:folder = "../etc": must be a relative folder inside the app (letters, digits, . _ - and /; no "..", no leading /). Fix: `pulumi config set folder static`',
        ]);
        const prefix = read({ prefix: "static" });
        expect(prefix.text("prefix")).toBe("/static/");
        // {default} in the rule's text is the key's default.
        expect(prefix.problems).toEqual([
            'lm:prefix = "static": must be a URL path that starts and ends with / (for example /static/). Fix: `pulumi config set prefix /static/`',
        ]);
        expect(read({ prefix: " /s/ " }).text("prefix")).toBe("/static/");
        // A rule's own example wins over the default; "rm" suggests removing the key.
        expect(read({ page: "login" }).problems).toEqual([
            'lm:page = "login": must be a URL path starting with /. Fix: `pulumi config set page /login`',
        ]);
        expect(read({ since: "yesterday" }).problems).toEqual([
            'lm:since = "yesterday": must be an ISO 8601 time (set by `npm run school`). Fix: `pulumi config rm since`',
        ]);
        // Other formats keep the value: their area's later checks never run on a reported key.
        const file = read({ file: "sub/x.db" });
        expect(file.text("file")).toBe("sub/x.db");
        expect(file.problems).toHaveLength(1);
        for (const [key, value] of [
            ["app", "app.app"],
            ["app", ""],
            ["hook", "x"],
        ] as const) {
            const r = read({ [key]: value });
            expect(r.target(key)).toBeUndefined();
            expect(r.problems).toEqual([
                `lm:${key} = ${JSON.stringify(value)}: must look like module:attribute (for example app:app or mypkg.wsgi:application). Fix: \`pulumi config set ${key} ${SPECS[key].default}\``,
            ]);
        }
    });

    test("every problem goes to the list handed in, in the order of the key table", () => {
        const problems = ["before"];
        const r = readKeys<Key>(
            new Map([
                ["on", "no"],
                ["count", "0"],
            ]),
            SPECS,
            "lm:",
            problems,
        );
        expect(r.problems).toBe(problems);
        expect(problems).toEqual([
            "before",
            expect.stringMatching(/^lm:count = "0"/),
            expect.stringMatching(/^lm:on = "no"/),
        ]);
    });
});

const ctx = { project: "lernmanager", projectDir: PROJECT_DIR };
const raw = (values: Record<string, string>) =>
    Object.fromEntries(Object.entries(values).map(([k, v]) => [`lernmanager:${k}`, v]));
const problemsOf = (values: Record<string, string>, extra: Partial<Parameters<typeof loadConfig>[1]> = {}) => {
    try {
        loadConfig(values, { ...ctx, ...extra });
    } catch (e) {
        if (e instanceof ConfigError) return [...e.problems];
        throw e;
    }
    return [];
};

describe("loadConfig: the project's keys, then every area", () => {
    test("only the project's namespace is read; docker:host goes to the stack's area", () => {
        const c = loadConfig(
            { "other:port": "x", "lernmanager2:workers": "0", "docker:host": "ssh://admin@school" },
            ctx,
        );
        expect(c.port).toBe(8080);
        expect(c.dockerHost).toBe("ssh://admin@school");
        expect(loadConfig({ "lm:port": "81" }, { ...ctx, project: "lm" }).port).toBe(81);
        expect(problemsOf({ "docker:host": "school" })).toEqual([
            expect.stringMatching(/^docker:host = "school": must be a Docker endpoint .*Fix: /),
        ]);
    });

    test("an unknown key names the closest known one, if any, and how to remove it; a retired key says why it went", () => {
        expect(problemsOf(raw({ wrokers: "2", zzzzzzzzzzzzzzzz: "1", downloadsPrefix: "/dl/" }))).toEqual([
            'lernmanager:wrokers is not a known key (value "2"). Fix: did you mean lernmanager:workers? remove it with `pulumi config rm wrokers`; the keys are listed in Pulumi.yaml.',
            'lernmanager:zzzzzzzzzzzzzzzz is not a known key (value "1"). Fix: remove it with `pulumi config rm zzzzzzzzzzzzzzzz`; the keys are listed in Pulumi.yaml.',
            expect.stringMatching(
                /^lernmanager:downloadsPrefix is no longer a key \(value "\/dl\/"\): the app answers downloads with X-Accel-Redirect .*\. Fix: `pulumi config rm downloadsPrefix`$/,
            ),
        ]);
        // Neither is read as a key: the known keys keep their defaults.
        expect(problemsOf(raw({ wrokers: "2" }))).toHaveLength(1);
    });

    test("the result holds every area's settings", () => {
        const c = loadConfig(
            raw({
                workers: "3",
                timeZone: "Europe/Berlin",
                port: "8081",
                gradingServiceUrl: "",
                dataHostPath: "",
                protectData: "true",
                backupEvery: "1h",
                jobs: '[{"name":"n","schedule":"0 3 * * *","command":"python3 -V"}]',
                createdAt: "2026-11-30T00:00:00Z",
            }),
            ctx,
        );
        expect(c).toMatchObject({
            workers: 3, // app
            wsgiApp: { module: "app" },
            port: 8081, // web
            tls: { mode: "off" }, // https
            backups: { everySeconds: 3600 },
            createdAt: "2026-11-30T00:00:00Z", // stack
        });
        expect(c.jobs.map((j) => j.name)).toEqual(["n"]);
        // settings, grading, storage, deploy
        expect(c).toMatchObject({
            appSettings: { TZ: "Europe/Berlin" },
            gradingTimeoutSeconds: 600,
            protectData: true,
        });
        for (const key of ["dataHostPath", "migrations", "pythonImage", "trustedProxies"])
            expect(c).toHaveProperty(key);
    });

    test("a test school (createdAt) gets Let's Encrypt's staging server, a school the real one", () => {
        const acme = { tls: "acme", domain: "s.test", acmeEmail: "it@s.test" };
        expect(loadConfig(raw(acme), ctx).tls.acme?.server).toBe(LETS_ENCRYPT);
        expect(loadConfig(raw({ ...acme, createdAt: "2026-11-30T00:00:00Z" }), ctx).tls.acme?.server).toBe(
            LETS_ENCRYPT_STAGING,
        );
    });

    test("HTTPS knows the web port and the time certificates are checked against", () => {
        expect(problemsOf(raw({ tls: "internal", domain: "s.test", port: "8443", httpsPort: "8443" }))).toEqual([
            expect.stringMatching(/^lernmanager:httpsPort = "8443": equals port/),
        ]);
        const ca = testCa("Load CA");
        try {
            const cert = ca.issue(["s.test"]);
            const files = raw({ tls: "files", domain: "s.test", tlsCertificate: cert.cert, tlsKey: cert.key });
            expect(problemsOf(files)).toEqual([]);
            expect(problemsOf(files, { now: new Date(Date.now() + 40 * 86400_000) })).toEqual([
                expect.stringMatching(/tlsCertificate expired on/),
            ]);
        } finally {
            ca.remove();
        }
    });

    test("plain HTTP on the network is refused unless TLS is on, a proxy is trusted or it is allowed", () => {
        const open = { bindAddress: "0.0.0.0" };
        expect(problemsOf(raw(open))).toEqual([
            expect.stringMatching(/^lernmanager:bindAddress = "0.0.0.0" publishes plain HTTP .*Fix: /),
        ]);
        expect(problemsOf(raw({ ...open, tls: "internal", domain: "s.test" }))).toEqual([]);
        expect(problemsOf(raw({ ...open, trustedProxies: '["10.0.0.7"]' }))).toEqual([]);
        expect(problemsOf(raw({ ...open, allowPlainHttp: "true" }))).toEqual([]);
    });

    test("problems about keys the caller cannot read (encrypted) are left out; others still stop it", () => {
        const bad = raw({ workers: "0", port: "0" });
        expect(problemsOf(bad)).toHaveLength(2);
        expect(problemsOf(bad, { encryptedKeys: new Set(["workers"]) })).toEqual([
            expect.stringMatching(/^lernmanager:port = "0"/),
        ]);
        expect(() => loadConfig(bad, { ...ctx, encryptedKeys: new Set(["workers", "port"]) })).not.toThrow();
        // A whole key name: "port" does not hide a problem about "portqqqqqqqqqqqq".
        expect(problemsOf(raw({ portqqqqqqqqqqqq: "1" }), { encryptedKeys: new Set(["port"]) })).toEqual([
            expect.stringMatching(/^lernmanager:portqqqqqqqqqqqq is not a known key/),
        ]);
    });

    test("all problems come together in one error, one line each", () => {
        expect(() => loadConfig(raw({ workers: "0", threads: "x" }), ctx)).toThrow(
            /^Invalid lernmanager configuration:\n {2}- lernmanager:workers = "0".*\n {2}- lernmanager:threads = "x"/,
        );
    });
});
