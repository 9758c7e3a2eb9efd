import * as os from "os";
import * as pulumi from "@pulumi/pulumi";
import { ProgramRun, runProgram, testConfig } from "../support/mocks";
import { TEST_IMAGES } from "../support/baseImages";

const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";
const IMAGE = "docker:index/image:Image";
const COMMAND = "command:local:Command";

describe("the declared stack (Pulumi mocks)", () => {
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runProgram(testConfig(), { stack: "unit" });
    });

    const app = () => run.named("lernmanager-unit-app");
    const nginx = () => run.named("lernmanager-unit-nginx");

    test("declares a network, seven volumes (one for instance/reports, nginx's spool), three images, three containers (app, backups, nginx), nine deploy steps and two secrets", () => {
        const count = (t: string) => run.ofType(t).length;
        expect(count("docker:index/network:Network")).toBe(1);
        expect(count(VOLUME)).toBe(7);
        // backup, migrate, candidate, smoke, pids limit, image prune, build leftovers, image clean-up, destroy guard
        expect(count(COMMAND)).toBe(9);
        expect(count("pulumi:providers:docker")).toBe(1);
        expect(count(IMAGE)).toBe(3);
        expect(count(CONTAINER)).toBe(3);
        // SECRET_KEY and the admin password (test/unit/migrations.test.ts).
        expect(count("random:index/randomPassword:RandomPassword")).toBe(2);
    });

    test("only nginx publishes a port, on the configured host address", () => {
        expect(app().inputs.ports ?? []).toEqual([]);
        expect(nginx().inputs.ports).toEqual([{ internal: 8080, external: 8080, ip: "127.0.0.1", protocol: "tcp" }]);
    });

    test("volumes are mounted where expected: data rw only in the app, static and uploads ro in nginx, its spool rw", () => {
        const mounts = (r: (typeof run.registrations)[number]) =>
            Object.fromEntries(
                (r.inputs.mounts as any[]).map((m) => [m.source, { target: m.target, ro: !!m.readOnly }]),
            );
        expect(mounts(app())).toEqual({
            "lernmanager-unit-data": { target: "/app/data", ro: false },
            "lernmanager-unit-uploads": { target: "/app/instance/uploads", ro: false },
            "lernmanager-unit-static": { target: "/srv/static", ro: false },
            "lernmanager-unit-cache": { target: "/var/cache/lernmanager", ro: false },
            "lernmanager-unit-keep-instance-reports": { target: "/app/instance/reports", ro: false },
        });
        expect(mounts(nginx())).toEqual({
            "lernmanager-unit-static": { target: "/srv/static", ro: true },
            "lernmanager-unit-uploads": { target: "/srv/uploads", ro: true },
            "lernmanager-unit-spool": { target: "/srv/nginx-spool", ro: false },
        });
    });

    test("the data volume is a folder mount (never the database file)", () => {
        const data = (app().inputs.mounts as any[]).find((m) => m.source.endsWith("-data"));
        expect(data.type).toBe("volume");
        expect(data.target).not.toMatch(/\.db$/);
    });

    test("both containers have health checks, wait for health, and replace on health-check changes", () => {
        expect(app().inputs.healthcheck.tests).toEqual(["CMD", "python3", "/opt/lernmanager/healthcheck.py"]);
        expect(nginx().inputs.healthcheck.tests).toEqual(["CMD", "/bin/bash", "/etc/nginx/lernmanager/healthcheck.sh"]);
        for (const c of [app(), nginx()]) {
            expect(c.inputs.wait).toBe(true);
            expect(c.opts.replaceOnChanges).toContain("healthcheck");
            expect(c.inputs.healthcheck.interval).toBe("5s");
        }
    });

    test("nginx is created only after the app container (dependsOn)", () => {
        expect(nginx().opts.dependsOn).toContain(app().name);
        expect(nginx().order).toBeGreaterThan(app().order);
    });

    test("the app container is auto-named (create-before-replace), nginx has a stack-derived name", () => {
        expect(app().inputs.name).toBeUndefined();
        expect(app().opts.deleteBeforeReplace).toBe(false);
        expect(nginx().inputs.name).toBe("lernmanager-unit-nginx");
        expect(nginx().opts.deleteBeforeReplace).toBe(true);
    });

    test("nginx may reuse TIME_WAIT ports for its upstream connections", () => {
        expect(nginx().inputs.sysctls).toEqual({ "net.ipv4.tcp_tw_reuse": "1" });
    });

    test("the app's kernel answers no SYN cookies (a stopping gunicorn's plugged listener then admits nothing)", () => {
        expect(app().inputs.sysctls).toEqual({ "net.ipv4.tcp_syncookies": "0" });
    });

    test("the app answers the network alias `app` on the stack's network", () => {
        expect(app().inputs.networksAdvanced).toEqual([{ name: "lernmanager-unit-net", aliases: ["app"] }]);
    });

    test("SECRET_KEY reaches the app as a secret from @pulumi/random, with FLASK_ENV=production", () => {
        const envs = app().inputs.envs as string[];
        expect(envs).toContain("FLASK_ENV=production");
        expect(envs.find((e) => e.startsWith("SECRET_KEY="))).toMatch(/^SECRET_KEY=mock-secret-key-/);
        // The engine receives the whole env list marked secret, so it is encrypted in state and masked in diffs.
        expect(app().secretInputs).toEqual(["envs"]);
        expect(pulumi.Output.isInstance(app().rawProps.envs)).toBe(true);
        return expect(pulumi.isSecret(app().rawProps.envs as pulumi.Output<unknown>)).resolves.toBe(true);
    });

    test("the secret key never appears in the stack outputs", () => {
        expect(JSON.stringify(run.outputs)).not.toContain("mock-secret-key");
    });

    test("containers run the built image's id, init: true, restart policy, log rotation, hardening", () => {
        const images = Object.fromEntries(run.ofType(IMAGE).map((i) => [i.name, i.inputs.imageName]));
        expect(app().inputs.image).toBe(images["lernmanager-unit-image-app"]);
        for (const c of [app(), nginx()]) {
            expect(c.inputs.init).toBe(true);
            expect(c.inputs.restart).toBe("unless-stopped");
            expect(c.inputs.logDriver).toBe("json-file");
            expect(c.inputs.logOpts).toEqual({ "max-size": "10m", "max-file": "5" });
            expect(c.inputs.readOnly).toBe(true);
            expect(c.inputs.capabilities).toEqual({ drops: ["ALL"] });
            expect(c.inputs.securityOpts).toEqual(["no-new-privileges:true"]);
            expect(c.inputs.tmpfs).toHaveProperty("/tmp");
        }
    });

    test("images are built locally, never pushed, tagged with content hashes", () => {
        for (const img of run.ofType(IMAGE)) {
            expect(img.inputs.skipPush).toBe(true);
            expect(img.inputs.imageName).toMatch(/^lernmanager-unit-(runtime|app|nginx):[0-9a-f]{12}$/);
        }
        const appImage = run.named("lernmanager-unit-image-app");
        // A staged copy of the app (core/buildContext.ts), named by the app's content hash.
        expect(appImage.inputs.build.context).toMatch(/^\.build\/contexts\/demo-app-[0-9a-f]{12}$/);
        expect(appImage.inputs.build.args.RUNTIME_IMAGE).toBe(
            run.named("lernmanager-unit-image-runtime").inputs.imageName,
        );
        const gunicorn = Buffer.from(appImage.inputs.build.args.GUNICORN_CONF, "base64").toString();
        expect(gunicorn).toContain("workers = 4");
        expect(gunicorn).toContain("threads = 2");
        expect(gunicorn).toContain("accesslog = None");
        expect(run.named("lernmanager-unit-image-runtime").inputs.build.args.BASE_IMAGE).toBe(TEST_IMAGES.python);
    });

    test("volumes are not protected when protectData is off", () => {
        for (const v of run.ofType(VOLUME)) {
            expect(v.opts.protect).toBeFalsy();
            expect(v.opts.retainOnDelete).toBeFalsy();
        }
    });

    test("every resource is parented under the stack component", () => {
        const top = run.registrations.filter((r) => r.type === "lernmanager:index:Lernmanager");
        expect(top).toHaveLength(1);
        // The destroy guard stands beside the stack: it depends on all of it.
        const guard = run.registrations.filter((r) => r.type === "lernmanager:deploy:DestroyGuard");
        expect(guard).toHaveLength(1);
        expect(run.named("lernmanager-unit-destroy-guard").opts.dependsOn).toEqual(["lernmanager-unit"]);
        for (const r of run.registrations) {
            if (r !== top[0] && r !== guard[0] && r.type !== "pulumi:providers:docker")
                expect(r.opts.parent).toBeDefined();
        }
        const components = run.registrations.filter((r) => !r.custom).map((r) => r.type);
        expect(components.sort()).toEqual([
            "lernmanager:app:AppImage",
            "lernmanager:app:AppService",
            "lernmanager:app:BackupAgent",
            "lernmanager:deploy:DeployStep",
            "lernmanager:deploy:DeployStep",
            "lernmanager:deploy:DeployStep",
            "lernmanager:deploy:DeployStep",
            "lernmanager:deploy:DeployStep",
            "lernmanager:deploy:DeployStep",
            "lernmanager:deploy:DeployStep",
            "lernmanager:deploy:DeployStep",
            "lernmanager:deploy:DestroyGuard",
            "lernmanager:index:Lernmanager",
            "lernmanager:storage:Storage",
            "lernmanager:web:WebServer",
        ]);
    });

    test("exports the URL, the app version and the volume names", () => {
        expect(run.outputs.url).toBe("http://127.0.0.1:8080/");
        expect(run.outputs.appVersion).toMatch(/^[0-9a-f]{12}$/);
        expect(run.outputs.volumes).toEqual({
            data: "lernmanager-unit-data",
            uploads: "lernmanager-unit-uploads",
            static: "lernmanager-unit-static",
            cache: "lernmanager-unit-cache",
            backups: "lernmanager-unit-backups",
        });
    });
});

