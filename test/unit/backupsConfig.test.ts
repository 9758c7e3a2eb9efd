// The backup keys as loadConfig reads them (config/backups.ts), without running the program: what
// `bash scripts/mutate.sh config/backups.ts` runs against each mutant. What the containers get from
// them: test/unit/backups.test.ts and backupsSftp.test.ts.
import { parseHostKeys } from "../../config/backups";
import { sftpHostKeysEnv } from "../../components/backups";
import { load, problems } from "../support/config";

const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHv1k1RrZ0d3m0m2gqJ6Yc3c7yO4bT0qfQn0W3c2Jx1a";
const RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7==";

describe("backup config", () => {
    test("defaults: every 6 h, 10 newest + 24 hourly, 7 daily, 8 weekly, no copies", () => {
        expect(load({}).backups).toEqual({
            everySeconds: 21600,
            retention: { hourly: 24, daily: 7, weekly: 8 },
            copyDirs: [],
            sftpTargets: [],
            sftpKey: undefined,
            sftpHostKeys: [],
            encryptTo: [],
        });
        expect(load({ backupEvery: "off" }).backups.everySeconds).toBeUndefined();
        expect(load({ backupEvery: "45m", backupRetention: "daily=3" }).backups).toMatchObject({
            everySeconds: 2700,
            retention: { hourly: 24, daily: 3, weekly: 8 },
        });
    });

    test("copies are encrypted by default: a copy target without backupEncryptTo is refused with the fix; none allows plain copies", () => {
        const nas = { backupCopyTo: '["/mnt/nas/lm"]' };
        expect(problems(nas)).toEqual([
            expect.stringMatching(
                /^lernmanager:backupCopyTo has a copy target but lernmanager:backupEncryptTo is not set: the copies would leave the server unencrypted\. Fix: `age-keygen -o lernmanager-backup.key` .*`pulumi config set backupEncryptTo none` to copy unencrypted on purpose$/,
            ),
        ]);
        expect(problems({ ...nas, backupEncryptTo: "age1nope" })[0]).toMatch(
            /^lernmanager:backupEncryptTo: "age1nope" is not an age recipient/,
        );
        const age = "age1" + "q".repeat(58);
        const ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq";
        expect(load({ ...nas, backupEncryptTo: `${age}\n${ssh} admin@laptop` }).backups.encryptTo).toEqual([age, ssh]);
        expect(load({ ...nas, backupEncryptTo: "none" }).backups.encryptTo).toEqual([]);
        // Without a copy target there is nothing to encrypt (the backups volume stays plain).
        expect(problems({})).toEqual([]);
        expect(load({ backupEncryptTo: age }).backups.encryptTo).toEqual([]);
    });

    test("bad values name the key and the fix; a relative copy folder is refused", () => {
        expect(problems({ backupEvery: "6 hours" })[0]).toMatch(
            /^lernmanager:backupEvery = "6 hours": .*Fix: `pulumi config set backupEvery 6h`/,
        );
        expect(problems({ backupEvery: "10s" })[0]).toMatch(/from 30s to 7d/);
        expect(problems({ backupRetention: "monthly=3" })[0]).toMatch(/"monthly=3" is not one of hourly=N/);
        expect(problems({ backupCopyTo: '["backups/nas"]' })[0]).toMatch(
            /backupCopyTo\[0\] = "backups\/nas": must be an absolute folder .*a relative path is refused/,
        );
        expect(problems({ backupCopyTo: '["/etc/lm"]' })[0]).toMatch(/a system folder cannot hold backups/);
        expect(problems({ backupCopyTo: '["ftp://x/y"]' })).toHaveLength(1);
        expect(problems({ backupCopyTo: '["sftp://backup@nas.example/lm"]' })[0]).toMatch(
            /backupSftpKey is not set\. Fix: `pulumi config set --secret backupSftpKey/,
        );
        expect(
            load({
                backupCopyTo: '["/mnt/nas/lm/", "sftp://b@nas:2222/x"]',
                backupEncryptTo: "none",
                backupSftpKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----",
            }).backups,
        ).toMatchObject({
            copyDirs: ["/mnt/nas/lm"],
            sftpTargets: ["sftp://b@nas:2222/x"],
        });
    });
});

describe("backupSftpHostKey", () => {
    test("a key file's line, ssh-keyscan's lines and comments become 'type base64' lines", () => {
        expect(parseHostKeys(`${ED} root@nas`)).toEqual([ED]);
        expect(parseHostKeys(`# nas.schule.example:22 SSH-2.0-OpenSSH_9.2\nnas ${ED}\n\n10.0.0.5 ${RSA}\n`)).toEqual([
            ED,
            RSA,
        ]);
        expect(parseHostKeys("")).toEqual([]);
        expect(parseHostKeys(`${ED}\nssh-dss AAAAB3x`)).toEqual({ badLine: 2 });
        expect(parseHostKeys("ssh-ed25519 notbase64!")).toEqual({ badLine: 1 });
    });

    test("the config: default none (pinned on first use); a bad line names the key, the line and the fix", () => {
        expect(load({}).backups.sftpHostKeys).toEqual([]);
        expect(load({ backupSftpHostKey: `nas ${ED}` }).backups.sftpHostKeys).toEqual([ED]);
        expect(problems({ backupSftpHostKey: `${ED}\nAAAA` })).toEqual([
            'lernmanager:backupSftpHostKey: line 2 is not a public host key ("ssh-ed25519 AAAA..."). Fix: `pulumi config set backupSftpHostKey -- "$(cat ssh_host_ed25519_key.pub)"` with the server\'s key file',
        ]);
        expect(sftpHostKeysEnv([ED, RSA])).toEqual([`LM_SFTP_HOST_KEYS=${ED},${RSA}`]);
        expect(sftpHostKeysEnv([])).toEqual([]);
    });
});
