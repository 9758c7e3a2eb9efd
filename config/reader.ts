// Reading keys by their kind and format, for every area alike: what an area's reader receives.
import { type Format, FORMATS, TARGET_RE } from "./formats";
import type { KeySpec } from "./spec";

export interface PythonTarget {
    readonly module: string;
    readonly attribute: string;
    /** `module:attribute` as written. */
    readonly spec: string;
}

/**
 * The keys of one area as `loadConfig` read them: integers checked against their range, booleans,
 * strings against their format (a wrong value is reported and replaced by a sane one, so later
 * checks still run). Lists and objects come raw, for the area to parse.
 */
export interface KeyReader<K extends string = string> {
    /** `lernmanager:` */
    readonly ns: string;
    /** Every problem found, each naming the key, the value and the fix. */
    readonly problems: string[];
    /** The value as given, or the key's default (lists: JSON text). */
    get(key: K): string;
    /** The value as given, undefined when the stack does not set the key. */
    given(key: K): string | undefined;
    /** Whether the key is set in the stack's config (not just its default). */
    isSet(key: K): boolean;
    /** The key's default as declared. */
    defaultOf(key: K): KeySpec["default"];
    num(key: K): number;
    flag(key: K): boolean;
    text(key: K): string;
    target(key: K): PythonTarget | undefined;
    /** `lernmanager:<key> = "<value>"`, for a problem line. */
    show(key: K): string;
    /** `Fix: \`pulumi config set <key> <example>\``. */
    fix(key: K, example: string | number | boolean): string;
}

/**
 * Reads every key of `specs` from `given` by its kind (the one loop over all keys); problems go to
 * `problems`. The result serves every area's reader.
 */
export function readKeys<K extends string>(
    given: ReadonlyMap<string, string>,
    specs: Readonly<Record<K, KeySpec>>,
    ns: string,
    problems: string[],
): KeyReader<K> {
    const show = (key: K) => `${ns}${key} = ${JSON.stringify(given.get(key))}`;
    const fix = (key: K, example: string | number | boolean) => `Fix: \`pulumi config set ${key} ${example}\``;
    const get = (key: K): string => given.get(key) ?? String(specs[key].default);
    const int = (key: K): number => {
        const spec = specs[key];
        const def = spec.default as number;
        const [min, max] = spec.range ?? [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
        const v = given.get(key);
        if (v === undefined) return def;
        const n = /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
        if (!Number.isInteger(n) || n < min || n > max) {
            const why = spec.rangeReason ? ` (${spec.rangeReason})` : "";
            problems.push(`${show(key)}: must be a whole number from ${min} to ${max}${why}. ${fix(key, def)}`);
            return def;
        }
        return n;
    };
    const bool = (key: K): boolean => {
        const v = given.get(key);
        const def = specs[key].default as boolean;
        if (v === undefined) return def;
        if (v === "true" || v === "false") return v === "true";
        problems.push(`${show(key)}: must be true or false. ${fix(key, def)}`);
        return def;
    };
    const formatted = (key: K, format: Format): unknown => {
        const def = String(specs[key].default);
        const value =
            format === "relPath"
                ? get(key).replace(/\/+$/, "")
                : format === "optionalTarget" || format === "target"
                  ? get(key).trim()
                  : get(key);
        const rule = FORMATS[format];
        const wrong = rule.check(value);
        if (wrong) {
            const example = rule.example === "rm" ? undefined : (rule.example ?? def);
            problems.push(
                `${show(key)}: ${wrong.replace("{default}", def)} ` +
                    (example === undefined ? `Fix: \`pulumi config rm ${key}\`` : fix(key, example)),
            );
            // A wrong folder or prefix is replaced by the default, so later checks see a sane value.
            if (format === "relPath" || format === "urlPrefix") return def;
            if (format === "target" || format === "optionalTarget") return undefined;
        }
        if ((format === "target" || format === "optionalTarget") && value !== "") {
            const m = TARGET_RE.exec(value);
            return m ? ({ module: m[1], attribute: m[2], spec: value } satisfies PythonTarget) : undefined;
        }
        return format === "optionalTarget" && value === "" ? undefined : value;
    };
    const values = new Map<K, unknown>();
    for (const key of Object.keys(specs) as K[]) {
        const spec: KeySpec = specs[key];
        if (spec.kind === "integer") values.set(key, int(key));
        else if (spec.kind === "boolean") values.set(key, bool(key));
        else if (spec.kind === "string") values.set(key, spec.format ? formatted(key, spec.format) : get(key));
        else values.set(key, given.get(key)); // lists and objects: parsed by their area
    }
    return {
        ns,
        problems,
        get,
        given: (key) => given.get(key),
        isSet: (key) => given.has(key),
        defaultOf: (key) => specs[key].default,
        num: (key) => values.get(key) as number,
        flag: (key) => values.get(key) as boolean,
        text: (key) => values.get(key) as string,
        target: (key) => values.get(key) as PythonTarget | undefined,
        show,
        fix,
    };
}
