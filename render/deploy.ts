import type { AdminPasswordConfig, MigrationsConfig } from "../config/types";
import { LAYOUT } from "../core/layout";
import { TIMINGS } from "../core/timings";

/**
 * Memory-backed scratch folders of the app (counted against its memory limit), owned by the app's
 * user. `uid`/`gid` and not `mode=1777`: Docker 20.10 mounts a tmpfs inside the app folder as root
 * 0755 whatever `mode` says (checked), and the app could not write there.
 */
export const SCRATCH_TMPFS = `rw,nosuid,nodev,size=512m,uid=${LAYOUT.appUid},gid=${LAYOUT.appUid}`;

/**
 * Shell scripts of the one-off steps around a deploy. Each runs on the machine that runs Pulumi,
 * through the docker CLI, against the stack's Docker host (DOCKER_HOST, when set, is the same
 * `docker:host` the provider uses), in a throwaway container of the new app image ($LM_IMAGE).
 * Pure functions: values that are only known during the deploy (the image id, the secret key)
 * come in through the step's environment, never through the text.
 */

/** What every step's container shares. */
export interface StepBase {
    /** `lernmanager-<stack>`: names the throwaway containers. */
    readonly prefix: string;
    /** Stack name for the label. */
    readonly stack: string;
    /** Label key on every Docker object of the stack. */
    readonly label: string;
}

export interface BackupStep extends StepBase {
    readonly dataVolume: string;
    readonly backupsVolume: string;
    /** SQLite file path inside the app image, e.g. /app/data/lernmanager.db. */
    readonly databasePath: string;
    /** The newest backups kept. */
    readonly keep: number;
    /** Older ones kept: `hourly=H,daily=D,weekly=W` (lm_backup.py --retention). @default none */
    readonly retention?: string;
    /** The migrations done-file inside the image (e.g. /app/data/migrations_done.txt), kept with each backup. */
    readonly doneFile?: string;
}

/** A one-off container of the new app image with what the app container mounts and gets. */
export interface AppRunStep extends StepBase {
    readonly network: string;
    readonly dataVolume: string;
    readonly uploadsVolume: string;
    readonly cacheVolume: string;
    readonly dataPath: string;
    readonly uploadsPath: string;
    /** The app's further persistent folders and their volumes' names. @default [] */
    readonly persistent?: readonly { readonly path: string; readonly volume: string }[];
    /** The app's scratch folders (a tmpfs each, as in the app container). @default [] */
    readonly scratchPaths?: readonly string[];
    /** Names of environment variables handed to the container (values come from the step's environment). */
    readonly envNames: readonly string[];
}

export interface MigrationStep extends AppRunStep {
    /** Shell command run in /app instead of the init hook, or undefined to run the init hook. */
    readonly command?: string;
    /** Run the init hook (lm_init.py) when there is no command. @default true */
    readonly initHook?: boolean;
    /** The app's migrations folder (lm_migrate.py), after the hook; undefined: none. */
    readonly migrations?: MigrationsConfig;
    /**
     * Replace the default admin password (lm_admin.py), last; undefined: never. The new password
     * comes from the step's environment as LM_ADMIN_PASSWORD, never from the text.
     */
    readonly adminPassword?: AdminPasswordConfig & {
        /** SQLite file path inside the app image, e.g. /app/data/mbi_tracker.db. */
        readonly databasePath: string;
    };
}

