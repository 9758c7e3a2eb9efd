// HTTPS settings (keys in config/tlsKeys.ts), validated before any resource exists: a certificate
// that does not match its key, has expired or is not for the domain is refused with the fix.
import { X509Certificate, createPrivateKey, type KeyObject } from "crypto";
import * as net from "net";
import { CONFIG_KEYS, type ConfigKey } from "./keys";
import { parseList, type KeyReader } from "./lists";
import { LETS_ENCRYPT_STAGING } from "./tlsKeys";

export type TlsMode = "off" | "acme" | "files" | "internal";
export const TLS_MODES: readonly TlsMode[] = ["off", "acme", "files", "internal"];

export interface TlsConfig {
    readonly mode: TlsMode;
    /** The server's name ("" when none is configured: tls off, or files without a domain). */
    readonly domain: string;
    /** DNS names the certificate is for: domain first, then extraNames. */
    readonly names: readonly string[];
    /** IP addresses the internal certificate is also for. */
    readonly addresses: readonly string[];
    readonly httpsPort: number;
    readonly acme?: { readonly server: string; readonly email: string; readonly caCertificate: string };
    /** tls: files: the certificate chain and its key (secret) as given. */
    readonly files?: { readonly certificate: string; readonly key: string; readonly notAfter: string };
    readonly renewDays: number;
    readonly checkHours: number;
    readonly hstsMaxAge: number;
    readonly hstsIncludeSubdomains: boolean;
    /** Base image of the TLS agent. */
    readonly agentImage: string;
}

export interface TlsConfigContext extends KeyReader {
    readonly int: (key: ConfigKey) => number;
    readonly bool: (key: ConfigKey) => boolean;
    /** A test school (createdAt set): never the production ACME server unless asked for. */
    readonly testSchool: boolean;
    /** The HTTP port, which httpsPort must differ from. */
    readonly httpPort: number;
    readonly now?: Date;
}

const DNS_NAME_RE =
    /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function tlsSettings(ctx: TlsConfigContext): TlsConfig {
    const { get, ns, problems } = ctx;
    const show = (key: ConfigKey) => `${ns}${key} = ${JSON.stringify(get(key))}`;
    const showSecret = (key: ConfigKey) => `${ns}${key} (secret)`;
    const mode = get("tls").trim() as TlsMode;
    if (!TLS_MODES.includes(mode)) {
        problems.push(
            `${show("tls")}: must be one of ${TLS_MODES.join(", ")}. Fix: \`pulumi config set tls internal\` ` +
                `(or acme with a public domain, files with the school's certificate, off behind a TLS proxy)`,
        );
    }
    const domain = get("domain").trim().toLowerCase();
    if (domain && !DNS_NAME_RE.test(domain)) {
        problems.push(
            `${show("domain")}: must be a DNS name like lernen.schule.de. Fix: \`pulumi config set domain <name>\``,
        );
    }
    const extraNames = stringList(
        ctx,
        "extraNames",
        "a list of DNS names",
        '`pulumi config set --path "extraNames[0]" lernmanager.schule.local`',
    )
        .map((n) => n.toLowerCase())
        .filter((n, i) => {
            if (DNS_NAME_RE.test(n)) return true;
            problems.push(
                `${ns}extraNames[${i}] = ${JSON.stringify(n)}: not a DNS name. Fix: remove it or correct it.`,
            );
            return false;
        });
    const addresses = stringList(
        ctx,
        "serverAddresses",
        "a list of IP addresses",
        '`pulumi config set --path "serverAddresses[0]" 10.0.0.5`',
    ).filter((a, i) => {
        if (net.isIP(a)) return true;
        problems.push(`${ns}serverAddresses[${i}] = ${JSON.stringify(a)}: not an IP address. Fix: e.g. 10.0.0.5`);
        return false;
    });
    const names = [...new Set([domain, ...extraNames].filter(Boolean))];
    const httpsPort = ctx.int("httpsPort");
    if (mode !== "off" && httpsPort === ctx.httpPort) {
        problems.push(
            `${show("httpsPort")}: equals port; HTTP and HTTPS need their own ports. Fix: \`pulumi config set httpsPort 443\``,
        );
    }
    if ((mode === "acme" || mode === "internal") && !domain) {
        problems.push(
            `${ns}tls = ${JSON.stringify(mode)} needs the server's name, but domain is not set. ` +
                `Fix: \`pulumi config set domain lernen.schule-am-walde.de\` (the name students type)`,
        );
    }

    let acme: TlsConfig["acme"];
    if (mode === "acme") {
        const server = ctx.isSet("acmeServer") || !ctx.testSchool ? get("acmeServer").trim() : LETS_ENCRYPT_STAGING;
        if (!/^https:\/\/[^\s/]+\/\S*$/.test(server)) {
            problems.push(
                `${show("acmeServer")}: must be an https:// ACME directory URL. Fix: \`pulumi config rm acmeServer\` (Let's Encrypt)`,
            );
        }
        const email = get("acmeEmail").trim();
        if (!email) {
            problems.push(
                `${ns}tls = "acme" needs a contact address for the ACME account (the client requires one). ` +
                    "Fix: `pulumi config set acmeEmail it@schule.de`",
            );
        } else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
            problems.push(
                `${show("acmeEmail")}: not an e-mail address. Fix: \`pulumi config set acmeEmail it@schule.de\``,
            );
        }
        const caCertificate = get("acmeCaCertificate").trim();
        if (caCertificate && !parseCerts(caCertificate)) {
            problems.push(
                `${ns}acmeCaCertificate: not a PEM certificate. Fix: \`pulumi config set acmeCaCertificate -- "$(cat ca.pem)"\``,
            );
        }
        acme = { server, email, caCertificate };
    }

    let files: TlsConfig["files"];
    if (mode === "files") {
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
            const now = ctx.now ?? new Date();
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
            files = {
                certificate: `${certs.map((c) => c.toString().trim()).join("\n")}\n`,
                key: `${keyPem}\n`,
                notAfter: leaf.validTo,
            };
        }
    }

    return {
        mode: TLS_MODES.includes(mode) ? mode : "off",
        domain,
        names,
        addresses,
        httpsPort,
        acme,
        files,
        renewDays: ctx.int("tlsRenewDays"),
        checkHours: ctx.int("tlsCheckHours"),
        hstsMaxAge: ctx.int("hstsMaxAge"),
        hstsIncludeSubdomains: ctx.bool("hstsIncludeSubdomains"),
        agentImage: get("tlsImage").trim(),
    };
}

