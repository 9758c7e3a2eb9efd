/** Raised when config is invalid; lists every problem, each naming the key, the value and the fix. */
export class ConfigError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(`Invalid lernmanager configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}
