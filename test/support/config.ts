import { ConfigError, loadConfig, type StackConfig } from "../../config/load";
import { PROJECT_DIR } from "../../core/paths";

/** loadConfig for this project, keys given without the `lernmanager:` namespace. */
export function load(values: Record<string, string>, now?: Date): StackConfig {
    const raw = Object.fromEntries(Object.entries(values).map(([k, v]) => [`lernmanager:${k}`, v]));
    return loadConfig(raw, { project: "lernmanager", projectDir: PROJECT_DIR, now });
}

/** The problems loadConfig reports for these values ([] when they are valid). */
export function problems(values: Record<string, string>, now?: Date): string[] {
    try {
        load(values, now);
    } catch (e) {
        if (e instanceof ConfigError) return [...e.problems];
        throw e;
    }
    return [];
}
