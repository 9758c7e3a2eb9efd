// The school's settings the app reads from its environment (its name, address, data-protection
// contacts, the optional services' keys) and further environment for the app.
import { isTimeZone } from "./jobs";
import { parseEnv } from "./lists";
import type { KeyReader } from "./reader";
import type { KeySpec } from "./spec";

export const SETTINGS_KEYS = {
    schoolName: { kind: "string", default: "", env: "SCHOOL_NAME", description: "The school's name (SCHOOL_NAME)." },
    schoolAddress: {
        kind: "string",
        default: "",
        env: "SCHOOL_ADDRESS",
        description: "The school's postal address for the imprint (SCHOOL_ADDRESS).",
    },
    schoolEmail: {
        kind: "string",
        default: "",
        env: "SCHOOL_EMAIL",
        description: "The school's e-mail (SCHOOL_EMAIL).",
    },
    dsbContact: {
        kind: "string",
        default: "",
        env: "DSB_CONTACT",
        description: "Contact of the data-protection officer, shown in the privacy notice (DSB_CONTACT).",
    },
    privacyAuthority: {
        kind: "string",
        default: "",
        env: "PRIVACY_AUTHORITY",
        description: "The data-protection supervisory authority, shown in the privacy notice (PRIVACY_AUTHORITY).",
    },
    llmApiKey: {
        kind: "string",
        default: "",
        env: "LLM_API_KEY",
        secret: true,
        description: "API key of the optional LLM service (LLM_API_KEY); set with --secret.",
    },
    gradingServiceToken: {
        kind: "string",
        default: "",
        env: "GRADING_SERVICE_TOKEN",
        secret: true,
        description: "Token of the optional grading service (GRADING_SERVICE_TOKEN); set with --secret.",
    },
    gradingServiceCallbackSecret: {
        kind: "string",
        default: "",
        env: "GRADING_SERVICE_CALLBACK_SECRET",
        secret: true,
        description:
            "Secret the grading service signs its callbacks with (GRADING_SERVICE_CALLBACK_SECRET); set with --secret.",
    },
    timeZone: {
        kind: "string",
        default: "Europe/Berlin",
        env: "TZ",
        description:
            "IANA time zone of every container of the app image (app, scheduler, backups; TZ): the app's dates are naive local time (attendance days, weekly report ranges). The deploy fails when the image has no zone data for it.",
    },
    appEnv: {
        kind: "array",
        default: [],
        description: "Extra environment for the app, a list of NAME=value strings.",
    },
} as const satisfies Record<string, KeySpec>;

export type SettingsKey = keyof typeof SETTINGS_KEYS;

export interface SettingsConfig {
    /** The app's settings (SCHOOL_NAME, ...) from config: environment name → value, only those set. */
    readonly appSettings: Readonly<Record<string, string>>;
    /** The app's secret settings (LLM_API_KEY, ...): environment name → value, only those set. */
    readonly appSecrets: Readonly<Record<string, string>>;
    readonly appEnv: Readonly<Record<string, string>>;
}

/** The settings (keys with `env`) split by secrecy, and appEnv, which may not set what a key sets. */
export function readSettings(r: KeyReader<SettingsKey>): SettingsConfig {
    const settings: Record<string, string> = {};
    const secrets: Record<string, string> = {};
    const byEnv = new Map<string, SettingsKey>();
    for (const [key, spec] of Object.entries(SETTINGS_KEYS) as [SettingsKey, KeySpec][]) {
        if (!spec.env) continue;
        byEnv.set(spec.env, key);
        // The time zone always (the app's local dates need one); the others only when set.
        const value = key === "timeZone" ? r.get(key).trim() : (r.given(key) ?? "");
        if (value !== "") (spec.secret ? secrets : settings)[spec.env] = value;
    }
    if (!isTimeZone(r.get("timeZone").trim()))
        r.problems.push(
            `${r.show("timeZone")}: not a known IANA time zone. Fix: \`pulumi config set timeZone Europe/Berlin\``,
        );
    const appEnv = parseEnv(r.given("appEnv"), `${r.ns}appEnv`, r.problems);
    for (const name of Object.keys(appEnv)) {
        const key = byEnv.get(name);
        if (key)
            r.problems.push(
                `${r.ns}appEnv sets ${name}, which has its own key ${r.ns}${key}. Fix: \`pulumi config set ${key}${
                    (SETTINGS_KEYS[key] as KeySpec).secret ? " --secret" : ""
                } <value>\` and remove it from appEnv.`,
            );
    }
    return { appSettings: settings, appSecrets: secrets, appEnv };
}

/**
 * The environment variables of the secret settings (the LLM key, the grading service's token and
 * callback secret): only the app's own containers get them; the backup container never calls
 * those services.
 */
export const SECRET_SETTING_ENVS: readonly string[] = Object.values(SETTINGS_KEYS as Record<string, KeySpec>)
    .filter((k) => k.secret && k.env)
    .map((k) => k.env!);
