#!/usr/bin/env bash
# Restores a stack's database (and its migrations done-file, uploads and persistent folders) from a
# backup, safely.
# Usage: cli/restore.sh STACK [BACKUP_FILE|latest] [--list]     (npm run restore -- ...)
#   STACK        Pulumi stack name (dev, prod, school-berlin, ...)
#   BACKUP_FILE  a file name from `--list`, or `latest` (default: the newest that is not a safety backup)
# With --from <copy folder | sftp://...> (an off-host copy, e.g. on a new server after the old one
# died) and --help, cli/restoreFrom.ts takes over: it fetches the copy and restores it through this.
# What it does, against the Docker host in DOCKER_HOST (or the local engine), finding the stack's
# containers by their labels (no Pulumi CLI needed):
#   1. the database file, data folder and migrations come from the stack's config as deployed (the
#      backup container's settings, components/backups.ts), never from a guess;
#   2. a safety backup of the current database and uploads (label before-restore), so the restore
#      itself can be undone with this script;
#   3. the app's writers stop (app containers, scheduler, backup container), the backup is copied
#      in, then the current image's migrations that the backup has not seen run (its done-file comes
#      back with it), exactly as a deploy runs them;
#   4. everything starts again and the script waits until the app is healthy.
# If a step after the stop fails, the safety backup goes back in and the app restarts as it was.
set -euo pipefail
usage="usage: npm run restore -- STACK [BACKUP_FILE|latest] [--list] | STACK BACKUP --from TARGET  (--help)"
case " $* " in *" --help "* | *" -h "* | *" --from "* | *" --from="*)
  cd "$(dirname "$0")/.." && exec npx --no-install ts-node --transpile-only cli/restoreFrom.ts "$@" ;;
