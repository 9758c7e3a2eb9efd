import { containerCreateBody, UnmappedFieldError } from "../support/realize";
import { runProgram, testConfig } from "../support/mocks";

describe("the real-engine helper maps every field the program declares, and only those", () => {
    test("each declared container maps to an Engine API body", async () => {
        const run = await runProgram(testConfig(), { stack: "mapping" });
        const containers = run.ofType("docker:index/container:Container");
        expect(containers).toHaveLength(3);
        for (const c of containers) {
            const body = containerCreateBody(c, "sha256:feed", "name");
            expect(body.HostConfig?.ReadonlyRootfs).toBe(true);
            expect(body.Healthcheck?.Interval).toBe(c.name.endsWith("-backups") ? 30e9 : 5e9);
            expect(body.HostConfig?.CapDrop).toEqual(["ALL"]);
        }
        const backups = containerCreateBody(run.named("lernmanager-mapping-backups"), "sha256:feed", "b");
        expect(backups.HostConfig?.NetworkMode).toBe("none");
        const nginx = containerCreateBody(run.named("lernmanager-mapping-nginx"), "sha256:feed", "n");
        expect(nginx.HostConfig?.PortBindings).toEqual({ "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }] });
        // Read-only but for its spool (request bodies on their way).
        expect(nginx.HostConfig?.Mounts?.filter((m) => !m.ReadOnly).map((m) => m.Target)).toEqual(["/srv/nginx-spool"]);
    });

    test("a field it does not know fails loudly instead of being ignored", async () => {
        const run = await runProgram(testConfig(), { stack: "mapping2" });
        const app = run.named("lernmanager-mapping2-app");
        const withNewField = { ...app, inputs: { ...app.inputs, privileged: true } };
        expect(() => containerCreateBody(withNewField, "sha256:feed", "x")).toThrow(UnmappedFieldError);
        expect(() => containerCreateBody(withNewField, "sha256:feed", "x")).toThrow(/field "privileged"/);
        const withNewHealthField = {
            ...app,
            inputs: { ...app.inputs, healthcheck: { ...app.inputs.healthcheck, startInterval: "1s" } },
        };
        expect(() => containerCreateBody(withNewHealthField, "sha256:feed", "x")).toThrow(/field "startInterval"/);
    });
});
