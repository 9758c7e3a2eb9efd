#!/usr/bin/env bash
# Restores a stack's SQLite database from its backups volume, online, with SQLite's backup API.
# Usage: scripts/restore-backup.sh STACK [BACKUP_FILE|latest] [--list]
#   STACK        Pulumi stack name (dev, prod, school-berlin, ...)
#   BACKUP_FILE  a file name from `--list`, or `latest` (default)
# Runs against the Docker host in DOCKER_HOST (or the local engine), using the image of the stack's
# running app container. The app keeps running; requests wait on SQLite's lock while the restore
# runs. Backups are taken automatically before every new app image (see README).
set -euo pipefail
stack=${1:?usage: scripts/restore-backup.sh STACK [BACKUP_FILE|latest] [--list]}
from=${2:-latest}
database=${LM_DATABASE_PATH:-/app/data/lernmanager.db}

app=$(docker ps --filter "label=dev.lernmanager.stack=${stack}" --filter "label=dev.lernmanager.role=app" --format '{{.ID}}' | head -n1)
[ -n "$app" ] || { echo "restore: no running app container of stack ${stack} (label dev.lernmanager.stack=${stack})" >&2; exit 1; }
image=$(docker inspect --format '{{.Image}}' "$app")
data_dir=$(dirname "$database")
data_volume=$(docker inspect --format "{{range .Mounts}}{{if eq .Destination \"${data_dir}\"}}{{.Name}}{{end}}{{end}}" "$app")
[ -n "$data_volume" ] || { echo "restore: the app container has no volume at ${data_dir} (set LM_DATABASE_PATH)" >&2; exit 1; }
backups_volume="${data_volume%-data}-backups"

run() {
  docker run --rm --user 10001:10001 --network none --read-only --tmpfs /tmp \
    --mount "type=volume,source=${data_volume},target=${data_dir}" \
    --mount "type=volume,source=${backups_volume},target=/backups" \
    --entrypoint python3 "$image" -OO /opt/lernmanager/lm_backup.py "$@"
}

if [ "$from" = "--list" ] || [ "${3:-}" = "--list" ]; then
  run list --dir /backups
  exit 0
fi
# The migrations done-file goes back with the database (lm_migrate.py; key migrationsDoneFile).
run restore --database "$database" --dir /backups --from "$from" \
  --done-file "${LM_MIGRATIONS_DONE_FILE:-${data_dir}/migrations_done.txt}"