/** `trustedProxies`: CIDRs (or single addresses) of TLS proxies in front of the stack. */
export function trustedProxies(ctx: KeyReader): string[] {
    return stringList(
        ctx,
        "trustedProxies",
        "a list of CIDRs",
        '`pulumi config set --path "trustedProxies[0]" 10.0.0.0/24`',
    ).filter((entry, i) => {
        const [addr, bits, extra] = entry.split("/");
        const family = net.isIP(addr);
        const max = family === 6 ? 128 : 32;
        const ok =
            family !== 0 && extra === undefined && (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= max));
        if (!ok) {
            ctx.problems.push(
                `${ctx.ns}trustedProxies[${i}] = ${JSON.stringify(entry)}: must be an address or CIDR like 10.0.0.7 or 10.0.0.0/24. Fix: correct or remove it.`,
            );
        } else if (bits === "0") {
            ctx.problems.push(
                `${ctx.ns}trustedProxies[${i}] = ${JSON.stringify(entry)} trusts every address: any client could claim any address. Fix: name the proxy's own address.`,
            );
            return false;
        }
        return ok;
    });
}

function stringList(ctx: KeyReader, key: ConfigKey, what: string, example: string): string[] {
    if (!ctx.isSet(key)) return [...(CONFIG_KEYS[key].default as readonly string[])];
    const v = ctx.get(key);
    if (v.trim() === "") return [];
    const parsed = parseList(v, `${ctx.ns}${key}`, what, `Fix: e.g. ${example}`, ctx.problems);
    if (!parsed) return [];
    return parsed
        .filter((e, i) => {
            if (typeof e === "string" && e.trim()) return true;
            ctx.problems.push(`${ctx.ns}${key}[${i}] = ${JSON.stringify(e)}: must be a string. Fix: e.g. ${example}`);
            return false;
        })
        .map((e) => (e as string).trim());
}

function parseCerts(pem: string): X509Certificate[] | undefined {
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
