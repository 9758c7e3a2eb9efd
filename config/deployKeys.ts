// The config keys of the migrations runner and the admin password (spread into CONFIG_KEYS in
// config/keys.ts; validated in config/deploy.ts). Defaults: the real Lernmanager's.

export const MIGRATION_KEYS = {
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
} as const;
