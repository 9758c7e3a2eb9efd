import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CONFIG_KEYS, ConfigError, loadConfig } from "../../config/load";
import { PROJECT_DIR } from "../../core/paths";

const ctx = { project: "lernmanager", projectDir: PROJECT_DIR };
const load = (values: Record<string, string>) =>
    loadConfig(Object.fromEntries(Object.entries(values).map(([k, v]) => [`lernmanager:${k}`, v])), ctx);

describe("loadConfig: defaults", () => {
    test("an empty config gives the documented defaults", () => {
        const c = load({});
        expect(c.workers).toBe(CONFIG_KEYS.workers.default);
        expect(c.threads).toBe(2);
        expect(c.workers).toBe(4);
        expect(c.uploadLimitMb).toBe(64);
        expect(c.port).toBe(8080);
        expect(c.bindAddress).toBe("127.0.0.1");
        expect(c.wsgiApp).toEqual({ module: "app", attribute: "app", spec: "app:app" });
        expect(c.initHook).toEqual({ module: "app", attribute: "init_app", spec: "app:init_app" });
        expect(c.staticPath).toBe("static");
        expect(c.dataPath).toBe("data");
        expect(c.uploadsPath).toBe("instance/uploads");
        expect(c.staticUrl).toBe("/static/");
        expect(c.appSource).toBe(path.join(PROJECT_DIR, "demo-app"));
        expect(c.protectData).toBe(false);
        expect(c.appEnv).toEqual({});
    });

    test("an empty initHook disables it", () => {
        expect(load({ initHook: "" }).initHook).toBeUndefined();
    });

    test("keys of other namespaces (docker:host) are left to their providers", () => {
        expect(() => loadConfig({ "docker:host": "ssh://admin@school" }, ctx)).not.toThrow();
    });
});

