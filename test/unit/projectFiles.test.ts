import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { CONFIG_KEYS } from "../../config/load";
import { LAYOUT } from "../../core/layout";
import { CONTAINERS_DIR, PROJECT_DIR } from "../../core/paths";
import { renderConfigBlock, renderConfigTable } from "../../scripts/config-docs";

const read = (...p: string[]) => fs.readFileSync(path.join(...p), "utf8");

describe("Pulumi.yaml documents exactly the keys the loader reads", () => {
    const project = YAML.parse(read(PROJECT_DIR, "Pulumi.yaml"));

    test("project name and runtime", () => {
        expect(project.name).toBe("lernmanager");
        expect(project.runtime.name).toBe("nodejs");
    });

    test("same keys, types and defaults, each with a description", () => {
        expect(Object.keys(project.config).sort()).toEqual(Object.keys(CONFIG_KEYS).sort());
        for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
            const declared = project.config[key];
            // A list of objects has no type in Pulumi's project schema: declared without one.
            expect({ key, type: declared.type }).toEqual({
                key,
                type: spec.kind === "objects" ? undefined : spec.kind,
            });
            expect({ key, default: declared.default }).toEqual({ key, default: spec.default });
            expect(declared.description).toBe(spec.description);
        }
    });

    test("its config block is the one scripts/config-docs.ts writes from CONFIG_KEYS", () => {
        const text = read(PROJECT_DIR, "Pulumi.yaml");
        expect(text.slice(text.indexOf("\nconfig:\n") + 1)).toBe(renderConfigBlock());
    });

    test("every integer key says its range in CONFIG_KEYS (loadConfig checks against it)", () => {
        for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
            if (spec.kind !== "integer") continue;
            const range = (spec as { range?: readonly [number, number] }).range;
            expect({
                key,
                range: range && range[0] <= (spec.default as number) && (spec.default as number) <= range[1],
            }).toEqual({ key, range: true });
        }
    });

    test("docs/config.md is the table scripts/config-docs.ts writes from CONFIG_KEYS", () => {
        expect(read(PROJECT_DIR, "docs", "config.md")).toBe(renderConfigTable());
    });

    test.each(["prod", "dev"])("Pulumi.%s.yaml sets only known keys", (stack) => {
        const file = YAML.parse(read(PROJECT_DIR, `Pulumi.${stack}.yaml`));
        for (const key of Object.keys(file.config)) {
            const [ns, name] = key.split(":");
            if (ns === "lernmanager") expect(Object.keys(CONFIG_KEYS)).toContain(name);
            else expect(["docker"]).toContain(ns);
        }
    });

    test("prod publishes on the server itself until a school sets HTTPS, HTTPS on 443, and protects data", () => {
        const prod = YAML.parse(read(PROJECT_DIR, "Pulumi.prod.yaml")).config;
        expect(prod["lernmanager:port"]).toBe("80");
        expect(prod["lernmanager:httpsPort"]).toBe("443");
        expect(prod["lernmanager:bindAddress"]).toBe("127.0.0.1");
        expect(prod["lernmanager:allowPlainHttp"]).toBeUndefined();
        expect(prod["lernmanager:protectData"]).toBe("true");
    });
});

describe("files/ agrees with core/layout.ts", () => {
    test("ports and paths", () => {
        expect(read(CONTAINERS_DIR, "web", "healthcheck.sh")).toContain(`/dev/tcp/127.0.0.1/${LAYOUT.nginxPort}`);
        expect(read(CONTAINERS_DIR, "runtime", "app", "healthcheck.py")).toContain(`"127.0.0.1", ${LAYOUT.appPort}`);
        expect(read(CONTAINERS_DIR, "runtime", "app", "entrypoint.sh")).toContain(` ${LAYOUT.staticDir}\n`);
        const appDockerfile = read(CONTAINERS_DIR, "app.Dockerfile");
        expect(appDockerfile).toContain(`USER ${LAYOUT.appUid}:${LAYOUT.appUid}`);
        expect(appDockerfile).toContain(LAYOUT.cacheDir);
        expect(appDockerfile).toContain(`LM_APP_DIR=${LAYOUT.appDir}`);
        expect(read(CONTAINERS_DIR, "web", "Dockerfile")).toContain(`USER ${LAYOUT.nginxUid}:${LAYOUT.nginxUid}`);
        expect(read(CONTAINERS_DIR, "runtime", "Dockerfile")).toContain(`LM_RUNTIME_DIR=${LAYOUT.runtimeDir}`);
    });

    test("the images run with -OO bytecode and never write .pyc at run time", () => {
        const runtime = read(CONTAINERS_DIR, "runtime", "Dockerfile");
        expect(runtime).toContain("PYTHONOPTIMIZE=2");
        expect(runtime).toContain("PYTHONDONTWRITEBYTECODE=1");
        expect(runtime).toContain("precompile.py --system");
        expect(read(CONTAINERS_DIR, "app.Dockerfile")).toContain("precompile.py --strict /app");
        expect(read(CONTAINERS_DIR, "runtime", "app", "entrypoint.sh")).toMatch(/exec python3 -OO -m gunicorn/);
    });
});
