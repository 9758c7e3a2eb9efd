// The typed configuration `loadConfig` (lib/config.ts) makes of the keys in lib/configKeys.ts.

import type { BackupConfig } from "./backupConfig";
import type { JobSpec } from "./jobs";
import type { TlsConfig } from "./tlsConfig";

/**
 * The typed configuration of one stack, read and validated in one place (`loadConfig`) before any
 * resource exists. Components receive these values; they never read Pulumi config themselves.
 * Every key is documented in Pulumi.yaml with the same default (a unit test keeps them equal).
 */

export interface StackConfig {
    /** Absolute path of the app source folder. */
    readonly appSource: string;
    /** WSGI target `module:attribute`. */
    readonly wsgiApp: PythonTarget;
    /** Hook run once before gunicorn forks, or undefined when disabled (`initHook: ""`). */
    readonly initHook?: PythonTarget;
    readonly staticPath: string;
    readonly dataPath: string;
    readonly uploadsPath: string;
    readonly databaseFile: string;
    /** Folders inside the app on a tmpfs (the first is TMPDIR). */
    readonly scratchPaths: readonly string[];
    /** Further folders inside the app kept on volumes (besides dataPath and uploadsPath). */
    readonly persistentPaths: readonly string[];
    /** Run the init hook in every gunicorn worker after the fork too. */
    readonly initInWorkers: boolean;
    /** The app's settings (SCHOOL_NAME, ...) from config: environment name → value, only those set. */
    readonly appSettings: Readonly<Record<string, string>>;
    /** The app's secret settings (LLM_API_KEY, ...): environment name → value, only those set. */
    readonly appSecrets: Readonly<Record<string, string>>;
    readonly staticUrl: string;
    readonly downloadsPrefix: string;
    readonly workers: number;
    readonly threads: number;
    readonly appAccessLog: boolean;
    readonly uploadLimitMb: number;
    readonly bindAddress: string;
    readonly port: number;
    readonly pythonImage: string;
    readonly nginxImage: string;
    /** Platform the images are built for (`os/arch`), e.g. linux/amd64. */
    readonly platform: string;
    readonly appEnv: Readonly<Record<string, string>>;
    readonly protectData: boolean;
    /** The Docker host supports swap limits (`memorySwap` = memory); false: `memorySwap` -1, as such a host reads it back. */
    readonly hostSwapLimit: boolean;
    readonly loginPath: string;
    readonly loginRatePerMinute: number;
    readonly appMemoryMb: number;
    readonly nginxMemoryMb: number;
    readonly pidsLimit: number;
    readonly backupKeep: number;
    /** Scheduled backups, retention, off-host copies (lib/backupConfig.ts). */
    readonly backups: BackupConfig;
    /** Migration command, or undefined to run the init hook. */
    readonly migrateCommand?: string;
    /** The app's migrations folder, run by the migrate step, or undefined when off (`migrationsPath: ""`). */
    readonly migrations?: MigrationsConfig;
    /** Where the default admin password is replaced, or undefined when off (`adminTable: ""`). */
    readonly adminPassword?: AdminPasswordConfig;
    /** `docker:host` (the Docker provider's key), also handed to the deploy steps as DOCKER_HOST. */
    readonly dockerHost?: string;
    /** ISO 8601 creation time of a test school, or undefined. */
    readonly createdAt?: string;
    /** Scheduled jobs run by the scheduler container (none: no scheduler). */
    readonly jobs: readonly JobSpec[];
    /** HTTPS (lib/tlsConfig.ts). */
    readonly tls: TlsConfig;
    /** CIDRs of TLS proxies whose X-Forwarded-For/-Proto nginx honours. */
    readonly trustedProxies: readonly string[];
}

/** The app's migration scripts (lib/migrationConfig.ts). */
export interface MigrationsConfig {
    /** Folder inside the app, e.g. `migrate`. */
    readonly folder: string;
    /** File name pattern (fnmatch), e.g. `migrate_*.py`. */
    readonly pattern: string;
    /** Done-file relative to the app folder, inside dataPath, e.g. `data/migrations_done.txt`. */
    readonly doneFile: string;
}

/** Where the app keeps its admin and which password it creates it with (lib/migrationConfig.ts). */
export interface AdminPasswordConfig {
    readonly table: string;
    readonly usernameColumn: string;
    readonly hashColumn: string;
    readonly username: string;
    readonly defaultPassword: string;
}

export interface PythonTarget {
    readonly module: string;
    readonly attribute: string;
    /** `module:attribute` as written. */
    readonly spec: string;
}
