#!/bin/sh
# lm-tls: keeps the certificate nginx serves current (POSIX sh: runs on Alpine and Debian).
#   lm-tls run         check now, then every LM_TLS_CHECK_SECONDS (the container's command)
#   lm-tls renew-now   renew at once, whatever the expiry (docker exec <stack>-tls lm-tls renew-now)
#   lm-tls health      the container's health check: exit 1 unless the last check succeeded
#   lm-tls status      the status line
#   lm-tls new-ca      internal: put the school CA aside and make a new, name-constrained one (devices
#                      install the new one: docs/security.md "Moving to a new school CA")
# Modes (LM_TLS_MODE): acme (lego, HTTP-01 via the webroot nginx serves), internal (a school CA made
# here, its key never leaves this volume), files (the school's certificate from the environment).
# nginx reads live/fullchain.pem + live/privkey.pem and reloads itself when the certificate changes
# (containers/web/healthcheck.sh). The key is renamed into place before the certificate, so nginx never
# sees a new certificate with the old key.
set -eu
umask 027
DIR=${LM_TLS_DIR:-/srv/tls}
LIVE=$DIR/live
MODE=${LM_TLS_MODE:?LM_TLS_MODE is not set}
NAMES=${LM_TLS_NAMES:-}
ADDRESSES=${LM_TLS_ADDRESSES:-}
RENEW_DAYS=${LM_TLS_RENEW_DAYS:-30}
CHECK_SECONDS=${LM_TLS_CHECK_SECONDS:-43200}
MAIN=${NAMES%% *}

log() { echo "lm-tls: $*"; }
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
# The status line and the live certificate's fingerprint are public (0644 in a 0751 folder): the
# deploy's smoke test reads them to see that nginx serves the current certificate.
# The fingerprint goes first: whoever reads an "ok" line then reads the fingerprint of the certificate
# it is about, not the placeholder's (the smoke test would otherwise pass on the placeholder nginx
# still serves before its health check reloads).
status() { # ok|pending|failed message
  if [ -f "$LIVE/fullchain.pem" ]; then
    openssl x509 -noout -fingerprint -sha256 -in "$LIVE/fullchain.pem" | sed 's/^.*=//; s/://g' | tr 'A-F' 'a-f' > "$DIR/fingerprint.tmp" \
      && chmod 0644 "$DIR/fingerprint.tmp" && mv -f "$DIR/fingerprint.tmp" "$DIR/fingerprint"
  fi
  printf '%s %s %s\n' "$1" "$(now)" "$2" > "$DIR/status.tmp" && chmod 0644 "$DIR/status.tmp" && mv -f "$DIR/status.tmp" "$DIR/status"
  log "$1: $2"
}
not_after() { openssl x509 -noout -enddate -in "$1" | sed 's/^notAfter=//'; }
# Installs a certificate chain and its key as the live pair (key first).
install_live() { # cert key
  mkdir -p "$LIVE"
  if [ -f "$LIVE/fullchain.pem" ] && cmp -s "$1" "$LIVE/fullchain.pem" && cmp -s "$2" "$LIVE/privkey.pem"; then return 0; fi
  cp "$2" "$LIVE/privkey.pem.new" && cp "$1" "$LIVE/fullchain.pem.new" || return 1
  # nginx (group 10002) reads both; nobody else does.
  chmod 0640 "$LIVE/privkey.pem.new" "$LIVE/fullchain.pem.new"
  mv -f "$LIVE/privkey.pem.new" "$LIVE/privkey.pem"
  mv -f "$LIVE/fullchain.pem.new" "$LIVE/fullchain.pem"
  rm -f "$LIVE/placeholder"
  log "installed ${3:-a new certificate for ${NAMES:-the server}} (valid until $(not_after "$LIVE/fullchain.pem"))"
}
# A short-lived self-signed certificate, so nginx can start before the first real one exists.
placeholder() {
  [ -f "$LIVE/fullchain.pem" ] && return 0
  mkdir -p "$LIVE" "$DIR/tmp"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=${MAIN:-localhost}" \
    -keyout "$DIR/tmp/p.key" -out "$DIR/tmp/p.crt" 2>/dev/null
  install_live "$DIR/tmp/p.crt" "$DIR/tmp/p.key" "a self-signed placeholder until the first real certificate"
  : > "$LIVE/placeholder"
  rm -f "$DIR/tmp/p.key" "$DIR/tmp/p.crt"
}
expires_within_days() { # file days
  ! openssl x509 -noout -checkend "$(( $2 * 86400 ))" -in "$1" >/dev/null 2>&1
}
wanted_names() { echo "$NAMES|$ADDRESSES"; }

