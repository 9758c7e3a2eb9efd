import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { goDuration } from "../../components/hardening";
import { pidsLimitScript } from "../../render/pidsLimit";
import { runProgram, testConfig } from "../support/mocks";

const CONTAINER = "docker:index/container:Container";

describe("components/hardening.ts", () => {
    test("durations as the provider reads them back (Go's time.Duration.String())", () => {
        expect([5, 30, 60, 120, 125, 3600].map(goDuration)).toEqual(["5s", "30s", "1m0s", "2m0s", "2m5s", "1h0m0s"]);
        expect(() => goDuration(1.5)).toThrow(/whole seconds/);
    });

    test("every container of a stack with TLS and jobs is hardened the same way", async () => {
        const run = await runProgram(
            testConfig({
                "lernmanager:tls": "internal",
                "lernmanager:domain": "lernen.schule.test",
                "lernmanager:jobs": JSON.stringify([{ name: "n", schedule: "0 0 * * *", command: "true" }]),
            }),
            { stack: "unit-hard" },
        );
        const containers = run.registrations.filter((r) => r.type === CONTAINER);
        expect(
            containers
                .map((c) => c.inputs.labels.find((l: { label: string }) => l.label === "dev.lernmanager.role").value)
                .sort(),
        ).toEqual(["app", "backup", "nginx", "scheduler", "tls"]);
        for (const c of containers) {
            expect({ role: c.name, ...c.inputs }).toMatchObject({
                role: c.name,
                readOnly: true,
                init: true,
                restart: "unless-stopped",
                capabilities: { drops: ["ALL"] },
                securityOpts: ["no-new-privileges:true"],
                memorySwap: c.inputs.memory,
                logDriver: "json-file",
            });
            // No nproc ulimit: the kernel counts it per uid across every stack on the host.
            expect((c.inputs.ulimits ?? []).map((u: { name: string }) => u.name)).not.toContain("nproc");
        }
    });
    test("pidsLimit sets Docker's pids limit of the app, scheduler, backup and nginx containers (the TLS agent: 64), by a step that runs after each of them", async () => {
        const applied = async (pidsLimit: string) => {
            const run = await runProgram(
                testConfig({
                    "lernmanager:pidsLimit": pidsLimit,
                    "lernmanager:tls": "internal",
                    "lernmanager:domain": "lernen.schule.test",
                    "lernmanager:jobs": JSON.stringify([{ name: "n", schedule: "0 0 * * *", command: "true" }]),
                }),
                { stack: "unit-pids" },
            );
            const containers = run.registrations.filter((r) => r.type === CONTAINER);
            const step = run.named("-pids-limit");
            // Run again whenever a container is replaced (its id changes), and only once all exist.
            for (const c of containers) {
                expect(step.inputs.triggers).toContain(`${c.name}-id`);
                expect(step.opts.dependsOn).toContain(c.name);
            }
            return { updates: fakeDocker(step.inputs.create, roleOf(containers)).updates, roles: roleOf(containers) };
        };
        // Two values, so a fixed number that happens to equal the configured one cannot pass.
        for (const n of [300, 4096]) {
            const { updates, roles } = await applied(String(n));
            expect(updates).toEqual(
                Object.fromEntries(Object.values(roles).map((role) => [`id-${role}`, role === "tls" ? 64 : n])),
            );
            expect(Object.values(roles).sort()).toEqual(["app", "backup", "nginx", "scheduler", "tls"]);
        }
    });

    test("the pids-limit step fails when a role has no container or Docker keeps another limit, and skips a container removed meanwhile", () => {
        const script = pidsLimitScript({
            label: "dev.lernmanager.stack",
            stack: "s",
            limits: { app: 100, nginx: 200 },
        });
        const ok = fakeDocker(script, { a: "app", n: "nginx", gone: "app" }, { vanished: ["id-gone"] });
        expect(ok.code).toBe(0);
        expect(ok.updates).toEqual({ "id-a": 100, "id-n": 200 });
        expect(ok.calls.filter((c) => c.startsWith("ps "))[0]).toContain("--filter label=dev.lernmanager.stack=s");

        const none = fakeDocker(script, { a: "app" });
        expect(none.code).not.toBe(0);
        expect(none.stderr).toMatch(/no nginx container of stack s/);

        const ignored = fakeDocker(script, { a: "app", n: "nginx" }, { readBack: "0" });
        expect(ignored.code).not.toBe(0);
        expect(ignored.stderr).toMatch(/has pids limit 0, not 100/);

        const refused = fakeDocker(script, { a: "app", n: "nginx" }, { refuse: true });
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toMatch(/could not set the pids limit of the app container/);

        expect(() => pidsLimitScript({ label: "l", stack: "s", limits: {} })).toThrow(/no role/);
        expect(() => pidsLimitScript({ label: "l", stack: "s", limits: { app: 0 } })).toThrow(
            /app must be a whole number/,
        );
        expect(() => pidsLimitScript({ label: "l", stack: "s", limits: { "a;b": 1 } })).toThrow(/not a plain name/);
    });
});

