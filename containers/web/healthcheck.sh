#!/bin/bash
# Health check of the nginx container: nginx answers its own /nginx-health, and the app answers
# /healthz through nginx (over HTTPS when TLS is on: curl; plain HTTP in bash, no curl needed).
# With TLS on it also loads a renewed certificate: when the TLS agent has replaced it, a graceful
# reload (old workers finish their requests; no connection is refused).
set -u
status_of() {
    local line
    exec 3<>"/dev/tcp/127.0.0.1/8080" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: localhost\r\nUser-Agent: lernmanager-healthcheck\r\n\r\n' "$1" >&3
    IFS= read -r -t 5 line <&3 || line=""
    exec 3<&- 3>&-
    line=${line#HTTP/* }
    echo "${line%% *}"
}
https_status_of() {
    curl -sk -o /dev/null -w '%{http_code}' --max-time 5 -A lernmanager-healthcheck "https://127.0.0.1:${LM_TLS_PORT}$1" || true
}
code=$(status_of /nginx-health)
[ "$code" = 200 ] || { echo "nginx: /nginx-health answered '${code}'"; exit 1; }
if [ -n "${LM_TLS_PORT:-}" ]; then
    sum=$(cksum < "$LM_TLS_CERT")
    if [ "$sum" != "$(cat /tmp/lm-cert.sum 2>/dev/null)" ]; then
        if nginx -q -e stderr -c /etc/nginx/lernmanager.conf -s reload; then
            echo "$sum" > /tmp/lm-cert.sum
            # To the container's log (PID 1 is docker-init, running as this user).
            echo "nginx: the certificate changed; reloaded gracefully" > /proc/1/fd/1 2>/dev/null || true
        else
            echo "nginx: the certificate changed but the reload failed"; exit 1
        fi
    fi
    code=$(https_status_of /nginx-health)
    [ "$code" = 200 ] || { echo "nginx over HTTPS: /nginx-health answered '${code}'"; exit 1; }
    code=$(https_status_of /healthz)
    [ "$code" = 200 ] || { echo "app through nginx over HTTPS: /healthz answered '${code}'"; exit 1; }
    exit 0
fi
code=$(status_of /healthz)
[ "$code" = 200 ] || { echo "app through nginx: /healthz answered '${code}'"; exit 1; }
exit 0
