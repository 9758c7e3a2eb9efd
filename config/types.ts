// The typed configuration `loadConfig` (config/load.ts) composes from the areas' results.
import type { AppConfig } from "./app";
import type { BackupConfig } from "./backups";
import type { DeployConfig } from "./deploy";
import type { GradingConfig } from "./grading";
import type { JobSpec } from "./jobs";
import type { SettingsConfig } from "./settings";
import type { StackInfo } from "./stack";
import type { StorageConfig } from "./storage";
import type { TlsConfig } from "./tls";
import type { WebConfig } from "./web";

export type { AdminPasswordConfig, MigrationsConfig } from "./deploy";
export type { PythonTarget } from "./reader";

/**
 * The typed configuration of one stack, read and validated in one place (`loadConfig`) before any
 * resource exists. Components receive these values; they never read Pulumi config themselves.
 * Every key is documented in Pulumi.yaml with the same default (a unit test keeps them equal).
 */
export interface StackConfig
    extends AppConfig, SettingsConfig, WebConfig, GradingConfig, StorageConfig, DeployConfig, StackInfo {
    readonly backupKeep: number;
    /** Scheduled backups, retention, off-host copies (config/backups.ts). */
    readonly backups: BackupConfig;
    /** Scheduled jobs run by the scheduler container (none: no scheduler). */
    readonly jobs: readonly JobSpec[];
    /** HTTPS (config/tls.ts). */
    readonly tls: TlsConfig;
    /** CIDRs of TLS proxies whose X-Forwarded-For/-Proto nginx honours. */
    readonly trustedProxies: readonly string[];
}
