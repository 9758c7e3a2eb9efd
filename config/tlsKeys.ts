// The config keys of HTTPS (spread into CONFIG_KEYS in config/keys.ts; validated in config/tls.ts).

import { integer } from "./spec";

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
} as const;