/** Container logical name (its id under the mocks is `<name>-id`) → its role label. */
function roleOf(containers: { name: string; inputs: Record<string, any> }[]): Record<string, string> {
    return Object.fromEntries(
        containers.map((c) => [
            `${c.name}-id`,
            c.inputs.labels.find((l: { label: string }) => l.label === "dev.lernmanager.role").value,
        ]),
    );
}

/**
 * Runs a pids-limit script against a stand-in `docker` on PATH: `ps` lists the containers of the
 * role asked for (ids `id-<key>` unless the key is already an id), `update` records the limit,
 * `inspect` reads it back (or `readBack`), a `vanished` container is gone by the time of its update.
 */
function fakeDocker(
    script: string,
    roles: Record<string, string>,
    opts: { vanished?: string[]; readBack?: string; refuse?: boolean } = {},
): { code: number; stderr: string; updates: Record<string, number>; calls: string[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-pids-"));
    try {
        const idOf = (key: string) => (key.endsWith("-id") ? `id-${roles[key]}` : `id-${key}`);
        const listing = Object.entries(roles)
            .map(([key, role]) => `${role} ${idOf(key)}`)
            .join("\n");
        fs.writeFileSync(path.join(dir, "limits"), "");
        fs.writeFileSync(
            path.join(dir, "docker"),
            [
                "#!/bin/bash",
                `echo "$*" >> ${dir}/calls`,
                'case "$1" in',
                '  ps) for a in "$@"; do case $a in label=dev.lernmanager.role=*) role=${a##*=} ;; esac; done',
                `     printf '${listing}\n' | awk -v r="$role" '$1 == r { print $2 }' ;;`,
                `  update) case " ${(opts.vanished ?? []).join(" ")} " in *" $4 "*) exit 1 ;; esac`,
                `     ${opts.refuse ? "exit 1" : ""}`,
                `     echo "$4 $3" >> ${dir}/limits; echo "$4" ;;`,
                `  inspect) id=\${!#}; case " ${(opts.vanished ?? []).join(" ")} " in *" $id "*) exit 1 ;; esac`,
                `     ${opts.readBack ? `echo ${opts.readBack}` : `awk -v i="$id" '$1 == i { l = $2 } END { print l }' ${dir}/limits`} ;;`,
                "  *) exit 2 ;;",
                "esac",
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        const r = spawnSync("/bin/bash", ["-c", script], {
            env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
            encoding: "utf8",
        });
        const read = (f: string) =>
            fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8") : "";
        const updates = Object.fromEntries(
            read("limits")
                .split("\n")
                .filter(Boolean)
                .map((l) => [l.split(" ")[0], Number(l.split(" ")[1])]),
        );
        return { code: r.status ?? -1, stderr: r.stderr, updates, calls: read("calls").split("\n").filter(Boolean) };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
