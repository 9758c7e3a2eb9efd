import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/load";
import { keptFolderName, keptVolumeName, persistentVolumeName, StackNames, volumeLabels } from "../core/names";

export interface StorageArgs {
    /** Physical names of the stack's network and volumes. */
    readonly names: StackNames;
    /** Stack name, written into every object's label. */
    readonly stack: string;
    /**
     * Protect the data, uploads and backups volumes: `protect` (a destroy or replace fails) and
     * `retainOnDelete` (removing them from the program leaves them on the host); the tls and
     * persistentPaths volumes get `retainOnDelete` only (they come and go with config keys).
     * @default false
     */
    readonly protectData: boolean;
    /** The app's further persistent folders (config persistentPaths), one volume each. @default [] */
    readonly persistentPaths?: readonly string[];
    /**
     * Host folder (config dataHostPath) the kept volumes (data, uploads, backups, persistent folders)
     * are bound to: local volumes of `<folder>/<kind>`, which Docker mounts only while that folder
     * exists (it never creates it). @default Docker's own volume folder
     */
    readonly dataHostPath?: string;
    /** Create the TLS volume (tls on). @default false */
    readonly tls?: boolean;
}

/** The storage part of the stack's config. */
export function storageOptions(
    config: StackConfig,
): Pick<StorageArgs, "protectData" | "persistentPaths" | "dataHostPath" | "tls"> {
    return {
        protectData: config.protectData,
        persistentPaths: config.persistentPaths,
        dataHostPath: config.dataHostPath,
        tls: config.tls.mode !== "off",
    };
}

/** The marker cli/data-host-path-init.sh writes into dataHostPath and its data folder. */
export const DATA_MOUNT_MARKER = ".lernmanager-data-mount";

/**
 * A kept volume bound to its folder under dataHostPath (`<root>/data`, `<root>/keep-instance-reports`,
 * ...): the local driver's bind options, exactly as Docker reports them back (VolumeInspect Options).
 */
export function boundVolumeOptions(root: string, folder: string) {
    return { driver: "local", driverOpts: { type: "none", o: "bind", device: `${root}/${folder}` } };
}

/** A volume for one of the app's further persistent folders. */
export interface PersistentFolder {
    /** Folder inside the app, e.g. `instance/reports`. */
    readonly path: string;
    readonly volume: docker.Volume;
}

/**
 * The stack's private network and its volumes: SQLite data (a folder, so WAL's -wal/-shm siblings
 * live beside the database), uploads, static files, the app's cache and the database backups.
 */
export class Storage extends pulumi.ComponentResource {
    public readonly network: docker.Network;
    public readonly data: docker.Volume;
    public readonly uploads: docker.Volume;
    public readonly static: docker.Volume;
    public readonly cache: docker.Volume;
    /** nginx's spool: request bodies and large answers on their way (disk, not memory). */
    public readonly spool: docker.Volume;
    /** Online SQLite backups (kept like the data when protected). */
    public readonly backups: docker.Volume;
    /** The app's further persistent folders (retained like the data when protected, never `protect`: see below). */
    public readonly persistent: PersistentFolder[];
    /** Certificates, ACME account, school CA (tls on; retained like the data when protected, never `protect`). */
    public readonly tls?: docker.Volume;

    constructor(name: string, args: StorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lernmanager:storage:Storage", name, {}, opts);
        const labels = [{ label: args.names.label, value: args.stack }];

        this.network = new docker.Network(
            `${name}-net`,
            { name: args.names.network, driver: "bridge", labels },
            { parent: this },
        );
        const kept: pulumi.CustomResourceOptions = args.protectData
            ? { parent: this, protect: true, retainOnDelete: true }
            : { parent: this };
        // Volumes that exist only while a config key names them (tls, a persistentPaths entry): never
        // `protect`. The engine refuses to delete a protected resource the program stops declaring
        // before it looks at retainOnDelete, in the preview too, so turning tls off or dropping a
        // folder would fail every `up` until `pulumi state unprotect`. retainOnDelete alone keeps the
        // volume on the host; declaring it again later finds it (Docker's create returns the existing
        // volume). A destroy still removes nothing while the always-declared volumes are protected.
        const keptWhileDeclared: pulumi.CustomResourceOptions = args.protectData
            ? { parent: this, retainOnDelete: true }
            : { parent: this };
        // Kept volumes under dataHostPath: bind volumes of the local driver (mounted at container start),
        // named apart from Docker's own (names.keptSuffix, core/names.ts boundSuffix says why).
        const bound = (folder: string) => (args.dataHostPath ? boundVolumeOptions(args.dataHostPath, folder) : {});
        const volume = (kind: keyof StackNames["volumes"], options: pulumi.CustomResourceOptions, onHost = false) =>
            new docker.Volume(
                `${name}-${kind}`,
                {
                    name: args.names.volumes[kind],
                    labels: volumeLabels(args.stack, kind),
                    ...(onHost ? bound(kind) : {}),
                },
                options,
            );
        this.data = volume("data", kept, true);
        this.uploads = volume("uploads", kept, true);
        this.static = volume("static", { parent: this });
        this.cache = volume("cache", { parent: this });
        this.spool = volume("spool", { parent: this });
        this.backups = volume("backups", kept, true);
        // Certificates and the ACME account survive every deploy (no new orders, no rate limits); the
        // school CA's key lives only here. Kept like the data (a Docker volume even with dataHostPath).
        this.tls = args.tls ? volume("tls", keptWhileDeclared) : undefined;
        this.persistent = (args.persistentPaths ?? []).map((folder) => ({
            path: folder,
            volume: new docker.Volume(
                persistentVolumeName(name, folder),
                {
                    name: keptVolumeName(args.names, folder),
                    labels: volumeLabels(args.stack, `keep:${folder}`),
                    ...bound(keptFolderName(folder)),
                },
                keptWhileDeclared,
            ),
        }));

        this.registerOutputs({
            network: this.network.name,
            data: this.data.name,
            uploads: this.uploads.name,
            static: this.static.name,
            cache: this.cache.name,
            backups: this.backups.name,
        });
    }
}
