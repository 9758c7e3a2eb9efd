/**
 * Writes the `config:` block of Pulumi.yaml and the key table docs/config.md from CONFIG_KEYS
 * (config/keys.ts), the one list of keys: `npx ts-node scripts/config-docs.ts`.
 * test/unit/projectFiles.test.ts fails while either is stale.
 */
import * as fs from "fs";
import * as path from "path";
import { CONFIG_KEYS } from "../config/keys";
import { FORMATS } from "../config/formats";
import { PROJECT_DIR } from "../core/paths";

/** The `config:` block as Pulumi.yaml holds it. */
export function renderConfigBlock(): string {
    const lines = ["config:"];
    for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
        lines.push(`  ${key}:`);
        // Pulumi's project schema has no type for a list of objects: such a key is declared untyped.
        if (spec.kind !== "objects") lines.push(`    type: ${spec.kind}`);
        if (spec.kind === "array") lines.push("    items:", "      type: string");
        lines.push(`    description: ${JSON.stringify(spec.description)}`);
        lines.push(`    default: ${JSON.stringify(spec.default)}`);
    }
    return lines.join("\n") + "\n";
}

const cell = (text: string) => text.replace(/\|/g, "\\|");

/** docs/config.md: every key with its type, default and description. */
export function renderConfigTable(): string {
    const rows = Object.entries(CONFIG_KEYS).map(([key, spec]) => {
        const def = JSON.stringify(spec.default);
        const range = "range" in spec && spec.range ? ` ${spec.range[0]}–${spec.range[1]}` : "";
        const format = "format" in spec && spec.format ? `, ${FORMATS[spec.format].label}` : "";
        const kind =
            spec.kind === "objects"
                ? "list of objects"
                : spec.kind === "array"
                  ? "list"
                  : `${spec.kind}${range}${format}`;
        const secret = "secret" in spec && spec.secret ? " **secret**" : "";
        return `| \`${key}\` | ${kind}${secret} | \`${cell(def)}\` | ${cell(spec.description)} |`;
    });
    return [
        "# Config keys",
        "",
        "<!-- Written by `npx ts-node scripts/config-docs.ts` from config/keys.ts; do not edit by hand. -->",
        "",
        "Set a key per stack with `pulumi config set <key> <value>` (lists: `pulumi config set --path '<key>[0]' <value>`;",
        "secrets: `pulumi config set --secret <key> <value>`). Every value is checked before any resource is created.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
        ...rows,
        "",
    ].join("\n");
}

if (require.main === module) {
    const file = path.join(PROJECT_DIR, "Pulumi.yaml");
    const text = fs.readFileSync(file, "utf8");
    const start = text.indexOf("\nconfig:\n");
    if (start < 0) throw new Error("Pulumi.yaml has no config: block");
    fs.writeFileSync(file, text.slice(0, start + 1) + renderConfigBlock());
    console.log(`wrote the config block of ${file} (${Object.keys(CONFIG_KEYS).length} keys)`);
    const table = path.join(PROJECT_DIR, "docs", "config.md");
    fs.writeFileSync(table, renderConfigTable());
    console.log(`wrote ${table}`);
}