http_get() { # url (curl in the Debian image, busybox wget in lego's Alpine image)
  if command -v curl >/dev/null 2>&1; then curl -fsS --max-time 5 "$1" 2>/dev/null
  else wget -q -T 5 -O - "$1" 2>/dev/null; fi
}
# The ACME server checks the challenge through nginx: order only once nginx serves this volume's
# webroot (right after a first deploy nginx starts after this agent).
wait_for_nginx() {
  probe="lm-probe-$(date +%s)-$$"
  mkdir -p "$DIR/webroot/.well-known/acme-challenge"
  echo "$probe" > "$DIR/webroot/.well-known/acme-challenge/$probe"
  got=""
  for _ in $(seq 1 150); do
    got=$(http_get "${LM_NGINX_URL:-http://nginx:8080}/.well-known/acme-challenge/$probe" || true)
    [ "$got" = "$probe" ] && break
    sleep 2
  done
  rm -f "$DIR/webroot/.well-known/acme-challenge/$probe"
  [ "$got" = "$probe" ] || { log "nginx did not serve the ACME challenge folder within 5 minutes"; return 1; }
}

lego_bin() { if command -v lego >/dev/null 2>&1; then echo lego; else echo /lego; fi; }
acme() { # force?
  force=${1:-}
  mkdir -p "$DIR/webroot" "$DIR/acme"
  if [ -n "${LM_ACME_CA_PEM:-}" ]; then
    printf '%s\n' "$LM_ACME_CA_PEM" > "$DIR/acme-ca.pem"
    export LEGO_CA_CERTIFICATES="$DIR/acme-ca.pem"
  fi
  set -- --path "$DIR/acme" --server "$LM_ACME_SERVER" --accept-tos --key-type ec256 \
    --http --http.webroot "$DIR/webroot"
  [ -n "${LM_ACME_EMAIL:-}" ] && set -- "$@" --email "$LM_ACME_EMAIL"
  for n in $NAMES; do set -- "$@" --domains "$n"; done
  crt="$DIR/acme/certificates/$MAIN.crt"
  key="$DIR/acme/certificates/$MAIN.key"
  lego=$(lego_bin)
  if [ -f "$crt" ] && [ "$(cat "$DIR/acme/names" 2>/dev/null)" = "$(wanted_names)" ]; then
    if [ -z "$force" ] && ! expires_within_days "$crt" "$RENEW_DAYS"; then
      install_live "$crt" "$key"
      status ok "acme certificate for $NAMES valid until $(not_after "$crt")"
      return 0
    fi
    days=$RENEW_DAYS; [ -n "$force" ] && days=100000
    # No random delay (lego adds up to 8 minutes when not on a terminal): this loop already spreads checks.
    # (lego wants its --path even for --help.)
    sleep_flag=""; "$lego" "$@" renew --help 2>&1 | grep -q -- --no-random-sleep && sleep_flag=--no-random-sleep
    wait_for_nginx || return 1
    log "renewing the certificate for $NAMES at $LM_ACME_SERVER"
    # shellcheck disable=SC2086
    "$lego" "$@" renew --days "$days" $sleep_flag || return 1
  else
    wait_for_nginx || return 1
    log "ordering a certificate for $NAMES from $LM_ACME_SERVER"
    "$lego" "$@" run || return 1
    wanted_names > "$DIR/acme/names"
  fi
  install_live "$crt" "$key" || return 1
  status ok "acme certificate for $NAMES valid until $(not_after "$crt")"
}

