// The optional grading service (the real app's "KI-Bewertung"): where nginx forwards a teacher's
// uploads under /grading/, how large and how slow they may be, and who may call the app back under
// /internal/grading/. Its token and callback secret are school settings (config/settings.ts).
import * as net from "net";
import { stringList } from "./lists";
import type { KeyReader } from "./reader";
import { integer, type KeySpec } from "./spec";

export const GRADING_KEYS = {
    gradingServiceUrl: {
        kind: "string",
        default: "",
        description:
            'The grading service, http://host:port as the nginx and app containers reach it (e.g. http://10.8.0.3:8420 over WireGuard); also the app\'s GRADING_SERVICE_URL. nginx forwards /grading/<path> to <url>/<path> for a logged-in teacher (the app\'s /internal/auth-check says who), with gradingServiceToken as "Authorization: Bearer". "" (off): /grading/ answers 404.',
    },
    gradingUploadLimitMb: integer(
        [1, 16384],
        2048,
        "Largest upload to the grading service in MiB (a class's scanned work as one ZIP); only on /grading/ and only for a teacher's session, spooled on disk.",
    ),
    gradingTimeoutSeconds: integer(
        [10, 3600],
        600,
        "How long nginx waits for the grading service between two reads or writes (it unpacks and checks a large ZIP before it answers).",
    ),
    gradingCallbackFrom: {
        kind: "array",
        default: [],
        description:
            "Addresses (CIDRs) the grading service calls the app back from (/internal/grading/...: its results, with the callback secret); from anywhere else /internal/ answers 404. [] refuses every callback.",
    },
} as const satisfies Record<string, KeySpec>;

export type GradingKey = keyof typeof GRADING_KEYS;

export interface GradingConfig {
    /** The service's base URL (no trailing slash), or undefined when it is off. */
    readonly gradingServiceUrl?: string;
    readonly gradingUploadLimitMb: number;
    readonly gradingTimeoutSeconds: number;
    readonly gradingCallbackFrom: readonly string[];
}

/** Characters of an RFC 6750 bearer token: nothing that could end nginx's string or a header line. */
export const BEARER_TOKEN_RE = /^[A-Za-z0-9._~+/-]+=*$/;

const URL_RE = /^http:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})\/?$/;

/**
 * The grading keys. `token` is the setting gradingServiceToken (a secret): nginx cannot forward
 * without it. `appEnv` may not set what gradingServiceUrl sets.
 */
export function readGrading(
    r: KeyReader<GradingKey>,
    token: string | undefined,
    appEnv: Readonly<Record<string, string>>,
): GradingConfig {
    const raw = r.get("gradingServiceUrl").trim();
    let url: string | undefined;
    if (raw !== "") {
        const m = URL_RE.exec(raw);
        const port = m ? Number(m[2]) : 0;
        if (!m || port < 1 || port > 65535) {
            r.problems.push(
                `${r.show("gradingServiceUrl")}: must be http://host:port (an address or name the nginx container reaches, a port, no path), or "" for none. ` +
                    r.fix("gradingServiceUrl", "http://10.8.0.3:8420"),
            );
        } else {
            url = raw.replace(/\/$/, "");
        }
        if (!token) {
            r.problems.push(
                `${r.show("gradingServiceUrl")} needs ${r.ns}gradingServiceToken: nginx adds it to every upload it forwards. ` +
                    "Fix: `pulumi config set --secret gradingServiceToken <token>` (or `pulumi config rm gradingServiceUrl`)",
            );
        } else if (!BEARER_TOKEN_RE.test(token)) {
            // The value itself is a secret: never in a problem line.
            r.problems.push(
                `${r.ns}gradingServiceToken (secret): must be a bearer token of letters, digits and - . _ ~ + / (then = padding); no spaces or quotes. ` +
                    "Fix: `pulumi config set --secret gradingServiceToken <token>` with the service's token",
            );
        }
    }
    if ("GRADING_SERVICE_URL" in appEnv)
        r.problems.push(
            `${r.ns}appEnv sets GRADING_SERVICE_URL, which has its own key ${r.ns}gradingServiceUrl (nginx needs it too). ` +
                "Fix: `pulumi config set gradingServiceUrl <url>` and remove it from appEnv.",
        );
    return {
        gradingServiceUrl: url,
        gradingUploadLimitMb: r.num("gradingUploadLimitMb"),
        gradingTimeoutSeconds: r.num("gradingTimeoutSeconds"),
        gradingCallbackFrom: callbackFrom(r),
    };
}

/** `gradingCallbackFrom`: IPv4/IPv6 addresses or CIDRs, never one that takes in every address. */
function callbackFrom(r: KeyReader<GradingKey>): string[] {
    return stringList(
        r,
        "gradingCallbackFrom",
        "a list of CIDRs",
        '`pulumi config set --path "gradingCallbackFrom[0]" 10.8.0.3`',
    ).filter((entry, i) => {
        const [addr, bits, extra] = entry.split("/");
        const family = net.isIP(addr);
        const max = family === 6 ? 128 : 32;
        const ok =
            family !== 0 && extra === undefined && (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= max));
        if (!ok || bits === "0") {
            r.problems.push(
                `${r.ns}gradingCallbackFrom[${i}] = ${JSON.stringify(entry)}: must be the grading service's address or a narrow CIDR like 10.8.0.3 or 10.8.0.0/24${
                    bits === "0" ? " (not every address)" : ""
                }. Fix: correct or remove it.`,
            );
            return false;
        }
        return true;
    });
}
