import { goDuration } from "../../components/hardening";
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
            expect(c.inputs.ulimits[0].name).toBe("nproc");
        }
    });
    test("pidsLimit sets the nproc limit (soft and hard) of the app, scheduler, backup and nginx containers", async () => {
        const nproc = async (pidsLimit: string) => {
            const run = await runProgram(
                testConfig({
                    "lernmanager:pidsLimit": pidsLimit,
                    "lernmanager:jobs": JSON.stringify([{ name: "n", schedule: "0 0 * * *", command: "true" }]),
                }),
                { stack: "unit-pids" },
            );
            return Object.fromEntries(
                run.registrations
                    .filter((r) => r.type === CONTAINER)
                    .map((c) => [
                        c.inputs.labels.find((l: { label: string }) => l.label === "dev.lernmanager.role").value,
                        c.inputs.ulimits.find((u: { name: string }) => u.name === "nproc"),
                    ]),
            );
        };
        // Two values, so a fixed number that happens to equal the configured one cannot pass.
        for (const n of [300, 4096]) {
            const limit = { name: "nproc", soft: n, hard: n };
            expect(await nproc(String(n))).toEqual({ app: limit, scheduler: limit, backup: limit, nginx: limit });
        }
    });
});
