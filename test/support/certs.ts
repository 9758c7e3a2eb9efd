import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** A throwaway CA and server certificates made with the host's openssl, for TLS tests. */
export interface TestCa {
    readonly dir: string;
    readonly caCert: string;
    readonly caKey: string;
    /** A server certificate for the DNS names / IP addresses, signed by this CA: PEM texts. */
    issue(
        names: readonly string[],
        opts?: { addresses?: readonly string[]; days?: number },
    ): { cert: string; key: string };
    remove(): void;
}

const openssl = (args: string[], cwd: string) => execFileSync("openssl", args, { cwd, stdio: "pipe" });

export function testCa(name = "Test CA"): TestCa {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-ca-"));
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key"], dir);
    openssl(
        [
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-sha256",
            "-days",
            "30",
            "-subj",
            `/CN=${name}`,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "ca.crt",
        ],
        dir,
    );
    let n = 0;
    return {
        dir,
        caCert: fs.readFileSync(path.join(dir, "ca.crt"), "utf8"),
        caKey: fs.readFileSync(path.join(dir, "ca.key"), "utf8"),
        issue(names, opts = {}) {
            n++;
            const san = [...names.map((d) => `DNS:${d}`), ...(opts.addresses ?? []).map((a) => `IP:${a}`)].join(",");
            fs.writeFileSync(path.join(dir, `ext${n}.cnf`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
            openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `s${n}.key`], dir);
            openssl(
                ["req", "-new", "-key", `s${n}.key`, "-subj", `/CN=${names[0] ?? "server"}`, "-out", `s${n}.csr`],
                dir,
            );
            openssl(
                [
                    "x509",
                    "-req",
                    "-in",
                    `s${n}.csr`,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    String(opts.days ?? 30),
                    "-sha256",
                    "-extfile",
                    `ext${n}.cnf`,
                    "-out",
                    `s${n}.crt`,
                ],
                dir,
            );
            return {
                cert: fs.readFileSync(path.join(dir, `s${n}.crt`), "utf8"),
                key: fs.readFileSync(path.join(dir, `s${n}.key`), "utf8"),
            };
        },
        remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}
