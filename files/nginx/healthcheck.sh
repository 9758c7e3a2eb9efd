#!/bin/bash
# Health check of the nginx container (bash only: no curl in nginx images):
# nginx answers its own /nginx-health, and the app answers /healthz through nginx.
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
code=$(status_of /nginx-health)
[ "$code" = 200 ] || { echo "nginx: /nginx-health answered '${code}'"; exit 1; }
code=$(status_of /healthz)
[ "$code" = 200 ] || { echo "app through nginx: /healthz answered '${code}'"; exit 1; }
exit 0
