import { createHash } from "crypto";

/**
 * Physical names of one stack's Docker objects. Every name starts with the stack's prefix
 * (`lernmanager-<stack>`), so two stacks can share one Docker host and `destroy` removes exactly
 * its own objects.
 */
export interface StackNames {
    /** `lernmanager-<stack>`: the prefix of every physical name and Pulumi resource name. */
    readonly prefix: string;
    readonly network: string;
    readonly volumes: {
        readonly data: string;
        readonly uploads: string;
        readonly static: string;
        readonly cache: string;
        readonly backups: string;
        /** Certificates, the ACME account, the school CA (only with tls on). */
        readonly tls: string;
        /** nginx's request bodies and large answers on their way (disk, not memory). */
        readonly spool: string;
    };
    /** Repository part of the image tags (the tag itself is a content hash). */
    readonly images: { readonly runtime: string; readonly app: string; readonly nginx: string; readonly tls: string };
    /** nginx has a fixed name; the app container is auto-named so create-before-replace works. */
    readonly nginxContainer: string;
    /** The TLS agent (tls on): fixed name, one per stack. */
    readonly tlsContainer: string;
    /** Label put on every object, value = the stack name. */
    readonly label: string;
    /**
     * Added to the names of the kept volumes (data, uploads, backups, persistent folders) while they
     * are bound to dataHostPath: "" for Docker's own volumes, `-bound-<6 hex of the folder>` else.
     */
    readonly keptSuffix: string;
}

/** Label key on every Docker object the program creates; its value is the Pulumi stack name. */
export const STACK_LABEL = "dev.lernmanager.stack";

/**
 * Labels of one of the stack's volumes, `kind` being data, uploads, ... or `keep:<folder>`. Storage
 * declares exactly these, and `npm run import` creates the volumes with them before the first
 * `pulumi up`: Docker then answers the provider's create with the existing volume, and the provider
 * reads back the same labels (a different label would replace the volume on the next `up`).
 */
export function volumeLabels(stack: string, kind: string): { label: string; value: string }[] {
    return [
        { label: STACK_LABEL, value: stack },
        { label: "dev.lernmanager.volume", value: kind },
    ];
}

/**
 * Turns a Pulumi project and stack name into a Docker-safe prefix. Docker image repositories must
 * be lowercase and container names allow `[a-zA-Z0-9_.-]`; a stack name that needs changing gets a
 * short hash of its original spelling so that `Prod` and `prod` never share objects.
 */
export function stackPrefix(project: string, stack: string): string {
    const raw = `${project}-${stack}`;
    const safe = raw
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, "-")
        .replace(/-+/g, "-")
        .replace(/^-|-$/g, "");
    if (safe === raw) {
        return safe;
    }
    const hash = createHash("sha256").update(raw).digest("hex").slice(0, 6);
    return `${safe}-${hash}`;
}

/**
 * The suffix of the kept volumes' names while they are bound to `dataHostPath`. Docker answers the
 * create of an existing name with the existing volume and ignores the new driver options (moby
 * volume/service/store.go `create`), and the provider reads the options back and replaces a volume
 * whose options differ (kreuzwerker v4.5.0 resource_docker_volume.go: `driver_opts` ForceNew, set
 * from VolumeInspect's Options). A bound volume of the plain volume's name would so never be bound,
 * and every `up` would try to replace it. A name of its own per folder: switching to dataHostPath,
 * or to another folder, creates new volumes and leaves the old ones as they are.
 */
export function boundSuffix(dataHostPath: string | undefined): string {
    return dataHostPath ? `-bound-${createHash("sha256").update(dataHostPath).digest("hex").slice(0, 6)}` : "";
}

/** The kinds of volume that live under dataHostPath when it is set (the rest stay Docker's). */
export const KEPT_KINDS = ["data", "uploads", "backups"] as const;

/** `dataHostPath`: the folder the kept volumes are bound to, which gives them their own names. */
export function stackNames(project: string, stack: string, dataHostPath?: string): StackNames {
    const prefix = stackPrefix(project, stack);
    const keptSuffix = boundSuffix(dataHostPath);
    const each = <K extends string>(kinds: readonly K[]) =>
        Object.fromEntries(kinds.map((k) => [k, `${prefix}-${k}`])) as Record<K, string>;
    const volumes = each(["data", "uploads", "static", "cache", "backups", "tls", "spool"]);
    for (const k of KEPT_KINDS) volumes[k] += keptSuffix;
    return {
        prefix,
        network: `${prefix}-net`,
        volumes,
        images: each(["runtime", "app", "nginx", "tls"]),
        nginxContainer: `${prefix}-nginx`,
        tlsContainer: `${prefix}-tls`,
        label: STACK_LABEL,
        keptSuffix,
    };
}

/**
 * The volume that keeps one of the app's further persistent folders (config persistentPaths), e.g.
 * `instance/reports` → `lernmanager-prod-keep-instance-reports`.
 */
export function persistentVolumeName(prefix: string, folder: string): string {
    return `${prefix}-${keptFolderName(folder)}`;
}

/** `instance/reports` → `instance-reports`: its volume's name and its snapshot's in a backup (`<backup>.keep-<slug>`). */
export function persistentSlug(folder: string): string {
    return folder
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-|-$/g, "");
}

/** `instance/reports` → `keep-instance-reports`: the volume's name after the prefix, its folder under dataHostPath. */
export function keptFolderName(folder: string): string {
    return `keep-${persistentSlug(folder)}`;
}

/** The stack's volume of a persistent folder, bound names included. */
export function keptVolumeName(names: Pick<StackNames, "prefix" | "keptSuffix">, folder: string): string {
    return persistentVolumeName(names.prefix, folder) + names.keptSuffix;
}
