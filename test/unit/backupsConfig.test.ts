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

describe("backup config: the edges of each check", () => {
    const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----";
    const AGE = "age1" + "q".repeat(58);
    const SSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq";

    test("backupKeep is read as given", () => {
        expect(load({ backupKeep: "3" }).backupKeep).toBe(3);
        expect(load({}).backupKeep).toBe(10);
    });

    test("backupEvery: 30s and 7d are the bounds; one second outside is refused; blanks around it are fine", () => {
        expect(load({ backupEvery: "30s" }).backups.everySeconds).toBe(30);
        expect(load({ backupEvery: "7d" }).backups.everySeconds).toBe(604800);
        expect(load({ backupEvery: " 2h " }).backups.everySeconds).toBe(7200);
        expect(load({ backupEvery: " off " }).backups.everySeconds).toBeUndefined();
        for (const bad of ["29s", "604801s", "8d", "x6h", "6hx", "6"])
            expect(problems({ backupEvery: bad })).toEqual([expect.stringMatching(/backupEvery = .*from 30s to 7d/)]);
    });

    test("backupRetention: blanks and a trailing comma are fine; a kind twice, junk around a part or 5 digits are refused", () => {
        expect(load({ backupRetention: "hourly=3, daily=2," }).backups.retention).toEqual({
            hourly: 3,
            daily: 2,
            weekly: 8,
        });
        for (const bad of ["hourly=1,hourly=2", "xhourly=3", "hourly=3x", "weekly=10000"])
            expect(problems({ backupRetention: bad })).toHaveLength(1);
    });

    test("backupCopyTo: not a list, a number, a malformed sftp:// URL or a folder twice each give one problem with the fix", () => {
        expect(problems({ backupCopyTo: "/mnt/nas" })).toEqual([
            "lernmanager:backupCopyTo = \"/mnt/nas\": must be a list of absolute host folders and sftp:// URLs. Fix: `pulumi config set --path 'backupCopyTo[0]' /mnt/nas/lernmanager`.",
        ]);
        expect(problems({ backupCopyTo: "[5]" })).toEqual([
            expect.stringMatching(/^lernmanager:backupCopyTo\[0\] = 5: must be an absolute folder on the Docker host/),
        ]);
        expect(problems({ backupCopyTo: '["backups"]' })[0]).toMatch(
            /Fix: `pulumi config set --path 'backupCopyTo\[0\]' \/mnt\/nas\/lernmanager`$/,
        );
        const sftp = (url: string) =>
            problems({ backupCopyTo: JSON.stringify([url]), backupSftpKey: KEY, backupEncryptTo: "none" });
        for (const bad of ["sftp://nas/lm", "sftp:sftp://b@nas/lm", "sftp://b@nas/lm dir", "sftp://b@[fd00::g]/lm"])
            expect(sftp(bad)).toEqual([
                `lernmanager:backupCopyTo[0] = "${bad}": must look like sftp://user@host[:port]/path. Fix: e.g. sftp://backup@nas.schule.example/lernmanager`,
            ]);
        expect(sftp("sftp://b@[fd00::5]:2222/lm")).toEqual([]);
        expect(problems({ backupCopyTo: '["/mnt/a", "/mnt/a/"]', backupEncryptTo: "none" })).toEqual([
            "lernmanager:backupCopyTo: a folder is listed twice. Fix: list each once.",
        ]);
    });

    test("backupSftpKey: the whole key file (a trailing newline is fine); anything else is refused with the fix", () => {
        const withKey = (k: string) => ({
            backupCopyTo: '["sftp://b@nas/lm"]',
            backupEncryptTo: "none",
            backupSftpKey: k,
        });
        expect(load(withKey(`${KEY}\n`)).backups.sftpKey).toBe(KEY);
        const refused =
            "lernmanager:backupSftpKey: is not a private key in OpenSSH/PEM format (-----BEGIN ... PRIVATE KEY-----). Fix: set the whole key file.";
        for (const bad of ["not a key", `x${KEY}`, `${KEY}x`, KEY.replace("END OPENSSH", "END RSA")])
            expect(problems(withKey(bad))).toEqual([refused]);
    });

    test("backupEncryptTo: comments, blanks and 'none' with blanks; a long bad entry is cut to 40 characters", () => {
        const nas = { backupCopyTo: '["/mnt/nas/lm"]' };
        expect(load({ ...nas, backupEncryptTo: ` ${AGE} , ${SSH}\n# the admin's laptop` }).backups.encryptTo).toEqual([
            AGE,
            SSH,
        ]);
        expect(load({ ...nas, backupEncryptTo: ` none ` }).backups.encryptTo).toEqual([]);
        // Two blanks between type and key are one separator.
        expect(load({ ...nas, backupEncryptTo: SSH.replace(" ", "  ") }).backups.encryptTo).toEqual([SSH]);
        const long = "x".repeat(60);
        expect(problems({ ...nas, backupEncryptTo: long })[0]).toContain(`"${"x".repeat(40)}" is not an age recipient`);
        for (const bad of [`x${AGE}`, `${AGE}x`, "ssh-xssh-rsa AAAAB3NzaC1yc2E", `${SSH}!`])
            expect(problems({ ...nas, backupEncryptTo: bad })).toEqual([
                expect.stringMatching(/is not an age recipient/),
            ]);
        // Only blanks is not set: plain copies need "none".
        expect(problems({ ...nas, backupEncryptTo: "  " })).toEqual([
            expect.stringMatching(/backupEncryptTo is not set/),
        ]);
    });

    test("a folder and an sftp:// target together count as copy targets: encryption required, and used", () => {
        const both = { backupCopyTo: '["/mnt/nas/lm", "sftp://b@nas/lm"]', backupSftpKey: KEY };
        expect(problems(both)).toEqual([expect.stringMatching(/backupEncryptTo is not set/)]);
        expect(load({ ...both, backupEncryptTo: AGE }).backups.encryptTo).toEqual([AGE]);
    });

    test("backupSftpHostKey: leading blanks, two blanks, every key type; a line without a known type or with a bad blob is refused", () => {
        expect(parseHostKeys(`  ${ED}  \n${RSA.replace(" ", "  ")}`)).toEqual([ED, RSA]);
        // A line of blanks only is an empty line, not a bad key.
        expect(parseHostKeys(`${ED}\n   \n${RSA}`)).toEqual([ED, RSA]);
        for (const type of ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com"])
            expect(parseHostKeys(`${type} AAAAB3x`)).toEqual([`${type} AAAAB3x`]);
        for (const bad of [
            "host notatype AAAAC3NzaC1",
            "AAAAC3NzaC1 comment",
            `x${ED}`,
            ED.replace("ssh-ed25519", "ssh-ed25519x"),
            "ssh-ed25519 xAAAAC3Nz",
            "ssh-ed25519 AAAAC3Nz!",
        ])
            expect(parseHostKeys(bad)).toEqual({ badLine: 1 });
    });
});
