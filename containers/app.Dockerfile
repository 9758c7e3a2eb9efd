# The app image: the app source on top of the runtime image. Build context = the app's folder.
# Layers are ordered so a code-only change reuses the dependency layer.
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE} AS source
# Every folder, target and name comes from the stack's config (components/appImage.ts passes them
# all): no defaults here, so a value has one source.
ARG DATA_PATH
ARG UPLOADS_PATH
ARG EXTRA_PATHS
COPY . /src
# Local state and secrets never enter the image (only this stage sees them): data, uploads, the
# app's further persistent and scratch folders (EXTRA_PATHS, space-separated) and caches are
# volumes or tmpfs; a checkout's .env (secrets), its instance/ folder (Flask's: local config,
# uploads, reports), stray SQLite files and version control stay out too.
RUN for p in ${EXTRA_PATHS}; do rm -rf "/src/$p"; done \
    && rm -rf "/src/${DATA_PATH}" "/src/${UPLOADS_PATH}" /src/.git /src/.venv /src/venv /src/instance \
    && find /src \( -name __pycache__ -o -name .git -o -name .hg -o -name .svn \) -prune -exec rm -rf {} + \
    && find /src \( -name '.env' -o -name '.env.*' -o -name '*.db' -o -name '*.db-wal' -o -name '*.db-shm' \
         -o -name '*.db-journal' -o -name '*.sqlite' -o -name '*.sqlite3' \) -exec rm -rf {} + \
    && touch /src/requirements.txt

FROM ${RUNTIME_IMAGE}
COPY --from=source /src/requirements.txt /app/requirements.txt
RUN python3 -OO /opt/lernmanager/require.py /app/requirements.txt
COPY --from=source /src /app
ARG DATA_PATH
ARG UPLOADS_PATH
ARG STATIC_PATH
ARG EXTRA_PATHS
# The app's own code compiled for -OO (a syntax error fails the build), and the folders that
# become volumes created for the non-root user so fresh volumes inherit that owner.
RUN python3 -OO /opt/lernmanager/precompile.py --strict /app \
    && mkdir -p "/app/${DATA_PATH}" "/app/${UPLOADS_PATH}" /srv/static /var/cache/lernmanager \
    && chown 10001:10001 "/app/${DATA_PATH}" "/app/${UPLOADS_PATH}" /srv/static /var/cache/lernmanager \
    && for p in ${EXTRA_PATHS}; do mkdir -p "/app/$p" && chown 10001:10001 "/app/$p"; done
ARG WSGI_APP
ARG INIT_HOOK
ARG DATABASE_FILE
ARG APP_VERSION
ARG GUNICORN_CONF
RUN for v in "DATA_PATH=${DATA_PATH}" "UPLOADS_PATH=${UPLOADS_PATH}" "STATIC_PATH=${STATIC_PATH}" "WSGI_APP=${WSGI_APP}" \
        "DATABASE_FILE=${DATABASE_FILE}" "APP_VERSION=${APP_VERSION}" "GUNICORN_CONF=${GUNICORN_CONF}"; do \
      [ -n "${v#*=}" ] || { echo "build argument ${v%%=*} is not set (components/appImage.ts passes it)" >&2; exit 1; }; \
    done \
    && echo "${GUNICORN_CONF}" | base64 -d > /opt/lernmanager/gunicorn.conf.py \
    && python3 -OO -c "import ast,sys; ast.parse(open('/opt/lernmanager/gunicorn.conf.py').read())"
ENV LM_APP_DIR=/app \
    LM_WSGI_APP=${WSGI_APP} \
    LM_INIT_HOOK=${INIT_HOOK} \
    LM_DATA_PATH=${DATA_PATH} \
    LM_UPLOADS_PATH=${UPLOADS_PATH} \
    LM_STATIC_PATH=${STATIC_PATH} \
    LM_DATABASE_FILE=${DATABASE_FILE} \
    LM_APP_VERSION=${APP_VERSION} \
    CACHE_DIR=/var/cache/lernmanager
USER 10001:10001
WORKDIR /app
EXPOSE 8000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/lernmanager/entrypoint.sh"]