# The school CA may sign only for this server's names and addresses (a critical name constraint):
# a device that trusts it trusts nothing else it could sign, should its key ever leak. Without
# addresses, every IP address is excluded (an unconstrained name type would be open).
ca_constraints() {
  c=""
  for n in $NAMES; do c="${c:+$c,}permitted;DNS:$n"; done
  for a in $ADDRESSES; do
    case $a in
      *:*) c="${c:+$c,}permitted;IP:$a/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" ;;
      *) c="${c:+$c,}permitted;IP:$a/255.255.255.255" ;;
    esac
  done
  [ -n "$ADDRESSES" ] || c="${c:+$c,}excluded;IP:0.0.0.0/0.0.0.0,excluded;IP:::/::"
  echo "critical,$c"
}
ca_fingerprint() { openssl x509 -noout -fingerprint -sha256 -in "$1" | sed 's/^.*=//'; }

internal() { # force?
  force=${1:-}
  ca="$DIR/ca"
  mkdir -p "$ca" "$DIR/public" "$DIR/tmp"
  chmod 0700 "$ca"
  # The CA certificate and its fingerprint are for everyone: the smoke test (the app's user) reads
  # the fingerprint for the stack output; with the umask above the folder would be nginx's alone.
  chmod 0755 "$DIR/public"
  if [ ! -f "$ca/ca.key" ]; then
    log "creating the school CA for $NAMES $ADDRESSES (name-constrained; its key stays in this volume)"
    (umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ca/ca.key.new") || return 1
    openssl req -x509 -new -key "$ca/ca.key.new" -sha256 -days 3650 -subj "/O=Lernmanager/CN=Schul-CA $MAIN" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "nameConstraints=$(ca_constraints)" \
      -addext "subjectKeyIdentifier=hash" -out "$ca/ca.crt" || return 1
    mv -f "$ca/ca.key.new" "$ca/ca.key"
    wanted_names > "$ca/names"
  fi
  if ! openssl x509 -noout -ext nameConstraints -in "$ca/ca.crt" 2>/dev/null | grep -q 'Permitted'; then
    log "WARNING: the school CA is not name-constrained: it could sign for any website. Fix: docker exec <stack>-tls lm-tls new-ca, then install the new CA on every device (docs/security.md)"
  elif [ "$(cat "$ca/names" 2>/dev/null)" != "$(wanted_names)" ]; then
    # A constrained CA cannot vouch for names it was not made for: devices would refuse them.
    log "the school CA was made for $(cat "$ca/names" 2>/dev/null | tr '|' ' '), not for $NAMES $ADDRESSES"
    return 2
  fi
  cp "$ca/ca.crt" "$DIR/public/schul-ca.crt.new" && mv -f "$DIR/public/schul-ca.crt.new" "$DIR/public/schul-ca.crt"
  ca_fingerprint "$ca/ca.crt" > "$DIR/public/schul-ca.sha256.new" && chmod 0644 "$DIR/public/schul-ca.sha256.new" \
    && mv -f "$DIR/public/schul-ca.sha256.new" "$DIR/public/schul-ca.sha256"
  crt="$DIR/internal/server.crt"
  if [ -z "$force" ] && [ -f "$crt" ] && [ "$(cat "$DIR/internal/names" 2>/dev/null)" = "$(wanted_names)" ] \
     && ! expires_within_days "$crt" "$RENEW_DAYS"; then
    install_live "$crt" "$DIR/internal/server.key"
    status ok "internal certificate for $NAMES $ADDRESSES valid until $(not_after "$crt")"
    return 0
  fi
  mkdir -p "$DIR/internal"
  san=""
  for n in $NAMES; do san="${san:+$san,}DNS:$n"; done
  for a in $ADDRESSES; do san="${san:+$san,}IP:$a"; done
  cat > "$DIR/tmp/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EXT
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DIR/tmp/server.key" || return 1
  openssl req -new -key "$DIR/tmp/server.key" -subj "/CN=$MAIN" -out "$DIR/tmp/server.csr" || return 1
  # 90 days (browsers refuse more than 398), renewed RENEW_DAYS before the end.
  openssl x509 -req -in "$DIR/tmp/server.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAserial "$ca/serial" -CAcreateserial \
    -days 90 -sha256 -extfile "$DIR/tmp/ext.cnf" -out "$DIR/tmp/server.crt" || return 1
  mv -f "$DIR/tmp/server.key" "$DIR/internal/server.key"
  mv -f "$DIR/tmp/server.crt" "$crt"
  wanted_names > "$DIR/internal/names"
  rm -f "$DIR/tmp/server.csr" "$DIR/tmp/ext.cnf"
  install_live "$crt" "$DIR/internal/server.key"
  status ok "internal certificate for $NAMES $ADDRESSES valid until $(not_after "$crt")"
}

files() {
  mkdir -p "$DIR/tmp"
  printf '%s\n' "${LM_TLS_CERT_PEM:?}" > "$DIR/tmp/given.crt"
  (umask 077; printf '%s\n' "${LM_TLS_KEY_PEM:?}" > "$DIR/tmp/given.key")
  chmod 0640 "$DIR/tmp/given.key"
  install_live "$DIR/tmp/given.crt" "$DIR/tmp/given.key"
  rm -f "$DIR/tmp/given.crt" "$DIR/tmp/given.key"
  if expires_within_days "$LIVE/fullchain.pem" 14; then
    status failed "the school's certificate expires on $(not_after "$LIVE/fullchain.pem"): set a renewed tlsCertificate and tlsKey"
  else
    status ok "the school's certificate, valid until $(not_after "$LIVE/fullchain.pem")"
  fi
}

check() { # force?
  case "$MODE" in
    acme) acme "${1:-}" || { status failed "ACME order or renewal for $NAMES at $LM_ACME_SERVER failed (see the log above): is port 80 of $MAIN reachable from the internet and does its DNS point here?"; return 1; } ;;
    internal)
      rc=0; internal "${1:-}" || rc=$?
      if [ "$rc" = 2 ]; then
        status failed "the school CA does not cover $NAMES $ADDRESSES (name-constrained). Fix: docker exec <stack>-tls lm-tls new-ca, then install the new CA on every device (docs/security.md)"; return 1
      elif [ "$rc" != 0 ]; then
        status failed "could not create the internal certificate"; return 1
      fi ;;
    files) files ;;
    *) status failed "unknown mode $MODE"; return 1 ;;
  esac
}

