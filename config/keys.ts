// The one list of config keys, with their defaults: every area's keys, in the order Pulumi.yaml and
// docs/config.md show them. Each area declares and reads its own (config/<area>.ts).
import { APP_KEYS } from "./app";
import { BACKUP_KEYS } from "./backups";
import { DEPLOY_KEYS } from "./deploy";
import { GRADING_KEYS } from "./grading";
import { JOBS_KEYS } from "./jobs";
import { SETTINGS_KEYS } from "./settings";
import type { KeySpec } from "./spec";
import { STACK_KEYS } from "./stack";
import { STORAGE_KEYS } from "./storage";
import { TLS_KEYS } from "./tls";
import { WEB_KEYS } from "./web";

export const CONFIG_KEYS = {
    ...APP_KEYS,
    ...SETTINGS_KEYS,
    ...WEB_KEYS,
    ...GRADING_KEYS,
    ...STORAGE_KEYS,
    ...DEPLOY_KEYS,
    ...JOBS_KEYS,
    ...TLS_KEYS,
    ...BACKUP_KEYS,
    ...STACK_KEYS,
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