esac
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }
stack=$1
[[ $stack =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "restore: \"$stack\" is not a stack name. $usage" >&2; exit 2; }
# The stack's own Docker engine (its docker:host), as the provider and the other commands use it.
engine=$(cd "$(dirname "$0")/.." && npx --no-install ts-node --transpile-only cli/engine.ts "$stack") || exit 2
eval "$engine"
from=${2:-latest}
rt=/opt/lernmanager
by_role() { docker ps -a --filter "label=dev.lernmanager.stack=${stack}" --filter "label=dev.lernmanager.role=$1" --format '{{.Names}}'; }
say() { echo "restore: $*"; }

backup=$(by_role backup | head -n1)
[ -n "$backup" ] || { echo "restore: stack ${stack} has no backup container (label dev.lernmanager.stack=${stack}); deploy it first" >&2; exit 1; }
docker start "$backup" >/dev/null
# The deployed settings, one a line: database and done-file (in the backup container, in the app
# container), migrations folder, pattern, done-file.
mapfile -t cfg < <(docker exec "$backup" python3 -c 'import json; c = json.load(open("/tmp/lm-backupd.json")); m = c.get("migrations") or {}
for v in (c["database"], c.get("doneFile") or "", c["appDatabase"], c.get("appDoneFile") or "", m.get("folder", ""), m.get("pattern", ""), m.get("doneFile", ""), c.get("uploads") or "", c.get("appUploads") or ""): print(v)
print(" ".join(f"--folder {f[0]}={f[1]}" for f in c.get("folders") or []))
print(" ".join(f"--folder {f[0]}={f[2]}" for f in c.get("folders") or []))')
database=${cfg[0]}; done_file=${cfg[1]}; app_database=${cfg[2]}; app_done_file=${cfg[3]}
mig_folder=${cfg[4]}; mig_pattern=${cfg[5]}; mig_done=${cfg[6]}
# The uploads and persistent folders as the backup container reads them, and as the app has them
# (the slugs and paths are the stack's config: no spaces).
live_uploads=${cfg[7]}; app_uploads=${cfg[8]}; live_folders=${cfg[9]}; app_folders=${cfg[10]}
backups_volume=$(docker inspect --format '{{range .Mounts}}{{if eq .Destination "/backups"}}{{.Name}}{{end}}{{end}}' "$backup")
in_backup() { docker exec "$backup" python3 -OO "$rt/lm_backup.py" "$@"; }

if [ "$from" = "--list" ] || [ "${3:-}" = "--list" ]; then in_backup list --dir /backups; exit 0; fi
if [ "$from" = latest ]; then
  from=$(in_backup list --dir /backups | cut -f1 | grep -v -E -- '-before-(restore|import)\.db$' | tail -n1)
  [ -n "$from" ] || { echo "restore: no backups of stack ${stack}" >&2; exit 1; }
fi
docker exec "$backup" test -f "/backups/$from" || { echo "restore: /backups/$from does not exist (see --list)" >&2; exit 1; }
say "database ${database#/srv/live/} of stack ${stack} (from its config), backup ${from}"

safety=$(in_backup backup --database "$database" --dir /backups --keep 1000 --label before-restore \
  ${done_file:+--done-file "$done_file"} --uploads "${live_uploads:-/srv/live/uploads}" $live_folders | sed -n 's#^backup: wrote /backups/\([^ ]*\) .*#\1#p')
say "safety backup of the current data: ${safety:-none (no database yet)}"

apps=$(by_role app); schedulers=$(by_role scheduler)
app=$(echo "$apps" | head -n1)
[ -n "$app" ] || { echo "restore: stack ${stack} has no app container" >&2; exit 1; }
image=$(docker inspect --format '{{.Image}}' "$app")
envfile=$(mktemp); chmod 600 "$envfile"; trap 'rm -f "$envfile"' EXIT
docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$app" | grep -v '^$' > "$envfile"
tmpfs_args=$(docker inspect --format '{{range $k, $v := .HostConfig.Tmpfs}}--tmpfs {{$k}}:{{$v}} {{end}}' "$app")
started=$(date +%s)
say "stopping the writers: $(echo $apps $schedulers "$backup" | wc -w) container(s)"
docker stop -t 40 $apps $schedulers "$backup" >/dev/null

oneoff() {  # a container of the current image with the app's volumes and environment (and the backups), no network
  docker run --rm --network none --read-only --user 10001:10001 --cap-drop ALL --security-opt no-new-privileges:true \
    --label "dev.lernmanager.stack=${stack}" --label dev.lernmanager.role=restore $tmpfs_args \
    --volumes-from "$app" --mount "type=volume,source=${backups_volume},target=/backups" \
    --env-file "$envfile" -w /app --entrypoint python3 "$image" -OO "$@"
}
put_back() {  # $1: backup file; restores database + done-file, the uploads and the persistent folders
  oneoff "$rt/lm_backup.py" restore --database "$app_database" --dir /backups --from "$1" ${app_done_file:+--done-file "$app_done_file"} \
    ${app_uploads:+--uploads "$app_uploads"} $app_folders
}
migrate() {
  [ -n "$mig_folder" ] || return 0
  oneoff "$rt/lm_migrate.py" --folder "$mig_folder" --pattern "$mig_pattern" --done-file "$mig_done"
}
restart() {
  docker start $apps $schedulers "$backup" >/dev/null
  for _ in $(seq 90); do
    [ "$(docker inspect --format '{{.State.Health.Status}}' "$app")" = healthy ] && return 0
    sleep 2
  done
  echo "restore: the app did not become healthy within 180 s: docker logs $app" >&2; return 1
}
if put_back "$from" && migrate; then
  restart
  say "done: ${from} restored, the app is healthy again after $(( $(date +%s) - started )) s; undo with: npm run restore -- ${stack} ${safety}"
else
  echo "restore: FAILED; putting the safety backup ${safety} back" >&2
  [ -z "$safety" ] || put_back "$safety"
  restart || true
  exit 1
fi
