#!/usr/bin/env bash
# Prepares a machine for the real-engine tests and benchmarks, idempotently:
#   1. installs docker.io, debootstrap (and wrk, nginx-light for `nginx -t`) from Debian when missing;
#   2. starts dockerd in the background when no daemon answers (its PID goes to $LM_DOCKERD_PIDFILE,
#      so `scripts/test-env.sh stop` stops exactly the daemon this script started);
#   3. builds the offline base images once (debootstrap --variant=minbase + docker import) and
#      reuses them when present (scripts/base-images.conf: bump the tag when a package list changes).
# Usage: scripts/test-env.sh [up|stop|images|bench-images]   (default: up; bench-images: the
# benchmark's A/B images, never built by up)
# Prints the base image names (from scripts/base-images.conf) as `LM_TEST_PYTHON_IMAGE=...` / `LM_TEST_NGINX_IMAGE=...` lines.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/base-images.conf
. "$here/base-images.conf"
pidfile=${LM_DOCKERD_PIDFILE:-/tmp/lernmanager-dockerd.pid}
log() { echo "[test-env] $*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v wrk >/dev/null || missing+=(wrk)
  [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v ssh-keygen >/dev/null || missing+=(openssh-client)
  # npm run restore --from decrypts the copies on the admin's computer (the private key stays there).
  command -v age >/dev/null || missing+=(age)
  # The browser test: Debian's headless Chromium (puppeteer-core drives it; no browser download) and
  # certutil, with which it installs the school CA into the profile's NSS database.
  [ -x /usr/lib/chromium/chromium-headless-shell ] || missing+=(chromium-headless-shell)
  command -v certutil >/dev/null || missing+=(libnss3-tools)
  # debootstrap checks Debian's release signatures (Ubuntu lacks Debian's keyring).
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing from Debian: ${missing[*]}"
    log "  (docker.io: the real-engine tests; debootstrap: the offline base images; wrk: the load tests and"
    log "   benchmark; nginx-light: \`nginx -t\` of the generated config in the unit tests;"
    log "   openssh-client: npm run import from an ssh:// source, tested against an sshd container;"
    log "   age: npm run restore --from decrypts encrypted copies;"
    log "   chromium-headless-shell, libnss3-tools: the browser test)"
    local nginx_was_running=no
    pgrep -x nginx >/dev/null 2>&1 && nginx_was_running=yes
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # nginx-light's package starts a system nginx on :80 on some machines. Stop it only when this
    # install started it: a system nginx that ran before is not ours to touch.
    if [[ " ${missing[*]} " == *" nginx-light "* ]] && [ "$nginx_was_running" = no ]; then
      if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
        log "stopping the system nginx that installing nginx-light just started"; as_root systemctl stop nginx || true
      elif [ -f /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
        log "stopping the system nginx that installing nginx-light just started"; as_root kill "$(cat /run/nginx.pid)" || true
      fi
    fi
  fi
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then return 0; fi
  log "starting dockerd in the background"
  as_root bash -c "nohup dockerd >/tmp/lernmanager-dockerd.log 2>&1 & echo \$! > '$pidfile'"
  for _ in $(seq 1 60); do
    if [ -S /var/run/docker.sock ] && docker info >/dev/null 2>&1; then log "dockerd is up"; return 0; fi
    sleep 1
  done
  log "dockerd did not answer within 60 s; its log:"; tail -n 30 /tmp/lernmanager-dockerd.log >&2 || true
  exit 1
}

stop_dockerd() {
  if [ -f "$pidfile" ]; then
    log "stopping the dockerd this script started"
    as_root kill "$(cat "$pidfile")" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 1; done
    as_root rm -f "$pidfile"
  fi
}

mirror() {
  # The Debian mirror this machine's apt already uses (deb822 or one-line format), on Debian.
  local m
  m=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$m" ] || m=$(grep -hsE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  # Only a Debian machine's mirror serves bookworm and sid: elsewhere (Ubuntu's archive) Debian's own.
  local id
  id=$(. /etc/os-release 2>/dev/null && echo "${ID:-}")
  if [ "$id" = debian ] && [ -n "$m" ]; then echo "$m"; else echo "http://deb.debian.org/debian"; fi
}

build_image() { # name packages suite
  local name=$1 pkgs=$2 suite=$3 dir
  if docker image inspect "$name" >/dev/null 2>&1; then log "reusing $name"; return 0; fi
  dir=$(mktemp -d /tmp/lm-rootfs.XXXXXX)
  log "building $name with debootstrap ($suite; packages: $pkgs)"
  as_root debootstrap --variant=minbase --include="$pkgs" "$suite" "$dir" "$(mirror)" >"$dir.log" 2>&1 \
    || { tail -n 30 "$dir.log" >&2; exit 1; }
  # Keep the images small: no apt lists, caches, docs.
  as_root rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/*
  as_root tar -C "$dir" -c . | docker import -c 'CMD ["/bin/bash"]' - "$name" >/dev/null
  as_root rm -rf "$dir" "$dir.log"
  log "built $name"
}

images() {
  build_image "$LM_TEST_PYTHON_IMAGE" "$LM_TEST_PYTHON_PACKAGES" "$LM_TEST_PYTHON_SUITE" &
  local p1=$!
  build_image "$LM_TEST_NGINX_IMAGE" "$LM_TEST_NGINX_PACKAGES" "$LM_TEST_NGINX_SUITE" &
  local p2=$!
  build_image "$LM_TEST_TLS_IMAGE" "$LM_TEST_TLS_PACKAGES" "$LM_TEST_TLS_SUITE" &
  local p3=$!
  wait $p1; wait $p2; wait $p3
  echo "LM_TEST_PYTHON_IMAGE=$LM_TEST_PYTHON_IMAGE"
  echo "LM_TEST_NGINX_IMAGE=$LM_TEST_NGINX_IMAGE"
  echo "LM_TEST_TLS_IMAGE=$LM_TEST_TLS_IMAGE"
}

bench_images() {
  # Only for benchmark A/B runs: the same packages as the nginx image, from another suite.
  build_image "$LM_BENCH_NGINX_OLD_IMAGE" "$LM_TEST_NGINX_PACKAGES" "$LM_BENCH_NGINX_OLD_SUITE"
  echo "LM_BENCH_NGINX_OLD_IMAGE=$LM_BENCH_NGINX_OLD_IMAGE"
}

case "${1:-up}" in
  up) install_packages; start_dockerd; images ;;
  images) images ;;
  bench-images) bench_images ;;
  stop) stop_dockerd ;;
  *) echo "usage: $0 [up|stop|images|bench-images]" >&2; exit 2 ;;
esac
