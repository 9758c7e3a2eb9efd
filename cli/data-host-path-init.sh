#!/usr/bin/env bash
# One-time setup of dataHostPath on the Docker host (run there, as root, with the disk unlocked and
# mounted): creates the stack's folders, owned by the app's user (uid 10001), and writes the marker
# the deploy and every app start look for. Refuses a folder that is not a mount point, so the marker
# always lands on the disk and never on the root filesystem under an empty mount point.
# Usage: cli/data-host-path-init.sh FOLDER [PERSISTENT_PATH...]   e.g. /srv/lernmanager instance/reports
set -euo pipefail
root=${1:?usage: cli/data-host-path-init.sh FOLDER [PERSISTENT_PATH...]}
shift
case "$root" in /*) ;; *) echo "data-host-path-init: $root is relative; give the absolute folder of the mounted disk" >&2; exit 1 ;; esac
if [ "${LM_ALLOW_NON_MOUNTPOINT:-}" != 1 ] && ! mountpoint -q "$root"; then
  echo "data-host-path-init: $root is not a mount point: unlock and mount the disk first (e.g. cryptsetup open /dev/sdb1 lm && mount /dev/mapper/lm $root)" >&2
  exit 1
fi
folders=(data uploads backups)
for p in "$@"; do folders+=("keep-$(echo "$p" | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9]+/-/g; s/^-|-$//g')"); done
# nginx (uid 10002) serves the uploads straight from their folder, as from a Docker volume (0755);
# the folder itself is root's alone (0700), as Docker's volume folder is: containers see only the
# subfolder bound into them, other users on the host nothing.
chmod 0700 "$root"
for f in "${folders[@]}"; do
  mode=0750; [ "$f" = uploads ] && mode=0755
  install -d -o 10001 -g 10001 -m "$mode" "$root/$f"
done
echo "lernmanager data folder, set up $(date -u +%FT%TZ)" > "$root/.lernmanager-data-mount"
cp "$root/.lernmanager-data-mount" "$root/data/.lernmanager-data-mount"
echo "data-host-path-init: $root is ready (${folders[*]}); pulumi config set dataHostPath $root"
