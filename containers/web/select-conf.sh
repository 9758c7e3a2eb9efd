#!/bin/sh
# Picks the nginx.conf for this image's nginx at build time (containers/web/Dockerfile):
# nginx >= 1.27.3 can keep a keep-alive pool to an upstream it re-resolves at run time, so it gets
# the first conf (the pooled form, unless the stack's appQueue is shared: then both are the
# per-request form); older nginx gets the per-request form. Usage: select-conf.sh POOLED PER_REQUEST
# TARGET (NGINX_VERSION overrides `nginx -v`, for the tests). Prints the form of the conf it
# installed, read from the conf itself.
set -eu
pooled=$1 per_request=$2 target=$3
version=${NGINX_VERSION:-$(nginx -v 2>&1)}
version=$(printf '%s\n' "$version" | sed -n 's|.*nginx/\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*|\1|p')
[ -n "$version" ] || { echo "select-conf: cannot read the nginx version" >&2; exit 1; }
# sort -V -C: true when the two lines are already in version order, i.e. 1.27.3 <= version.
if printf '1.27.3\n%s\n' "$version" | sort -V -C; then
    cp "$pooled" "$target"
else
    cp "$per_request" "$target"
fi
# Only the pooled form has an upstream block (render/upstream.ts).
if grep -q '^ *upstream lm_app {' "$target"; then echo pooled; else echo per-request; fi
