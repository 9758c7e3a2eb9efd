#!/bin/bash
# Starts nginx. With TLS on (LM_TLS_CERT set), first waits up to 60 s for the certificate the TLS
# agent writes to the TLS volume, and notes its checksum (healthcheck.sh reloads nginx when it changes).
set -eu
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
