// `baseStack`: a school's stack (e.g. `schule-walde`, its own untracked Pulumi.schule-walde.yaml)
// takes the real app's settings from the project's Pulumi.<baseStack>.yaml (e.g. prod), so the
// school's file holds only the school's own settings and `git pull` of this project never conflicts
// with it, while changes to the shared file (pinned images, the app's contract, jobs) reach it.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError } from "./load";

const NAME_RE = /^[A-Za-z0-9_.-]+$/;

/** The `config:` block of a Pulumi.<stack>.yaml in the project folder, as written; undefined without the file. */
export function stackFile(projectDir: string, stack: string): Record<string, unknown> | undefined {
    const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) return undefined;
    const parsed = YAML.parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
    return parsed?.config ?? {};
}

/** The config values of a Pulumi.<stack>.yaml as Pulumi hands them to a program (lists as JSON text); secrets left out. */
export function stackFileConfig(projectDir: string, stack: string): Record<string, string> | undefined {
    const config = stackFile(projectDir, stack);
    if (!config) return undefined;
    const raw: Record<string, string> = {};
    for (const [key, value] of Object.entries(config)) {
        if (value && typeof value === "object" && "secure" in value) continue;
        raw[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return raw;
}

/**
 * The `<project>:` keys a Pulumi.<stack>.yaml holds as encrypted (`secure:`) values: set, but
 * readable only with the stack's passphrase, which the commands that read the file directly lack.
 */
export function encryptedKeys(projectDir: string, stack: string, project: string): Set<string> {
    const config = stackFile(projectDir, stack) ?? {};
    return new Set(
        Object.entries(config)
            .filter(
                ([key, value]) =>
                    key.startsWith(`${project}:`) && value && typeof value === "object" && "secure" in value,
            )
            .map(([key]) => key.slice(project.length + 1)),
    );
}

/**
 * The stack's config on top of its base stack's: every `<project>:` key the stack's own file does
 * not set comes from Pulumi.<baseStack>.yaml (a list is taken whole, never merged). `own` are the
 * keys of the stack's own file: the Pulumi CLI hands a program Pulumi.yaml's defaults for every key
 * the stack does not set (pulumi/pulumi sdk/go/common/workspace mergeConfig), so `raw` alone cannot
 * tell a default from a choice. Secrets and other namespaces (`docker:host`) are never taken over.
 */
export function withBaseStack(
    raw: Readonly<Record<string, string>>,
    project: string,
    projectDir: string,
    own: ReadonlySet<string> = new Set(Object.keys(raw)),
): Record<string, string> {
    const base = raw[`${project}:baseStack`];
    if (!base) return { ...raw };
    const fix = "Fix: `pulumi config set baseStack prod` (a Pulumi.<name>.yaml in the project folder).";
    if (!NAME_RE.test(base))
        throw new ConfigError([`${project}:baseStack = ${JSON.stringify(base)}: not a stack name. ${fix}`]);
    const values = stackFileConfig(projectDir, base);
    if (!values) throw new ConfigError([`${project}:baseStack = "${base}": there is no Pulumi.${base}.yaml. ${fix}`]);
    if (values[`${project}:baseStack`])
        throw new ConfigError([
            `${project}:baseStack = "${base}": Pulumi.${base}.yaml has a baseStack itself; one level only. ${fix}`,
        ]);
    const merged = { ...raw };
    for (const [key, value] of Object.entries(values))
        if (key.startsWith(`${project}:`) && !own.has(key)) merged[key] = value;
    return merged;
}
