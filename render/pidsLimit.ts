/**
 * The pids limit of the stack's containers: Docker's per-container pids cgroup (`docker update
 * --pids-limit`), which the Docker provider cannot set (pulumi-docker 5.2.0's Container has no
 * pids-limit field; the kreuzwerker provider it bridges never sets HostConfig.PidsLimit).
 */

export interface PidsLimitStep {
    /** The stack's label (core/names.ts STACK_LABEL) and the stack it names. */
    readonly label: string;
    readonly stack: string;
    /** The limit of the stack's long-running containers, by their `dev.lernmanager.role` label. */
    readonly limits: Readonly<Record<string, number>>;
}

/** The label every container of the stack carries with its role (app, scheduler, backup, nginx, tls). */
export const ROLE_LABEL = "dev.lernmanager.role";

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Sets the limit on every container of each role and reads it back from Docker. The containers are
 * found by their labels, not by name: the engine gives the app's containers a random suffix, and a
 * replaced one exists beside its successor until the end of the update (both get the limit). A
 * container removed between the listing and its update is skipped; a role without any container,
 * a refused update or a limit Docker does not read back fails the deploy.
 */
export function pidsLimitScript(s: PidsLimitStep): string {
    const roles = Object.entries(s.limits);
    if (roles.length === 0) throw new Error("pidsLimitScript: no role to limit");
    for (const [role, limit] of roles) {
        if (!/^[a-z][a-z0-9-]*$/.test(role))
            throw new Error(`pidsLimitScript: role ${JSON.stringify(role)} is not a plain name`);
        if (!Number.isInteger(limit) || limit < 1)
            throw new Error(`pidsLimitScript: the limit of ${role} must be a whole number of 1 or more, got ${limit}`);
    }
    return [
        "set -euo pipefail",
        "limit_role() {",
        "  local role=$1 limit=$2 n=0 id got",
        `  for id in $(docker ps -aq --no-trunc --filter ${q(`label=${s.label}=${s.stack}`)} --filter "label=${ROLE_LABEL}=$role"); do`,
        '    if ! docker update --pids-limit "$limit" "$id" >/dev/null; then',
        '      docker inspect "$id" >/dev/null 2>&1 || continue',
        '      echo "[lernmanager] could not set the pids limit of the $role container ${id:0:12}" >&2',
        "      exit 1",
        "    fi",
        `    got=$(docker inspect --format '{{.HostConfig.PidsLimit}}' "$id")`,
        '    if [ "$got" != "$limit" ]; then',
        '      echo "[lernmanager] the $role container ${id:0:12} has pids limit $got, not $limit" >&2',
        "      exit 1",
        "    fi",
        "    n=$((n + 1))",
        "  done",
        '  if [ "$n" -eq 0 ]; then',
        `    echo "[lernmanager] no $role container of stack ${s.stack.replace(/[^A-Za-z0-9_.-]/g, "?")} to give a pids limit" >&2`,
        "    exit 1",
        "  fi",
        '  echo "[lernmanager] pids limit $limit: $n $role container(s)"',
        "}",
        ...roles.map(([role, limit]) => `limit_role ${role} ${limit}`),
        "",
    ].join("\n");
}
