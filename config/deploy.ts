import * as fs from "fs";
import * as path from "path";
import { CONFIG_KEYS, type AdminPasswordConfig, type ConfigKey, type MigrationsConfig } from "./keys";
import type { KeyReader } from "./lists";

/** What `loadConfig` hands over: the keys, and the validated app folder and data folder. */
export interface MigrationConfigContext extends KeyReader {
    /** Absolute path of the app source. */
    readonly appSource: string;
    /** The validated data folder inside the app (e.g. `data`). */
    readonly dataPath: string;
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const REL_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;
const PATTERN_RE = /^[A-Za-z0-9_.*?-]+\.py$/;

/**
 * The migrations runner's and the admin password's config (keys migrations* and admin*), validated
 * like the rest: every problem names the key, the value and the fix.
 */
export function migrationSettings(ctx: MigrationConfigContext): {
    migrations?: MigrationsConfig;
    adminPassword?: AdminPasswordConfig;
} {
    const { get, ns, problems } = ctx;
    const show = (key: ConfigKey) => `${ns}${key} = ${JSON.stringify(get(key))}`;
    const fix = (key: ConfigKey) => `Fix: \`pulumi config set ${key} ${JSON.stringify(CONFIG_KEYS[key].default)}\``;
    const isRel = (v: string) => REL_RE.test(v) && !v.split("/").some((p) => p === "." || p === "..");

    let migrations: MigrationsConfig | undefined;
    const folder = get("migrationsPath").trim().replace(/\/+$/, "");
    if (folder !== "") {
        const pattern = get("migrationsPattern").trim();
        const doneFile = get("migrationsDoneFile").trim();
        let ok = true;
        if (!isRel(folder)) {
            problems.push(
                `${show("migrationsPath")}: must be a relative folder inside the app (no "..", no leading /), ` +
                    `or "" to turn the migrations runner off. ${fix("migrationsPath")}`,
            );
            ok = false;
        } else if (
            ctx.isSet("migrationsPath") &&
            fs.existsSync(ctx.appSource) &&
            !fs.existsSync(path.join(ctx.appSource, folder))
        ) {
            // Only when set: with the default, an app without the folder simply has no migrations.
            problems.push(
                `${show("migrationsPath")}: ${ctx.appSource} has no folder ${folder}/. Fix: point it at the app's ` +
                    `migrations folder, or \`pulumi config set migrationsPath ""\` if the app has none.`,
            );
            ok = false;
        }
        if (!PATTERN_RE.test(pattern)) {
            problems.push(
                `${show("migrationsPattern")}: must be a file name pattern ending in .py (letters, digits, _ . - ` +
                    `and the wildcards * ?). ${fix("migrationsPattern")}`,
            );
            ok = false;
        }
        if (!isRel(doneFile) || !doneFile.startsWith(`${ctx.dataPath}/`)) {
            problems.push(
                `${show("migrationsDoneFile")}: must be a file inside the data folder (${ctx.dataPath}/), which is ` +
                    `a volume: anywhere else it is lost with the container and every migration runs again. ` +
                    `Fix: \`pulumi config set migrationsDoneFile ${ctx.dataPath}/migrations_done.txt\``,
            );
            ok = false;
        }
        if (ok) migrations = { folder, pattern, doneFile };
    }

    let adminPassword: AdminPasswordConfig | undefined;
    const table = get("adminTable").trim();
    if (table !== "") {
        let ok = true;
        for (const key of ["adminTable", "adminUsernameColumn", "adminPasswordColumn"] as const) {
            if (!IDENT_RE.test(get(key).trim())) {
                problems.push(
                    `${show(key)}: must be an SQL table or column name (letters, digits, _)` +
                        `${key === "adminTable" ? ', or "" to keep the app\'s default admin password' : ""}. ${fix(key)}`,
                );
                ok = false;
            }
        }
        for (const key of ["adminUsername", "adminDefaultPassword"] as const) {
            if (get(key) === "") {
                problems.push(
                    `${show(key)}: must not be empty while adminTable is set. ${fix(key)} ` +
                        `(or \`pulumi config set adminTable ""\` to turn the password replacement off)`,
                );
                ok = false;
            }
        }
        if (ok) {
            adminPassword = {
                table,
                usernameColumn: get("adminUsernameColumn").trim(),
                hashColumn: get("adminPasswordColumn").trim(),
                username: get("adminUsername"),
                defaultPassword: get("adminDefaultPassword"),
            };
        }
    }
    return { migrations, adminPassword };
}
