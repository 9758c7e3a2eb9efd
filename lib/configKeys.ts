// The stack's configuration keys (CONFIG_KEYS); their typed result is in lib/configTypes.ts.

import { BACKUP_KEYS } from "./backupKeys";
import { integer, type KeySpec } from "./keySpec";
import { MIGRATION_KEYS } from "./migrationKeys";
import { TLS_KEYS } from "./tlsKeys";

export type { AdminPasswordConfig, MigrationsConfig, PythonTarget, StackConfig } from "./configTypes";

/** The one list of config keys, with their defaults. Pulumi.yaml documents exactly these. */
export const CONFIG_KEYS = {
    appSource: {
        kind: "string",
        default: "demo-app",
        description: "Folder of the Flask app's source (relative to the project folder or absolute).",
    },
    wsgiApp: { kind: "string", format: "target", default: "app:app", description: "WSGI target `module:attribute`." },
    initHook: {
        kind: "string",
        format: "optionalTarget",
        default: "app:init_app",
        description: 'Function run once before gunicorn forks (`module:function`); "" disables it.',
    },
    staticPath: {
        kind: "string",
        format: "relPath",
        default: "static",
        description: "Static files folder inside the app.",
    },
    dataPath: {
        kind: "string",
        format: "relPath",
        default: "data",
        description: "SQLite data folder inside the app (a volume).",
    },
    uploadsPath: {
        kind: "string",
        format: "relPath",
        default: "instance/uploads",
        description: "Uploads folder inside the app (a volume).",
    },
    databaseFile: {
        kind: "string",
        format: "fileName",
        default: "mbi_tracker.db",
        description:
            "SQLite file inside the data folder that /healthz proves readable (the real Lernmanager: mbi_tracker.db). A deploy whose app does not create it fails at once, naming the .db files it found.",
    },
    scratchPaths: {
        kind: "array",
        default: [],
        description:
            "Folders inside the app on a tmpfs (writable scratch space on the read-only root, emptied at every start), e.g. instance/tmp; the first is also the app's TMPDIR.",
    },
    persistentPaths: {
        kind: "array",
        default: [],
        description:
            "Further folders inside the app kept on volumes across deploys besides dataPath and uploadsPath, e.g. instance/reports; retained on the host like the data when protectData is on (never `protect`: dropping an entry must not wedge the stack).",
    },
    initInWorkers: {
        kind: "boolean",
        default: true,
        description:
            "Also run the init hook in every gunicorn worker right after the fork, for apps that start threads or load settings per process in it (it always runs once before the fork, alone).",
    },
    schoolName: { kind: "string", default: "", env: "SCHOOL_NAME", description: "The school's name (SCHOOL_NAME)." },
    schoolAddress: {
        kind: "string",
        default: "",
        env: "SCHOOL_ADDRESS",
        description: "The school's postal address for the imprint (SCHOOL_ADDRESS).",
    },
    schoolEmail: {
        kind: "string",
        default: "",
        env: "SCHOOL_EMAIL",
        description: "The school's e-mail (SCHOOL_EMAIL).",
    },
    dsbContact: {
        kind: "string",
        default: "",
        env: "DSB_CONTACT",
        description: "Contact of the data-protection officer, shown in the privacy notice (DSB_CONTACT).",
    },
    privacyAuthority: {
        kind: "string",
        default: "",
        env: "PRIVACY_AUTHORITY",
        description: "The data-protection supervisory authority, shown in the privacy notice (PRIVACY_AUTHORITY).",
    },
    llmApiKey: {
        kind: "string",
        default: "",
        env: "LLM_API_KEY",
        secret: true,
        description: "API key of the optional LLM service (LLM_API_KEY); set with --secret.",
    },
    gradingServiceToken: {
        kind: "string",
        default: "",
        env: "GRADING_SERVICE_TOKEN",
        secret: true,
        description: "Token of the optional grading service (GRADING_SERVICE_TOKEN); set with --secret.",
    },
    gradingServiceCallbackSecret: {
        kind: "string",
        default: "",
        env: "GRADING_SERVICE_CALLBACK_SECRET",
        secret: true,
        description:
            "Secret the grading service signs its callbacks with (GRADING_SERVICE_CALLBACK_SECRET); set with --secret.",
    },
    staticUrl: {
        kind: "string",
        format: "urlPrefix",
        default: "/static/",
        description: "URL prefix nginx serves static files under.",
    },
    downloadsPrefix: {
        kind: "string",
        format: "urlPrefix",
        default: "/protected-files/",
        description: "Internal prefix for X-Accel-Redirect downloads from the uploads volume.",
    },
    workers: integer([1, 64], 4, "gunicorn worker processes."),
    threads: integer([1, 64], 2, "Threads per gunicorn worker."),
    appAccessLog: {
        kind: "boolean",
        default: false,
        description:
            "Also log every request in gunicorn (with the app's own time, rt_us). nginx logs every request anyway, with the time it waited for the app (urt); each log line costs the Docker host CPU, so this is off unless you are looking into the app.",
    },
    uploadLimitMb: integer(
        [1, 4096],
        64,
        "Largest request body in MiB, enforced by nginx and passed to the app as MAX_UPLOAD_MB.",
    ),
    bindAddress: {
        kind: "string",
        format: "ipv4",
        default: "127.0.0.1",
        description: "Host address nginx's port is published on (0.0.0.0 for all interfaces).",
    },
    port: integer([1, 65535], 8080, "Host port nginx is published on."),
    pythonImage: {
        kind: "string",
        format: "image",
        default: "python:3.12-slim-bookworm",
        description: "Base image of the app (Debian-based, with python3 and /bin/sh); pin a tag.",
    },
    nginxImage: {
        kind: "string",
        format: "image",
        default: "nginx:1.27.5-bookworm",
        description:
            "Base image of nginx (Debian-based: the health check uses bash); pin a tag. nginx >= 1.27.3 keeps a keep-alive pool to the app; an older one opens a connection per request.",
    },
    platform: {
        kind: "string",
        format: "platform",
        default: "linux/amd64",
        description:
            "Platform the images are built for (the school server's, e.g. linux/arm64 for an ARM server); without it the provider would use the architecture of the machine running pulumi.",
    },
    appEnv: {
        kind: "array",
        default: [],
        description: "Extra environment for the app, a list of NAME=value strings.",
    },
    protectData: {
        kind: "boolean",
        default: false,
        description:
            "Protect the data, uploads and backups volumes (protect + retainOnDelete); the tls and persistentPaths volumes are retained only (they come and go with config keys).",
    },
    hostSwapLimit: {
        kind: "boolean",
        default: true,
        description:
            'The Docker host can limit swap (`docker info` shows no "No swap limit support" warning). Set false on hosts without it (many Debian/Ubuntu kernels without swapaccount): Docker then stores the swap limit as -1, and declaring -1 there keeps every `up` from updating every container.',
    },
    loginPath: {
        kind: "string",
        format: "urlPath",
        default: "/login",
        description: "Path whose POSTs are rate-limited per client IP.",
    },
    loginRatePerMinute: integer(
        [0, 6000],
        60,
        "Login POSTs allowed per client IP and minute, all of them at once if they come together (a class behind one school address logs in within seconds); beyond that 429 with a short German page. 0 turns the limit off.",
    ),
    appMemoryMb: integer([128, 65536], 1024, "Memory limit of the app container in MiB."),
    nginxMemoryMb: integer([32, 65536], 512, "Memory limit of the nginx container in MiB."),
    pidsLimit: integer([64, 100000], 512, "Process/thread limit of each container (its user's nproc ulimit)."),
    migrateCommand: {
        kind: "string",
        default: "",
        description:
            'Shell command run once per new image in a one-off container before it takes traffic, instead of the init hook (the migrations in migrationsPath and the admin password follow it); "" runs the init hook.',
    },
    jobs: {
        kind: "objects",
        default: [],
        description:
            "Scheduled jobs, a list of {name, schedule (cron, 5 fields), command (run in the app folder), timeZone (IANA, default UTC)}; run by a scheduler container of the app image with the app's volumes and environment.",
    },
    ...MIGRATION_KEYS,
    ...TLS_KEYS,
    baseStack: {
        kind: "string",
        default: "",
        description:
            "Stack whose Pulumi.<name>.yaml gives every key this stack does not set itself (e.g. prod for a school stack schule-<name>: its own file keeps only the school's settings); secrets and docker:* keys are not taken over.",
    },
    ...BACKUP_KEYS,
    createdAt: {
        kind: "string",
        format: "isoTime",
        default: "",
        description: "When a test school was created (ISO 8601, set by `npm run school`); informational.",
    },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