describe("deploy steps (@pulumi/command)", () => {
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runProgram(testConfig(), { stack: "steps" });
    });
    const step = (kind: string) => run.named(`lernmanager-steps-${kind}`);
    const appImageId = () => run.named("lernmanager-steps-image-app").inputs.imageName; // the mocked image id

    test("run in order: backup, migration, candidate, app container, nginx, smoke test", () => {
        const order = ["backup", "migrate", "candidate", "app", "nginx", "smoke"].map((k) => step(k).order);
        expect([...order].sort((a, b) => a - b)).toEqual(order);
        expect(step("backup").opts.dependsOn).toEqual(
            expect.arrayContaining(["lernmanager-steps-storage-data", "lernmanager-steps-storage-backups"]),
        );
        expect(step("migrate").opts.dependsOn).toContain("lernmanager-steps-backup");
        expect(step("candidate").opts.dependsOn).toContain("lernmanager-steps-migrate");
        expect(step("app").opts.dependsOn).toEqual(["lernmanager-steps-candidate", "lernmanager-steps-image-cleanup"]);
        expect(step("smoke").opts.dependsOn).toEqual(
            expect.arrayContaining(["lernmanager-steps-nginx", "lernmanager-steps-app"]),
        );
    });

    test("backup and migration run once per new app image (triggered by its id)", () => {
        for (const kind of ["backup", "migrate"]) {
            expect(step(kind).inputs.triggers).toEqual([appImageId()]);
            expect(step(kind).inputs.environment.LM_IMAGE).toBe(appImageId());
            expect(step(kind).inputs.interpreter).toEqual(["/bin/bash", "-c"]);
        }
        expect(step("backup").inputs.create).toContain("lm_backup.py backup");
        expect(step("migrate").inputs.create).toContain("lm_init.py");
    });

    test("the smoke test runs again whenever an image or a container changes", () => {
        const nginxImage = run.named("lernmanager-steps-nginx-image").inputs.imageName;
        expect(step("smoke").inputs.triggers).toEqual([
            appImageId(),
            nginxImage,
            "lernmanager-steps-app-id",
            "lernmanager-steps-nginx-id",
        ]);
        expect(step("smoke").inputs.create).toContain("lm_smoke.py");
    });

    test("the migration gets the app's environment, SECRET_KEY included, as a secret", () => {
        expect(step("migrate").secretInputs).toEqual(["environment"]);
        expect(step("migrate").inputs.environment.SECRET_KEY).toMatch(/^mock-secret-key-/);
        expect(step("migrate").inputs.create).toContain("-e SECRET_KEY");
        expect(step("backup").secretInputs).toEqual([]);
        expect(step("backup").inputs.environment.SECRET_KEY).toBeUndefined();
    });

    test("without an init hook, migration command, migrations or admin password there is no migration step", async () => {
        const bare = await runProgram(
            testConfig({ "lernmanager:initHook": "", "lernmanager:migrationsPath": "", "lernmanager:adminTable": "" }),
            { stack: "bare" },
        );
        expect(
            bare
                .ofType(COMMAND)
                .map((c) => c.name.replace("lernmanager-bare-", ""))
                .sort(),
        ).toEqual([
            "backup",
            "build-leftovers",
            "candidate",
            "destroy-guard",
            "image-cleanup",
            "image-prune",
            "pids-limit",
            "smoke",
        ]);
        expect(bare.named("lernmanager-bare-candidate").opts.dependsOn).toContain("lernmanager-bare-backup");
        expect(bare.named("lernmanager-bare-app").opts.dependsOn).toEqual([
            "lernmanager-bare-candidate",
            "lernmanager-bare-image-cleanup",
        ]);
    });

    test("the image janitor keeps 2 tags per repository after each new image and removes all on destroy", () => {
        const prune = step("image-prune");
        expect(prune.inputs.triggers).toEqual([appImageId()]);
        // Replaced with every new image: it must have no delete.
        expect(prune.inputs.delete).toBeUndefined();
        expect(prune.inputs.create).toContain("tail -n +3");
        expect(prune.inputs.environment.LM_KEEP_REFS.split(" ")).toEqual([
            run.named("lernmanager-steps-image-runtime").inputs.imageName,
            run.named("lernmanager-steps-image-app").inputs.imageName,
        ]);
        const cleanup = step("image-cleanup");
        expect(cleanup.inputs.triggers).toEqual([]);
        for (const repo of ["runtime", "app", "nginx"]) {
            expect(prune.inputs.create).toContain(`'lernmanager-steps-${repo}'`);
            expect(cleanup.inputs.delete).toContain(`'lernmanager-steps-${repo}'`);
        }
        // Containers depend on it, so a destroy deletes them first and the images after.
        expect(step("app").opts.dependsOn).toContain("lernmanager-steps-image-cleanup");
    });

    test("docker:host targets the provider and the deploy steps at the same host", async () => {
        const remote = await runProgram(testConfig({ "docker:host": "ssh://admin@schulserver" }), { stack: "remote" });
        expect(remote.named("lernmanager-remote-docker").inputs.host).toBe("ssh://admin@schulserver");
        for (const c of remote.ofType(COMMAND).filter((c) => !c.name.endsWith("destroy-guard")))
            expect(c.inputs.environment.DOCKER_HOST).toBe("ssh://admin@schulserver");
        // Unset: the provider's default (or $DOCKER_HOST), written out so both sides use the same.
        const host = process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
        expect(run.named("lernmanager-steps-docker").inputs.host).toBe(host);
        for (const c of run.ofType(COMMAND).filter((c) => !c.name.endsWith("destroy-guard")))
            expect(c.inputs.environment.DOCKER_HOST).toBe(host);
    });
});

