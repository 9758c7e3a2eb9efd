// SFTP copies of the backups: what the backup container and the runtime image get when backupCopyTo
// has an sftp:// target (backupSftpHostKey: test/unit/backupsConfig.test.ts; the sessions
// themselves: test/e2e/backupsSftp.test.ts).
import { runProgram, testConfig } from "../support/mocks";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----";
const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHv1k1RrZ0d3m0m2gqJ6Yc3c7yO4bT0qfQn0W3c2Jx1a";

describe("an sftp:// target", () => {
    const runtimeArgs = (run: Awaited<ReturnType<typeof runProgram>>) =>
        run.ofType("docker:index/image:Image").find((r) => r.name.endsWith("-runtime"))!.inputs.build.args;

    test("the backup container joins the default bridge with the key and the pinned host keys as secret env; the runtime image gets openssh-client", async () => {
        const run = await runProgram(
            testConfig({
                "lernmanager:backupCopyTo": '["sftp://backup@10.0.0.5/lernmanager"]',
                "lernmanager:backupSftpKey": KEY,
                "lernmanager:backupSftpHostKey": ED,
            }),
            { stack: "sf" },
        );
        const c = run.named("lernmanager-sf-backups");
        expect(c.inputs.networkMode).toBe("bridge");
        expect(c.inputs.envs).toEqual(expect.arrayContaining([`LM_SFTP_KEY=${KEY}`, `LM_SFTP_HOST_KEYS=${ED}`]));
        expect(c.secretInputs).toContain("envs");
        expect(JSON.parse(c.inputs.command[1]).sftp).toEqual(["sftp://backup@10.0.0.5/lernmanager"]);
        expect(runtimeArgs(run)).toMatchObject({ OS_PACKAGES: "tzdata openssh-client" });
        // The app container never sees the SFTP key.
        expect(JSON.stringify(run.named("lernmanager-sf-app").inputs.envs)).not.toContain("PRIVATE KEY");
    });

    test("without one: no network, no key, no sftp client (the runtime image's tag stays as it was)", async () => {
        const run = await runProgram(testConfig({ "lernmanager:backupCopyTo": '["/mnt/nas/lm"]' }), { stack: "sf" });
        const c = run.named("lernmanager-sf-backups");
        expect(c.inputs.networkMode).toBe("none");
        expect(JSON.stringify(c.inputs.envs)).not.toMatch(/LM_SFTP/);
        expect(runtimeArgs(run).OS_PACKAGES).toBe("tzdata");
        const plain = await runProgram(testConfig({}), { stack: "sf" });
        const withSftp = await runProgram(
            testConfig({
                "lernmanager:backupCopyTo": '["sftp://backup@10.0.0.5/lernmanager"]',
                "lernmanager:backupSftpKey": KEY,
            }),
            { stack: "sf" },
        );
        const tag = (r: typeof run) =>
            r.ofType("docker:index/image:Image").find((i) => i.name.endsWith("-runtime"))!.inputs.imageName;
        expect(tag(run)).toBe(tag(plain));
        expect(tag(withSftp)).not.toBe(tag(plain));
    });
});
