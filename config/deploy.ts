// The deploy steps' keys: what runs once per new image before it takes traffic (the init hook or a
// migrate command, the app's migration scripts) and the default admin password it replaces.
// Defaults: the real Lernmanager's.
import * as fs from "fs";
import * as path from "path";
import type { KeyReader } from "./reader";
import type { KeySpec } from "./spec";

export const DEPLOY_KEYS = {
    migrateCommand: {
        kind: "string",
        default: "",
        description:
            'Shell command run once per new image in a one-off container before it takes traffic, instead of the init hook (the migrations in migrationsPath and the admin password follow it); "" runs the init hook.',
    },
    migrationsPath: {
        kind: "string",
        default: "migrate",
        description:
            'Folder of the app\'s migration scripts. Each one not yet listed in migrationsDoneFile runs once, in name order, from the app folder with PYTHONPATH set to it, before a new image takes traffic; the first failure fails the deploy. "" turns the runner off.',
    },
    migrationsPattern: {
        kind: "string",
        default: "migrate_*.py",
        description: "File name pattern of the migration scripts in migrationsPath (* and ? wildcards, ends in .py).",
    },
    migrationsDoneFile: {
        kind: "string",
        default: "data/migrations_done.txt",
        description:
            "File inside dataPath listing the migrations that ran, one file name a line (appended after each success).",
    },
    adminTable: {
        kind: "string",
        default: "admin",
        description:
            "Table of the app's admin users. While adminUsername's password there still verifies adminDefaultPassword, the migrate step replaces it with a generated one (secret stack output adminPassword); a changed password is never touched. \"\" turns this off.",
    },
    adminUsernameColumn: {
        kind: "string",
        default: "username",
        description: "Column of adminTable holding the user name.",
    },
    adminPasswordColumn: {
        kind: "string",
        default: "password_hash",
        description: "Column of adminTable holding the werkzeug password hash.",
    },
    adminUsername: {
        kind: "string",
        default: "admin",
        description: "The admin the app's init hook creates with the default password.",
    },
    adminDefaultPassword: {
        kind: "string",
        default: "admin",
        description: "The password the app's init hook gives that admin (public: it is in the app's source).",
    },
} as const satisfies Record<string, KeySpec>;

export type DeployKey = keyof typeof DEPLOY_KEYS;

/** The app's migration scripts. */
export interface MigrationsConfig {
    /** Folder inside the app, e.g. `migrate`. */
    readonly folder: string;
    /** File name pattern (fnmatch), e.g. `migrate_*.py`. */
    readonly pattern: string;
    /** Done-file relative to the app folder, inside dataPath, e.g. `data/migrations_done.txt`. */
    readonly doneFile: string;
}

/** Where the app keeps its admin and which password it creates it with. */
export interface AdminPasswordConfig {
    readonly table: string;
    readonly usernameColumn: string;
    readonly hashColumn: string;
    readonly username: string;
    readonly defaultPassword: string;
}

export interface DeployConfig {
    /** Migration command, or undefined to run the init hook. */
    readonly migrateCommand?: string;
    /** The app's migrations folder, run by the migrate step, or undefined when off (`migrationsPath: ""`). */
    readonly migrations?: MigrationsConfig;
    /** Where the default admin password is replaced, or undefined when off (`adminTable: ""`). */
    readonly adminPassword?: AdminPasswordConfig;
}

/** The validated app folder (absolute) and data folder inside it, from the app's keys. */
export interface AppFolders {
    readonly appSource: string;
    readonly dataPath: string;
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const REL_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;
const PATTERN_RE = /^[A-Za-z0-9_.*?-]+\.py$/;

/**
 * The migrations runner's and the admin password's config (keys migrations* and admin*), validated
 * like the rest: every problem names the key, the value and the fix.
 */
export function readDeploy(r: KeyReader<DeployKey>, app: AppFolders): DeployConfig {
    const { get, ns, problems } = r;
    const ctx = { ...app, isSet: r.isSet };
    const show = (key: DeployKey) => `${ns}${key} = ${JSON.stringify(get(key))}`;
    const fix = (key: DeployKey) => `Fix: \`pulumi config set ${key} ${JSON.stringify(r.defaultOf(key))}\``;
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
    return { migrateCommand: get("migrateCommand").trim() || undefined, migrations, adminPassword };
}