export interface SmokeStep extends StepBase {
    readonly network: string;
    /** A page that must answer 2xx/3xx, e.g. "/". */
    readonly page: string;
    /** A static file URL that must answer 200, e.g. "/static/css/app.css". */
    readonly staticFile: string;
    /** TLS on: the TLS volume (read-only in the smoke container); the checks go over HTTPS. */
    readonly tlsVolume?: string;
    /** TLS on: the Strict-Transport-Security value nginx must send ("" when it must send none). */
    readonly hsts?: string;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function run(step: StepBase, kind: string, options: string[], entrypoint: string, args: string[]): string {
    return [
        "set -euo pipefail",
        `docker run --rm --name ${q(`${step.prefix}-${kind}`)}-$$ \\`,
        `  --label ${q(`${step.label}=${step.stack}`)} --label dev.lernmanager.role=${kind} \\`,
        `  --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges:true \\`,
        `  --user ${LAYOUT.appUid}:${LAYOUT.appUid} \\`,
        ...options.map((o) => `  ${o} \\`),
        `  --entrypoint ${entrypoint} "$LM_IMAGE" ${args.join(" ")}`,
        "",
    ].join("\n");
}

/** An argument inside the `sh -c '...'` text: bare when plain, else double-quoted, else single-quoted. */
const arg = (s: string) => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : /^[^"$`\\!]*$/.test(s) ? `"${s}"` : q(s));

/** `--name value` options for the helpers' command lines, values quoted for `sh -c '...'`. */
const flags = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `--${k} ${arg(v)}`);

const volume = (source: string, target: string) => `--mount ${q(`type=volume,source=${source},target=${target}`)}`;

/** Online SQLite backup (backup API) into the backups volume before the app container is replaced. */
export function backupScript(s: BackupStep): string {
    if (!Number.isInteger(s.keep) || s.keep < 1) throw new Error(`backupScript: keep must be 1 or more, got ${s.keep}`);
    return run(
        s,
        "backup",
        [
            "--network none",
            volume(s.dataVolume, s.databasePath.slice(0, s.databasePath.lastIndexOf("/"))),
            volume(s.backupsVolume, "/backups"),
        ],
        "python3",
        [
            "-OO",
            `${LAYOUT.runtimeDir}/lm_backup.py`,
            "backup",
            `--database ${q(s.databasePath)}`,
            "--dir /backups",
            `--keep ${s.keep}`,
            ...(s.retention ? [`--retention ${q(s.retention)}`] : []),
            '--label "$LM_VERSION"',
            ...(s.doneFile ? [`--done-file ${q(s.doneFile)}`] : []),
        ],
    );
}

/** Variable the generated admin password reaches the migrate step's container in. */
export const ADMIN_PASSWORD_ENV = "LM_ADMIN_PASSWORD";

/**
 * Once per new image, before it takes traffic, in one container with the app's volumes and
 * environment: the init hook (or `command`), the app's pending migrations, the preflight, then the
 * default admin password replaced. The first failure stops the step and fails the deploy. Only the
 * last part sees the generated password.
 */
export function migrationScript(s: MigrationStep): string {
    const options = [
        `--network ${q(s.network)}`,
        volume(s.dataVolume, `${LAYOUT.appDir}/${s.dataPath}`),
        volume(s.uploadsVolume, `${LAYOUT.appDir}/${s.uploadsPath}`),
        volume(s.cacheVolume, LAYOUT.cacheDir),
        ...(s.persistent ?? []).map((p) => volume(p.volume, `${LAYOUT.appDir}/${p.path}`)),
        ...(s.scratchPaths ?? []).map((p) => `--tmpfs ${q(`${LAYOUT.appDir}/${p}:${SCRATCH_TMPFS}`)}`),
        ...s.envNames.map((name) => `-e ${name}`),
        ...(s.adminPassword ? [`-e ${ADMIN_PASSWORD_ENV}`] : []),
    ];
    const py = (file: string, args: string[] = []) => [`python3 -OO ${LAYOUT.runtimeDir}/${file}`, ...args].join(" ");
    const withoutPassword = s.adminPassword ? `env -u ${ADMIN_PASSWORD_ENV} ` : "";
    const parts = ["set -e", `cd ${LAYOUT.appDir}`];
    if (s.command) parts.push(`${withoutPassword}/bin/sh -c ${q(s.command)}`);
    else if (s.initHook ?? true) parts.push(`${withoutPassword}${py("lm_init.py")}`);
    const m = s.migrations;
    if (m) {
        parts.push(py("lm_migrate.py", flags({ folder: m.folder, pattern: m.pattern, "done-file": m.doneFile })));
    }
    // Then the preflight: a new version that cannot become healthy fails the deploy here, with the
    // reason, rather than after the app container's whole health-check wait.
    parts.push(`${withoutPassword}${py("lm_preflight.py")}`);
    const a = s.adminPassword;
    if (a) {
        parts.push(
            py(
                "lm_admin.py",
                flags({
                    database: a.databasePath,
                    table: a.table,
                    "user-column": a.usernameColumn,
                    "hash-column": a.hashColumn,
                    username: a.username,
                    "default-password": a.defaultPassword,
                }),
            ),
        );
    }
    return run(s, "migrate", options, "/bin/sh", ["-c", q(parts.join("; "))]);
}

export interface CandidateStep extends AppRunStep {
    /** The app container's health check: shell command and Docker's timings (Go durations). */
    readonly health: {
        readonly command: string;
        readonly interval: string;
        readonly timeout: string;
        readonly retries: number;
        readonly startPeriod: string;
    };
    /** Seconds the candidate may take to become healthy (the app container's waitTimeout). */
    readonly timeoutSeconds: number;
    /** Memory limit in MiB (the app container's). */
    readonly memoryMb: number;
    /** Kernel settings of the app container. */
    readonly sysctls: Readonly<Record<string, string>>;
}

/**
 * Before the new app container is created: the new version runs once, as the app container would
 * (its image's own entrypoint, its volumes, environment, tmpfs, hardening and health check), on the
 * stack's network **without** the `app` alias, so nginx never sends it a request. It must become
 * healthy within `timeoutSeconds`; otherwise the step fails the deploy with the reason and its last
 * log lines, and the app container is not replaced at all.
 *
 * Why not the app container's own `wait`: a container that fails its wait stays in the state as an
 * init error, running, under the alias `app` (nginx sends it traffic), with the old container
 * marked for deletion, which the next `up` deletes first (engineRules.ts INIT_ERROR_KEY,
 * PENDING_DELETES_FIRST). The candidate gets a tmpfs for the static files (the shared static volume
 * keeps the running version's), and is removed either way.
 */
export function candidateScript(s: CandidateStep): string {
    const h = s.health;
    const options = [
        `--network ${q(s.network)}`,
        `--label ${q(`${s.label}=${s.stack}`)} --label dev.lernmanager.role=candidate`,
        "--read-only --init --cap-drop ALL --security-opt no-new-privileges:true",
        `--memory ${s.memoryMb}m --memory-swap ${s.memoryMb}m`,
        ...Object.entries(s.sysctls).map(([k, v]) => `--sysctl ${q(`${k}=${v}`)}`),
        `--tmpfs /tmp:rw,nosuid,nodev,size=256m,mode=1777 --tmpfs ${LAYOUT.staticDir}:rw,nosuid,nodev,uid=${LAYOUT.appUid},gid=${LAYOUT.appUid}`,
        volume(s.dataVolume, `${LAYOUT.appDir}/${s.dataPath}`),
        volume(s.uploadsVolume, `${LAYOUT.appDir}/${s.uploadsPath}`),
        volume(s.cacheVolume, LAYOUT.cacheDir),
        ...(s.persistent ?? []).map((p) => volume(p.volume, `${LAYOUT.appDir}/${p.path}`)),
        ...(s.scratchPaths ?? []).map((p) => `--tmpfs ${q(`${LAYOUT.appDir}/${p}:${SCRATCH_TMPFS}`)}`),
        ...s.envNames.map((name) => `-e ${name}`),
        `--health-cmd ${q(h.command)} --health-interval ${h.interval} --health-timeout ${h.timeout}`,
        `--health-retries ${h.retries} --health-start-period ${h.startPeriod}`,
    ];
    return [
        "set -uo pipefail",
        `cid=$(docker run -d --name ${q(`${s.prefix}-candidate`)}-$$ \\`,
        ...options.map((o) => `  ${o} \\`),
        '  "$LM_IMAGE") || exit 1',
        `trap 'docker stop -t ${TIMINGS.appStopGraceSeconds} "$cid" >/dev/null 2>&1; docker rm -f "$cid" >/dev/null 2>&1' EXIT`,
        `deadline=$((SECONDS + ${s.timeoutSeconds}))`,
        "while :; do",
        `  state=$(docker inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$cid" 2>&1)`,
        "  state=${state% }",
        '  case "$state" in',
        '    "running healthy") echo "[lernmanager] candidate: the new version $LM_VERSION is healthy"; exit 0 ;;',
        '    "running unhealthy") reason="its health check failed"; break ;;',
        "    running*) ;;",
        `    *) reason="it stopped ($state, exit code $(docker inspect --format '{{.State.ExitCode}}' "$cid" 2>/dev/null))"; break ;;`,
        "  esac",
        `  if [ "$SECONDS" -ge "$deadline" ]; then reason="not healthy within ${s.timeoutSeconds} s ($state)"; break; fi`,
        "  sleep 1",
        "done",
        `echo "[lernmanager] the new version $LM_VERSION did not become healthy: $reason. It received no request; the running version goes on serving. Its last log lines:" >&2`,
        `docker inspect --format '{{if .State.Health}}{{range .State.Health.Log}}health check: {{.Output}}{{end}}{{end}}' "$cid" 2>/dev/null | tail -n 3 >&2`,
        `docker logs --tail 40 "$cid" 2>&1 | sed 's/^/  /' >&2`,
        "exit 1",
        "",
    ].join("\n");
}

/** Label of the containers `npm run rollback` started (cli/rollback.ts); the next deploy removes them. */
export const ROLLBACK_LABEL = "dev.lernmanager.rollback";

/** After the deploy: nginx's health, the new app's /healthz, one page and one static file, through nginx. */
export function smokeTestScript(s: SmokeStep): string {
    const http = `http://nginx:${LAYOUT.nginxPort}`;
    const tls = s.tlsVolume
        ? [
              `--mount ${q(`type=volume,source=${s.tlsVolume},target=${LAYOUT.tlsDir},readonly`)}`,
              `-e LM_SMOKE_TLS_DIR=${LAYOUT.tlsDir} -e LM_SMOKE_HTTP=${http} -e LM_SMOKE_HSTS=${q(s.hsts ?? "")}`,
          ]
        : [];
    const smoke = run(s, "smoke", [`--network ${q(s.network)}`, ...tls], "python3", [
        "-OO",
        `${LAYOUT.runtimeDir}/lm_smoke.py`,
        q(s.tlsVolume ? `https://nginx:${LAYOUT.nginxTlsPort}` : http),
        '"$LM_VERSION"',
        q(s.page),
        q(s.staticFile),
    ]);
    // Then the containers a rollback started (unknown to Pulumi) go, gracefully: the new ones serve.
    const filter = `--filter ${q(`label=${s.label}=${s.stack}`)} --filter label=${ROLLBACK_LABEL}`;
    return `${smoke}for c in $(docker ps -aq ${filter}); do docker stop -t ${TIMINGS.appStopGraceSeconds} "$c" >/dev/null; docker rm "$c" >/dev/null && echo "removed container $c of a rollback"; done\n`;
}

export interface ImageJanitor {
    /** Image repositories of the stack (exact names, e.g. lernmanager-dev-app). */
    readonly repositories: readonly string[];
    /** Tags kept per repository besides those in use (the newest first). */
    readonly keep: number;
}

/**
 * Keeps the stack's images from piling up. Three scripts, for three resources with different lives:
 * - `prune` runs after every new image: each repository keeps its `keep` tags applied last, every tag in
 *   $LM_KEEP_REFS (the images this deploy declares, e.g. the runtime image the next app build starts
 *   FROM) and any tag a container uses (Docker refuses those). It has no delete: it is replaced with
 *   every new image, and a replaced command's delete runs at the end of that update (pulumi-command runs
 *   the old resource's delete on replacement, after the new one: it would prune the new images).
 * - `buildLeftovers` removes the containers the classic builder left behind (the Docker provider's
 *   native Image never sets `Remove`, so every build step leaves one): exactly the created/exited
 *   containers already committed into an image (a finished step, never one of a build still
 *   running), with a builder step command (`/bin/sh -c ...`), no stack label, and an image whose
 *   parent chain reaches a layer below an image in $LM_BUILT (space-separated ids) — never a
 *   container of a built image itself, never one of a stack.
 * - `destroy` is the delete of a resource that is never replaced (no triggers) and that every
 *   container depends on, so it runs only on `pulumi destroy`, after the containers are gone:
 *   every tag of the stack's repositories goes (the Docker provider leaves built images behind).
 */
/** Go time layout of a tag time in the prune: UTC, always nine fraction digits (sorts as text). */
const TAG_TIME_LAYOUT = "2006-01-02T15:04:05.000000000Z";

export function imageJanitorScripts(j: ImageJanitor): { prune: string; buildLeftovers: string; destroy: string } {
    if (!Number.isInteger(j.keep) || j.keep < 1) throw new Error(`imageJanitorScripts: keep must be 1 or more`);
    const repos = j.repositories.map(q).join(" ");
    return {
        prune: [
            "set -euo pipefail",
            'keep=" ${LM_KEEP_REFS:-} "',
            `for repo in ${repos}; do`,
            // Newest by the time each image was last tagged, not by `image ls` order (creation time):
            // a build the layer cache answers keeps its old creation time, so an image deployed
            // just now can be listed last. Fixed-width UTC times sort as text.
            `  for ref in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$repo"); do`,
            `    t=$(docker image inspect --format ${q(`{{.Metadata.LastTagTime.UTC.Format "${TAG_TIME_LAYOUT}"}}`)} "$ref" 2>/dev/null) || continue`,
            '    echo "$t $ref"',
            `  done | LC_ALL=C sort -r | tail -n +${j.keep + 1} | while read -r _ ref; do`,
            '    case "$keep" in *" $ref "*) continue ;; esac',
            '    docker rmi "$ref" >/dev/null 2>&1 && echo "removed old image $ref" || true',
            "  done",
            "done",
            "",
        ].join("\n"),
        buildLeftovers: [
            "set -euo pipefail",
            `known=$(for image in $LM_BUILT; do docker history -q --no-trunc "$image" | tail -n +2; done | grep '^sha256:' | sort -u || true)`,
            // Containers already committed into an image: finished build steps, never one in flight.
            // (API 1.41: newer APIs omit an image's source container.)
            "images=$(docker image ls -aq --no-trunc | sort -u)",
            `committed=$( (DOCKER_API_VERSION=1.41 docker image inspect --format '{{.Container}}' $images 2>/dev/null || docker image inspect --format '{{.Container}}' $images 2>/dev/null || true) | sort -u)`,
            "removed=0",
            "for c in $(docker ps -aq --no-trunc --filter status=created --filter status=exited); do",
            '  grep -qxF "$c" <<<"$committed" || continue',
            `  info=$(docker inspect --format '{{.Image}}|{{index .Config.Labels "dev.lernmanager.stack"}}|{{json .Config.Cmd}}' "$c" 2>/dev/null) || continue`,
            "  IFS='|' read -r image stack cmd <<<\"$info\"",
            '  [ -z "$stack" ] || continue',
            `  case "$cmd" in '["/bin/sh","-c",'*) ;; *) continue ;; esac`,
            "  hit=0; id=$image",
            "  for _ in $(seq 64); do",
            '    if grep -qxF "$id" <<<"$known"; then hit=1; break; fi',
            `    id=$(docker image inspect --format '{{.Parent}}' "$id" 2>/dev/null) || break`,
            '    [ -n "$id" ] || break',
            "  done",
            '  if [ "$hit" = 1 ] && docker rm "$c" >/dev/null 2>&1; then removed=$((removed + 1)); fi',
            "done",
            'echo "removed $removed containers left by the image builds"',
            "",
        ].join("\n"),
        // Never fails: a failed delete cancels the rest of a destroy (the engine's cancelDueToError),
        // and an image a container outside the stack still uses (a rollback container started from
        // an old app image) is no reason to keep the stack's network and volumes. Such images stay,
        // named on stderr.
        destroy: [
            "set -uo pipefail",
            `for repo in ${repos}; do`,
            `  for ref in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$repo"); do`,
            '    if err=$(docker rmi "$ref" 2>&1 >/dev/null); then echo "removed image $ref"; else echo "kept image $ref: $err" >&2; fi',
            "  done",
            "done",
            "",
        ].join("\n"),
    };
}
