// The school's own certificate (tls: files), checked before any resource exists: a PEM chain whose
// first certificate belongs to the key, is valid now and names every name the stack serves.
import { X509Certificate, createPrivateKey, type KeyObject } from "crypto";
import type { KeyReader } from "./reader";

/** The certificate chain and its key (secret) as given, or undefined with a problem per mistake. */
export function readCertificateFiles(
    r: KeyReader<"tlsCertificate" | "tlsKey">,
    names: readonly string[],
    now = new Date(),
): { certificate: string; key: string; notAfter: string } | undefined {
    const { get, ns, problems } = r;
    const showSecret = (key: string) => `${ns}${key} (secret)`;
    const certificate = get("tlsCertificate").trim();
    const keyPem = get("tlsKey").trim();
    const certs = certificate ? parseCerts(certificate) : undefined;
    let key: KeyObject | undefined;
    try {
        key = keyPem ? createPrivateKey(keyPem) : undefined;
    } catch {
        key = undefined;
    }
    if (!certs) {
        problems.push(
            `${ns}tlsCertificate ${certificate ? "is not a PEM certificate" : "is not set"} (tls: files). ` +
                `Fix: \`pulumi config set tlsCertificate -- "$(cat fullchain.pem)"\``,
        );
    }
    if (!key) {
        problems.push(
            `${showSecret("tlsKey")} ${keyPem ? "is not a PEM private key" : "is not set"} (tls: files). ` +
                `Fix: \`pulumi config set --secret tlsKey -- "$(cat privkey.pem)"\``,
        );
    }
    if (certs && key) {
        const leaf = certs[0];
        if (!leaf.checkPrivateKey(key)) {
            problems.push(
                `${showSecret("tlsKey")} does not belong to tlsCertificate (${leaf.subject.replace(/\n/g, ", ")}). ` +
                    `Fix: set the key the certificate was issued for, or the certificate of this key; the server certificate must come first.`,
            );
        }
        if (new Date(leaf.validTo) <= now) {
            problems.push(
                `${ns}tlsCertificate expired on ${leaf.validTo}. Fix: renew it with the school's CA and set the new one ` +
                    `(or \`pulumi config set tls internal\` / acme to have the stack renew it).`,
            );
        } else if (new Date(leaf.validFrom) > now) {
            problems.push(
                `${ns}tlsCertificate is not valid before ${leaf.validFrom}. Fix: check the server's clock or the certificate.`,
            );
        }
        for (const name of names) {
            if (!leaf.checkHost(name, { subject: "default" })) {
                problems.push(
                    `${ns}tlsCertificate is not valid for ${name} (it is for ${altNames(leaf)}). ` +
                        `Fix: a certificate that names ${name}, or \`pulumi config set domain <a name it is for>\`.`,
                );
            }
        }
        return {
            certificate: `${certs.map((c) => c.toString().trim()).join("\n")}\n`,
            key: `${keyPem}\n`,
            notAfter: leaf.validTo,
        };
    }
    return undefined;
}

export function parseCerts(pem: string): X509Certificate[] | undefined {
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (!blocks) return undefined;
    try {
        return blocks.map((b) => new X509Certificate(b));
    } catch {
        return undefined;
    }
}

function altNames(cert: X509Certificate): string {
    return cert.subjectAltName ?? cert.subject.replace(/\n/g, ", ");
}