describe("loadConfig: every bad value names the key, the value and the fix", () => {
    const cases: [string, Record<string, string>, RegExp][] = [
        [
            "zero workers",
            { workers: "0" },
            /lernmanager:workers = "0".*whole number from 1 to 64.*pulumi config set workers 4/,
        ],
        ["negative workers", { workers: "-2" }, /lernmanager:workers = "-2".*from 1 to 64/],
        ["fractional threads", { threads: "1.5" }, /lernmanager:threads = "1.5".*whole number/],
        ["port 0", { port: "0" }, /lernmanager:port = "0".*from 1 to 65535.*pulumi config set port 8080/],
        ["port 70000", { port: "70000" }, /lernmanager:port = "70000".*from 1 to 65535/],
        ["port not a number", { port: "http" }, /lernmanager:port = "http"/],
        [
            "missing app folder",
            { appSource: "no/such/app" },
            /lernmanager:appSource = "no\/such\/app": no such folder.*Fix:/,
        ],
        [
            "malformed WSGI target",
            { wsgiApp: "app.app" },
            /lernmanager:wsgiApp = "app.app": must look like module:attribute.*Fix/,
        ],
        ["WSGI target with spaces", { wsgiApp: "my app:app" }, /lernmanager:wsgiApp = "my app:app"/],
        [
            "WSGI module not in the app",
            { wsgiApp: "nosuchmodule:app" },
            /lernmanager:wsgiApp = "nosuchmodule:app": module nosuchmodule is not in/,
        ],
        [
            "init hook module not in the app",
            { initHook: "setup:init" },
            /lernmanager:initHook = "setup:init": module setup is not in/,
        ],
        [
            "unknown key",
            { wokers: "4" },
            /lernmanager:wokers is not a known key.*did you mean lernmanager:workers\?.*pulumi config rm wokers/,
        ],
        [
            "path escaping the app",
            { dataPath: "../data" },
            /lernmanager:dataPath = "..\/data": must be a relative folder inside the app/,
        ],
        ["absolute path", { uploadsPath: "/srv/uploads" }, /lernmanager:uploadsPath = "\/srv\/uploads"/],
        [
            "overlapping volumes",
            { uploadsPath: "data/uploads" },
            /lernmanager:dataPath = "data" and lernmanager:uploadsPath = "data\/uploads" overlap/,
        ],
        [
            "static URL without slashes",
            { staticUrl: "static" },
            /lernmanager:staticUrl = "static": must be a URL path that starts and ends with \//,
        ],
        [
            "static files under the app's download prefix",
            { staticUrl: "/protected-files/" },
            /lernmanager:staticUrl = "\/protected-files\/" is the prefix of the app's X-Accel-Redirect downloads .*Fix: `pulumi config set staticUrl \/static\/`/,
        ],
        [
            "an upload limit above the app's own",
            { uploadLimitMb: "100" },
            /lernmanager:uploadLimitMb = "100": must be a whole number from 1 to 64 \(the app refuses every request body over 64 MiB itself: its MAX_CONTENT_LENGTH is fixed in its code .*\)\. Fix: `pulumi config set uploadLimitMb 64`/,
        ],
        [
            "the retired downloadsPrefix",
            { downloadsPrefix: "/dl/" },
            /lernmanager:downloadsPrefix is no longer a key \(value "\/dl\/"\): the app answers downloads with X-Accel-Redirect to \/protected-files\/, fixed in its code .*Fix: `pulumi config rm downloadsPrefix`/,
        ],
        [
            "the retired downloadsPrefix, even at the app's own value",
            { downloadsPrefix: "/protected-files/" },
            /lernmanager:downloadsPrefix is no longer a key/,
        ],
        [
            "bad bind address",
            { bindAddress: "localhost" },
            /lernmanager:bindAddress = "localhost": must be an IPv4 address/,
        ],
        [
            "floating image",
            { pythonImage: "python:latest" },
            /lernmanager:pythonImage = "python:latest": "latest" floats/,
        ],
        [
            "untagged image",
            { nginxImage: "nginx" },
            /lernmanager:nginxImage = "nginx": must be an image reference with a pinned tag/,
        ],
        ["boolean typo", { protectData: "yes" }, /lernmanager:protectData = "yes": must be true or false/],
        ["upload limit 0", { uploadLimitMb: "0" }, /lernmanager:uploadLimitMb = "0"/],
        ["appEnv not a list", { appEnv: '{"A":"1"}' }, /lernmanager:appEnv = .*must be a list of NAME=value strings/],
        [
            "appEnv overriding SECRET_KEY",
            { appEnv: '["SECRET_KEY=abc"]' },
            /lernmanager:appEnv\[0\] = "SECRET_KEY=abc": SECRET_KEY is set by the stack itself/,
        ],
        [
            "appEnv bad name",
            { appEnv: '["1X=2"]' },
            /lernmanager:appEnv\[0\] = "1X=2": 1X is not a valid environment variable name/,
        ],
        [
            "a scratch folder inside a persistent one (a tmpfs would hide the kept files)",
            { scratchPaths: '["instance/reports/tmp"]', persistentPaths: '["instance/reports"]' },
            /lernmanager:scratchPaths\[0\] = "instance\/reports\/tmp" and lernmanager:persistentPaths\[0\] = "instance\/reports" overlap/,
        ],
        [
            "a persistent folder inside the data volume",
            { persistentPaths: '["data/import"]' },
            /lernmanager:dataPath = "data" and lernmanager:persistentPaths\[0\] = "data\/import" overlap/,
        ],
        [
            "a persistent folder that is a scratch folder",
            { scratchPaths: '["instance/tmp"]', persistentPaths: '["instance/tmp"]' },
            /lernmanager:scratchPaths\[0\] = "instance\/tmp" and lernmanager:persistentPaths\[0\] = "instance\/tmp" overlap/,
        ],
        [
            "database file with a folder",
            { databaseFile: "sub/x.db" },
            /lernmanager:databaseFile = "sub\/x.db": must be a file name/,
        ],
    ];
    test.each(cases)("%s", (_what, values, message) => {
        expect(() => load(values)).toThrow(ConfigError);
        expect(() => load(values)).toThrow(message);
    });

    test("a persistent folder inside a scratch folder is a volume on the tmpfs (the import's ZIPs)", () => {
        const c = load({
            scratchPaths: '["instance/tmp"]',
            persistentPaths: '["instance/reports", "instance/tmp/lernmanager_import"]',
        });
        expect(c.scratchPaths).toEqual(["instance/tmp"]);
        expect(c.persistentPaths).toEqual(["instance/reports", "instance/tmp/lernmanager_import"]);
    });

    test("several problems are reported together, one line each", () => {
        let error: ConfigError | undefined;
        try {
            load({ workers: "0", port: "99999", wsgiApp: "x" });
        } catch (e) {
            error = e as ConfigError;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect(error!.problems).toHaveLength(3);
        expect(error!.message.split("\n")).toHaveLength(4);
    });

    describe("an app folder without what the program needs", () => {
        let dir: string;
        beforeEach(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-app-"));
        });
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

        test("missing requirements.txt", () => {
            fs.writeFileSync(path.join(dir, "app.py"), "app = None\ndef init_app(): pass\n");
            expect(() => load({ appSource: dir })).toThrow(/has no requirements.txt\. Fix: add requirements.txt/);
        });

        test("a package module (pkg/__init__.py) is found", () => {
            fs.writeFileSync(path.join(dir, "requirements.txt"), "");
            fs.mkdirSync(path.join(dir, "pkg"));
            fs.writeFileSync(path.join(dir, "pkg", "__init__.py"), "");
            expect(load({ appSource: dir, wsgiApp: "pkg:app", initHook: "" }).wsgiApp.module).toBe("pkg");
        });
    });
});

