// The formats a string config key can declare (`format` in CONFIG_KEYS): what a value must look
// like, said in the problem line, and the example its fix suggests (else the key's default).

const IDENT = "[A-Za-z_][A-Za-z0-9_]*";
export const TARGET_RE = new RegExp(`^(${IDENT}(?:\\.${IDENT})*):(${IDENT})$`);
const REL_PATH_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;
const URL_PREFIX_RE = /^\/([A-Za-z0-9_-]+\/)+$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// Docker reference: [registry[:port]/]name[/name...][:tag][@sha256:...]
const IMAGE_RE =
    /^(?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@sha256:[a-f0-9]{64})?$/;

export type Format =
    | "target"
    | "optionalTarget"
    | "relPath"
    | "urlPrefix"
    | "urlPath"
    | "image"
    | "fileName"
    | "ipv4"
    | "platform"
    | "isoTime";

interface FormatRule {
    /** How docs/config.md names the format. */
    readonly label: string;
    /** Undefined when the value is fine, else what it must be (after `<key> = <value>: `). */
    readonly check: (value: string) => string | undefined;
    /** The fix's example when it is not the key's default; `rm` suggests `pulumi config rm`. */
    readonly example?: string | "rm";
}

const rule = (label: string, ok: (v: string) => boolean, must: string, example?: string): FormatRule => ({
    label,
    check: (v) => (ok(v) ? undefined : must),
    example,
});

export const FORMATS: Record<Format, FormatRule> = {
    target: rule(
        "module:attribute",
        (v) => TARGET_RE.test(v),
        "must look like module:attribute (for example app:app or mypkg.wsgi:application).",
    ),
    optionalTarget: rule(
        'module:attribute or ""',
        (v) => v === "" || TARGET_RE.test(v),
        "must look like module:attribute (for example app:app or mypkg.wsgi:application).",
    ),
    relPath: rule(
        "folder inside the app",
        (v) => REL_PATH_RE.test(v) && !v.split("/").some((part) => part === ".." || part === "."),
        'must be a relative folder inside the app (letters, digits, . _ - and /; no "..", no leading /).',
    ),
    urlPrefix: rule(
        "URL prefix /…/",
        (v) => URL_PREFIX_RE.test(v),
        "must be a URL path that starts and ends with / (for example {default}).",
    ),
    urlPath: rule(
        "URL path",
        (v) => /^\/[A-Za-z0-9_./-]*$/.test(v) && !v.includes(".."),
        "must be a URL path starting with /.",
        "/login",
    ),
    image: {
        label: "image:tag or @sha256",
        check: (v) => {
            const m = IMAGE_RE.exec(v);
            if (!m || (!m[1] && !v.includes("@sha256:")))
                return "must be an image reference with a pinned tag or digest (name:tag).";
            return m[1] === "latest" ? '"latest" floats; pin a version tag.' : undefined;
        },
    },
    fileName: rule(
        "file name",
        (v) => /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(v),
        "must be a file name inside dataPath (no folders).",
        "mbi_tracker.db",
    ),
    ipv4: rule(
        "IPv4 address",
        (v) => IPV4_RE.test(v),
        "must be an IPv4 address of this host, 127.0.0.1 for local only or 0.0.0.0 for all interfaces.",
        "127.0.0.1",
    ),
    platform: rule(
        "os/arch",
        (v) => /^linux\/(amd64|arm64|arm\/v[67]|386|ppc64le|s390x|riscv64)$/.test(v),
        "must be the school server's Docker platform, e.g. linux/amd64 or linux/arm64.",
        "linux/amd64",
    ),
    isoTime: rule(
        'ISO 8601 time or ""',
        (v) => v === "" || !Number.isNaN(Date.parse(v)),
        "must be an ISO 8601 time (set by `npm run school`).",
        "rm",
    ),
};
