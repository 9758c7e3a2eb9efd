/**
 * loadConfig reads every key by its declaration in CONFIG_KEYS (kind, range, format): a key added
 * there is checked without code of its own in loadConfig.
 */
import { CONFIG_KEYS, type ConfigKey } from "../../config/load";
import type { KeySpec } from "../../config/spec";
import { load, problems } from "../support/config";

const keys = (pred: (spec: KeySpec) => boolean) =>
    (Object.keys(CONFIG_KEYS) as ConfigKey[]).filter((k) => pred(CONFIG_KEYS[k] as KeySpec));

test.each(keys((s) => s.kind === "string" && s.format !== undefined))(
    "string key %s: a value of the wrong format is refused, naming the key and a fix",
    (key) => {
        const found = problems({ [key]: "!!" });
        expect(found.filter((p) => p.startsWith(`lernmanager:${key} = "!!": `))).toHaveLength(1);
        expect(found.find((p) => p.startsWith(`lernmanager:${key} =`))).toMatch(/Fix: `pulumi config (set|rm) /);
    },
);

test.each(keys((s) => s.kind === "integer"))("integer key %s: one above its range is refused, once", (key) => {
    const [, max] = (CONFIG_KEYS[key] as KeySpec).range!;
    const found = problems({ [key]: String(max + 1) });
    expect(found.filter((p) => p.startsWith(`lernmanager:${key} = "${max + 1}": must be a whole number`))).toHaveLength(
        1,
    );
});

test.each(keys((s) => s.kind === "boolean"))("boolean key %s: anything but true/false is refused", (key) => {
    expect(problems({ [key]: "yes" })).toEqual([
        `lernmanager:${key} = "yes": must be true or false. Fix: \`pulumi config set ${key} ${CONFIG_KEYS[key].default}\``,
    ]);
});

test("every key's default passes its own checks (an empty config loads)", () => {
    expect(problems({})).toEqual([]);
    expect(load({}).databaseFile).toBe(CONFIG_KEYS.databaseFile.default);
});