describe("config flows into the declaration", () => {
    test("prod-like config: data and uploads protected and retained, port 80 on all interfaces", async () => {
        const run = await runProgram(
            testConfig({
                "lernmanager:protectData": "true",
                "lernmanager:bindAddress": "0.0.0.0",
                "lernmanager:port": "80",
                "lernmanager:allowPlainHttp": "true",
            }),
            { stack: "prod" },
        );
        const volumes = Object.fromEntries(run.ofType(VOLUME).map((v) => [v.inputs.name, v.opts]));
        for (const kept of ["lernmanager-prod-data", "lernmanager-prod-uploads"]) {
            expect(volumes[kept].protect).toBe(true);
            expect(volumes[kept].retainOnDelete).toBe(true);
        }
        for (const loose of ["lernmanager-prod-static", "lernmanager-prod-cache"]) {
            expect(volumes[loose].protect).toBeFalsy();
        }
        expect(run.named("lernmanager-prod-nginx").inputs.ports[0]).toMatchObject({ ip: "0.0.0.0", external: 80 });
        expect(run.outputs.url).toBe(`http://${os.hostname()}/`); // a name a colleague can open, not localhost
        const remote = await runProgram(
            testConfig({
                "lernmanager:bindAddress": "0.0.0.0",
                "lernmanager:port": "80",
                "lernmanager:allowPlainHttp": "true",
                "docker:host": "ssh://admin@schulserver.example:2222",
            }),
            { stack: "prod" },
        );
        expect(remote.outputs.url).toBe("http://schulserver.example/");
    });

    test("workers, threads, access log, upload limit and extra env reach the image and the container", async () => {
        const run = await runProgram(
            testConfig({
                "lernmanager:workers": "6",
                "lernmanager:threads": "3",
                "lernmanager:appAccessLog": "true",
                "lernmanager:uploadLimitMb": "20",
                "lernmanager:appEnv": JSON.stringify(["LANGUAGE=de", "FEATURE_X=1"]),
            }),
            { stack: "tuned" },
        );
        const gunicorn = Buffer.from(
            run.named("lernmanager-tuned-image-app").inputs.build.args.GUNICORN_CONF,
            "base64",
        ).toString();
        expect(gunicorn).toContain("workers = 6");
        expect(gunicorn).toContain("threads = 3");
        expect(gunicorn).toContain('accesslog = "-"');
        const nginxConf = Buffer.from(
            run.named("lernmanager-tuned-nginx-image").inputs.build.args.NGINX_CONF,
            "base64",
        ).toString();
        expect(nginxConf).toContain("client_max_body_size 20m;");
        // Downloads under the app's own X-Accel-Redirect prefix, whatever the config.
        expect(nginxConf).toContain("location ^~ /protected-files/ {");
        const envs = run.named("lernmanager-tuned-app").inputs.envs as string[];
        expect(envs).toEqual(expect.arrayContaining(["LANGUAGE=de", "FEATURE_X=1", "TZ=Europe/Berlin"]));
        // Neither the upload limit nor the download prefix goes to the app: it reads neither.
        expect(envs.filter((e) => /^(MAX_UPLOAD_MB|LM_ACCEL_REDIRECT_PREFIX)=/.test(e))).toEqual([]);
    });

    test("two stacks on one host yield disjoint physical names", async () => {
        const physical = async (stack: string) => {
            const run = await runProgram(testConfig(), { stack });
            const names = new Set<string>();
            for (const r of run.registrations) {
                if (typeof r.inputs.name === "string") names.add(r.inputs.name);
                if (typeof r.inputs.imageName === "string") names.add(r.inputs.imageName.split(":")[0]);
            }
            names.add(String(run.outputs.appContainer));
            return names;
        };
        const a = await physical("school-a");
        const b = await physical("school-b");
        expect(a.size).toBeGreaterThanOrEqual(10);
        expect([...a].filter((n) => b.has(n))).toEqual([]);
        for (const n of a) expect(n).toMatch(/^lernmanager-school-a-/);
    });

    test("a bad config creates no resource at all", async () => {
        const error = await runProgram(testConfig({ "lernmanager:workers": "0" }), { stack: "broken" }).then(
            () => undefined,
            (e: Error & { registeredBeforeError?: number }) => e,
        );
        expect(error?.message).toMatch(/lernmanager:workers = "0"/);
        expect(error?.registeredBeforeError).toBe(0);
    });
});