case "${1:-run}" in
  run)
    placeholder
    [ -f "$DIR/status" ] || status pending "no certificate checked yet"
    # After a failure, try again in 15 minutes (then the normal interval): at most 4 failed
    # validations an hour, below Let's Encrypt's limit of 5 per name and hour.
    while :; do
      if check; then wait_for=$CHECK_SECONDS; else wait_for=900; fi
      [ "$wait_for" -gt "$CHECK_SECONDS" ] && wait_for=$CHECK_SECONDS
      # Short sleeps, so a renew-now request (a flag file) is picked up within seconds.
      waited=0
      while [ "$waited" -lt "$wait_for" ]; do
        if [ -f "$DIR/renew-now" ]; then check force || true; rm -f "$DIR/renew-now"; fi
        sleep 2; waited=$((waited + 2))
      done
    done ;;
  renew-now)
    : > "$DIR/renew-now"
    for _ in $(seq 1 90); do [ -f "$DIR/renew-now" ] || break; sleep 1; done
    cat "$DIR/status" ;;
  new-ca)
    [ "$MODE" = internal ] || { echo "lm-tls new-ca: only with tls internal" >&2; exit 2; }
    old="$DIR/ca-replaced-$(date -u +%Y%m%dT%H%M%SZ)"
    [ -d "$DIR/ca" ] && mv "$DIR/ca" "$old" && log "the old school CA is kept in $old (remove it once every device has the new one)"
    : > "$DIR/renew-now"
    for _ in $(seq 1 90); do [ -f "$DIR/renew-now" ] || break; sleep 1; done
    cat "$DIR/status"
    echo "SHA-256 of the new school CA: $(cat "$DIR/public/schul-ca.sha256" 2>/dev/null)" ;;
  health) grep -q '^ok ' "$DIR/status" 2>/dev/null || { cat "$DIR/status" 2>/dev/null; exit 1; } ;;
  status) cat "$DIR/status" ;;
  *) echo "usage: lm-tls run|renew-now|new-ca|health|status" >&2; exit 2 ;;
esac