describe("request limits and headers (config/web.ts)", () => {
    const problemsOf = (values: Record<string, string>): string[] => {
        try {
            load(values);
        } catch (e) {
            if (e instanceof ConfigError) return [...e.problems];
            throw e;
        }
        return [];
    };
    test("defaults: 1 MiB bodies, the demo's and the real app's upload paths, 200 connections, the session gate, report-only CSP", () => {
        const c = load({});
        expect(c.bodyLimitKb).toBe(1024);
        expect(c.uploadPaths).toEqual([
            "/upload",
            "/admin/themen/import",
            "/admin/thema/*/material-upload",
            "/schueler/thema/*/aufgabe-*/artefakt/vorschau",
            "/schueler/thema/*/aufgabe-*/abgabe-pruefen",
        ]);
        expect(c.connectionsPerAddress).toBe(200);
        expect(c.sessionCookie).toBe("session");
        expect(c.contentSecurityPolicy).toContain("default-src 'self'");
        expect(c.cspEnforce).toBe(false);
    });
    test("bad values name the key and the fix", () => {
        expect(problemsOf({ uploadPaths: '["/ok", "no-slash", "/x y"]' })).toEqual([
            expect.stringMatching(/uploadPaths\[1\] = "no-slash": must be a URL path .*Fix/),
            expect.stringMatching(/uploadPaths\[2\] = "\/x y": must be a URL path/),
        ]);
        expect(problemsOf({ sessionCookie: "my-session" })[0]).toMatch(
            /sessionCookie = "my-session": must be a cookie name .*Fix: `pulumi config set sessionCookie session`/,
        );
        expect(problemsOf({ contentSecurityPolicy: 'default-src "self"' })[0]).toMatch(
            /contentSecurityPolicy = .*must not contain double quotes.*Fix: `pulumi config rm contentSecurityPolicy`/,
        );
        expect(problemsOf({ bodyLimitKb: "8" })[0]).toMatch(
            /bodyLimitKb = "8": must be a whole number from 16 to 65536/,
        );
        expect(problemsOf({ sessionCookie: "", contentSecurityPolicy: "" })).toEqual([]);
    });
});
