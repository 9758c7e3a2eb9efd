/**
 * Fixed paths, ports and ids inside the containers. The Dockerfiles and scripts in files/ use the
 * same values; a unit test checks that they agree.
 */
export const LAYOUT = {
    /** Where the app source lives in the app image. */
    appDir: "/app",
    /** The stack's own Python helpers (entry script, WSGI wrapper, health check). */
    runtimeDir: "/opt/lernmanager",
    /** gunicorn's port on the private network (never published). */
    appPort: 8000,
    /** Network alias of the app container(s); nginx resolves it at request time. */
    appAlias: "app",
    /** nginx listens here inside its container (unprivileged); the host port is mapped to it. */
    nginxPort: 8080,
    /** nginx's HTTPS port inside its container (tls on). */
    nginxTlsPort: 8443,
    /** TLS volume: certificates, ACME account and challenges, the school CA (TLS agent rw, nginx ro). */
    tlsDir: "/srv/tls",
    /** Static volume: filled by the app's entry script, served read-only by nginx. */
    staticDir: "/srv/static",
    /** Uploads volume as nginx sees it (read-only), for X-Accel-Redirect downloads. */
    nginxUploadsDir: "/srv/uploads",
    /**
     * nginx's spool volume: request bodies and large app answers wait here on disk, not in the
     * memory-backed /tmp (the root filesystem is read-only).
     */
    nginxSpoolDir: "/srv/nginx-spool",
    /** Cache volume in the app container (CACHE_DIR). */
    cacheDir: "/var/cache/lernmanager",
    /** Non-root user ids. */
    appUid: 10001,
    nginxUid: 10002,
    tlsUid: 10003,
    /** Docker's embedded DNS server on user-defined networks. */
    dockerDns: "127.0.0.11",
} as const;
