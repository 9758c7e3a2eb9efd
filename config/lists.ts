// Reading list-valued config keys: Pulumi hands a YAML list to a program as JSON text.
import type { KeyReader } from "./reader";

/**
 * The entries of a list-valued key, or undefined (with one problem pushed, naming the key, the value,
 * what it must be and the fix) when the value is not a JSON list.
 */
export function parseList(
    value: string,
    key: string,
    what: string,
    fix: string,
    problems: string[],
): unknown[] | undefined {
    let parsed: unknown;
    try {
        parsed = JSON.parse(value);
    } catch {
        parsed = undefined;
    }
    if (Array.isArray(parsed)) return parsed;
    problems.push(`${key} = ${JSON.stringify(value)}: must be ${what}. ${fix}`);
    return undefined;
}

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Environment the stack sets itself; appEnv may not override it. */
export const RESERVED_ENV = ["SECRET_KEY", "PYTHONOPTIMIZE", "PYTHONDONTWRITEBYTECODE"];

/** `appEnv`: a list of NAME=value strings, none of them one the stack sets itself. */
export function parseEnv(value: string | undefined, key: string, problems: string[]): Record<string, string> {
    if (value === undefined || value === "") return {};
    const fixText = "Fix: set entries as NAME=value, e.g. `pulumi config set --path 'appEnv[0]' TZ=Europe/Berlin`.";
    const parsed = parseList(value, key, "a list of NAME=value strings", fixText, problems);
    if (!parsed) return {};
    const env: Record<string, string> = {};
    parsed.forEach((entry: unknown, i: number) => {
        const where = `${key}[${i}] = ${JSON.stringify(entry)}`;
        if (typeof entry !== "string" || !entry.includes("=")) {
            problems.push(`${where}: must be a NAME=value string. ${fixText}`);
            return;
        }
        const name = entry.slice(0, entry.indexOf("="));
        if (!ENV_NAME_RE.test(name)) {
            problems.push(
                `${where}: ${name} is not a valid environment variable name (letters, digits, _). ${fixText}`,
            );
        } else if (RESERVED_ENV.includes(name) || name.startsWith("LM_")) {
            problems.push(
                `${where}: ${name} is set by the stack itself and cannot be overridden ` +
                    `(SECRET_KEY comes from @pulumi/random). ` +
                    `Fix: \`pulumi config rm --path '${key.split(":")[1]}[${i}]'\`.`,
            );
        } else if (name in env) {
            problems.push(`${where}: ${name} is set twice. Fix: keep one entry for ${name}.`);
        } else {
            env[name] = entry.slice(name.length + 1);
        }
    });
    return env;
}

/** A list of non-empty strings (a key's default when unset), or [] with a problem per bad entry. */
export function stringList<K extends string>(r: KeyReader<K>, key: K, what: string, example: string): string[] {
    if (!r.isSet(key)) return [...(r.defaultOf(key) as readonly string[])];
    const v = r.get(key);
    if (v.trim() === "") return [];
    const parsed = parseList(v, `${r.ns}${key}`, what, `Fix: e.g. ${example}`, r.problems);
    if (!parsed) return [];
    return parsed
        .filter((e, i) => {
            if (typeof e === "string" && e.trim()) return true;
            r.problems.push(`${r.ns}${key}[${i}] = ${JSON.stringify(e)}: must be a string. Fix: e.g. ${example}`);
            return false;
        })
        .map((e) => (e as string).trim());
}
