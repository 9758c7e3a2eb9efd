#!/bin/bash
# Starts nginx. With TLS on (LM_TLS_CERT set), first waits up to 60 s for the certificate the TLS
# agent writes to the TLS volume, and notes its checksum (healthcheck.sh reloads nginx when it changes).
set -eu
# The stack's own addresses, the only ones /healthz answers (render/nginx.ts INTERNAL_ALLOW_FILE):
# loopback and the subnet of each network this container is on (its routes without a gateway).
hex_ip() { printf '%d.%d.%d.%d' "0x${1:6:2}" "0x${1:4:2}" "0x${1:2:2}" "0x${1:0:2}"; }
mask_bits() { local m=$((0x$1)) b=0; while [ "$m" -ne 0 ]; do b=$((b + (m & 1))); m=$((m >> 1)); done; echo "$b"; }
{
  echo "allow 127.0.0.1;"
  while read -r iface dest gw _ _ _ _ mask _; do
    [ "$iface" = Iface ] || [ "$dest" = 00000000 ] || [ "$gw" != 00000000 ] && continue
    echo "allow $(hex_ip "$dest")/$(mask_bits "$mask");"
  done < /proc/net/route
} > /tmp/nginx-internal.conf
# The grading service's token (render/grading.ts GRADING_AUTH_FILE), from the environment into a
# file only nginx's user reads (tmpfs): never in the image, nginx.conf or a log line. Then out of the
# environment, so nginx's processes do not carry it. Without a token the file is empty (no /grading/).
token=${LM_GRADING_TOKEN:-}
unset LM_GRADING_TOKEN
case "$token" in
  *[!A-Za-z0-9._~+/=-]*)
    echo "nginx: LM_GRADING_TOKEN is not a bearer token (letters, digits, - . _ ~ + / =). Fix: pulumi config set --secret gradingServiceToken <token>" >&2
    exit 1 ;;
esac
(
  umask 077
  if [ -n "$token" ]; then
    printf 'proxy_set_header Authorization "Bearer %s";\n' "$token"
  fi > /tmp/nginx-grading-auth.conf
)
if [ -n "${LM_TLS_CERT:-}" ]; then
  for _ in $(seq 1 120); do
    [ -r "$LM_TLS_CERT" ] && [ -r "$LM_TLS_KEY" ] && break
    sleep 0.5
  done
  if ! [ -r "$LM_TLS_CERT" ]; then
    echo "nginx: no certificate at $LM_TLS_CERT after 60 s. Fix: check the TLS agent (docker logs <stack>-tls)" >&2
    exit 1
  fi
  cksum < "$LM_TLS_CERT" > /tmp/lm-cert.sum
fi
exec nginx -e stderr -c /etc/nginx/lernmanager.conf -g "daemon off;"
