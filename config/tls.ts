// HTTPS: its keys, validated before any resource exists (a certificate that does not match its key,
// has expired or is not for the domain is refused with the fix: config/certificates.ts).
import * as net from "net";
import { parseCerts, readCertificateFiles } from "./certificates";
import { stringList } from "./lists";
import type { KeyReader } from "./reader";
import { integer, type KeySpec } from "./spec";

/** Let's Encrypt's production directory: the default ACME server of a school's stack. */
export const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";
/** Let's Encrypt's staging directory: what a test school uses unless acmeServer is set. */
export const LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";

export const TLS_KEYS = {
    tls: {
        kind: "string",
        default: "off",
        description:
            "HTTPS: off (plain HTTP, e.g. behind a TLS proxy: see trustedProxies), acme (certificates from acmeServer, e.g. Let's Encrypt, by HTTP-01 on port 80), files (the school's own tlsCertificate and tlsKey) or internal (the stack creates a school CA and a server certificate, the CA for download at /schul-ca.crt). With TLS on, port 80 redirects to httpsPort.",
    },
    domain: {
        kind: "string",
        default: "",
        description:
            "The server's name, e.g. lernen.schule-am-walde.de (needed for acme and internal; with files the certificate must be valid for it).",
    },
    extraNames: {
        kind: "array",
        default: [],
        description: 'Further DNS names the certificate is for (acme, internal), e.g. ["lernmanager.schule.local"].',
    },
    serverAddresses: {
        kind: "array",
        default: [],
        description:
            'IP addresses the internal certificate is also valid for (students who type the server\'s address), e.g. ["10.0.0.5"].',
    },
    httpsPort: integer([1, 65535], 8443, "Host port HTTPS is published on (443 on a school server)."),
    acmeServer: {
        kind: "string",
        default: LETS_ENCRYPT,
        description:
            "ACME directory URL (tls: acme). Default Let's Encrypt production; a test school defaults to Let's Encrypt staging.",
    },
    acmeEmail: {
        kind: "string",
        default: "",
        description: "Contact address for the ACME account (expiry notices); optional.",
    },
    acmeCaCertificate: {
        kind: "string",
        default: "",
        description:
            "PEM of the CA that signed the ACME server's own HTTPS certificate, for a school's or test ACME server; \"\" trusts the usual public CAs.",
    },
    tlsCertificate: {
        kind: "string",
        default: "",
        description:
            'The school\'s certificate (tls: files), PEM, the server certificate first, then its intermediates: `pulumi config set tlsCertificate -- "$(cat fullchain.pem)"`.',
    },
    tlsKey: {
        kind: "string",
        default: "",
        secret: true,
        description:
            'The private key of tlsCertificate, PEM: `pulumi config set --secret tlsKey -- "$(cat privkey.pem)"`.',
    },
    tlsRenewDays: integer([7, 60], 30, "Renew an acme or internal certificate when it has fewer days left than this."),
    tlsCheckHours: integer([1, 24], 12, "How often the TLS agent checks the certificate, in hours."),
    hstsMaxAge: integer(
        [0, 63072000],
        300,
        "Strict-Transport-Security max-age in seconds with TLS on. Raise it in stages once HTTPS works for everyone: 300, then 86400, then 31536000; 0 sends no header.",
    ),
    hstsIncludeSubdomains: {
        kind: "boolean",
        default: false,
        description: "Add includeSubDomains to HSTS (only if every subdomain of domain speaks HTTPS).",
    },
    tlsImage: {
        kind: "string",
        default: "goacme/lego:v4.35.2@sha256:ae124a405844759b201b31efbd7a0ba302dbd16e86f2fb177c4b6db8bdc782c8",
        description:
            "Base image of the TLS agent (lego's official image; openssl is added at build when missing); pin a tag or digest.",
    },
    trustedProxies: {
        kind: "array",
        default: [],
        description:
            "Addresses (CIDRs) of TLS proxies in front of the stack (a Schulträger's reverse proxy, a Caddy on the host). Only from these are X-Forwarded-For (its last untrusted hop) and X-Forwarded-Proto honoured; from anywhere else they are overwritten.",
    },
} as const satisfies Record<string, KeySpec>;

export type TlsKey = keyof typeof TLS_KEYS;

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

/** What HTTPS depends on besides its own keys. */
export interface TlsContext {
    /** A test school (createdAt set): never the production ACME server unless asked for. */
    readonly testSchool: boolean;
    /** The HTTP port, which httpsPort must differ from. */
    readonly httpPort: number;
    readonly now?: Date;
}

const DNS_NAME_RE =
    /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** `tls` and everything it needs, and `trustedProxies`. */
export function readTls(r: KeyReader<TlsKey>, ctx: TlsContext): { tls: TlsConfig; trustedProxies: string[] } {
    return { tls: tlsSettings(r, ctx), trustedProxies: trustedProxies(r) };
}

function tlsSettings(r: KeyReader<TlsKey>, ctx: TlsContext): TlsConfig {
    const { get, ns, problems } = r;
    const show = (key: TlsKey) => `${ns}${key} = ${JSON.stringify(get(key))}`;
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
        r,
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
        r,
        "serverAddresses",
        "a list of IP addresses",
        '`pulumi config set --path "serverAddresses[0]" 10.0.0.5`',
    ).filter((a, i) => {
        if (net.isIP(a)) return true;
        problems.push(`${ns}serverAddresses[${i}] = ${JSON.stringify(a)}: not an IP address. Fix: e.g. 10.0.0.5`);
        return false;
    });
    const names = [...new Set([domain, ...extraNames].filter(Boolean))];
    const httpsPort = r.num("httpsPort");
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
        const server = r.isSet("acmeServer") || !ctx.testSchool ? get("acmeServer").trim() : LETS_ENCRYPT_STAGING;
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

    const files = mode === "files" ? readCertificateFiles(r, names, ctx.now) : undefined;

    return {
        mode: TLS_MODES.includes(mode) ? mode : "off",
        domain,
        names,
        addresses,
        httpsPort,
        acme,
        files,
        renewDays: r.num("tlsRenewDays"),
        checkHours: r.num("tlsCheckHours"),
        hstsMaxAge: r.num("hstsMaxAge"),
        hstsIncludeSubdomains: r.flag("hstsIncludeSubdomains"),
        agentImage: get("tlsImage").trim(),
    };
}

/** `trustedProxies`: CIDRs (or single addresses) of TLS proxies in front of the stack. */
function trustedProxies(ctx: KeyReader<TlsKey>): string[] {
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
