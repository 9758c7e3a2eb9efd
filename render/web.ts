import type { AppQueue } from "../config/app";
import { StackConfig } from "../config/load";
import { APP_DOWNLOADS_PREFIX } from "../config/web";
import { NginxSettings, renderNginxConfs } from "./nginx";
import { nginxTlsFrom } from "./tls";

/** nginx.conf's settings from the stack's config (the rest are the renderer's defaults). */
export function nginxSettingsFrom(config: StackConfig): NginxSettings {
    return {
        staticUrl: config.staticUrl,
        // The app's own prefix: it answers X-Accel-Redirect with it whatever the stack says.
        downloadsPrefix: APP_DOWNLOADS_PREFIX,
        uploadLimitMb: config.uploadLimitMb,
        bodyLimitKb: config.bodyLimitKb,
        uploadPaths: config.uploadPaths,
        connectionsPerAddress: config.connectionsPerAddress,
        sessionCookie: config.sessionCookie,
        csp: { policy: config.contentSecurityPolicy, enforce: config.cspEnforce },
        loginPath: config.loginPath,
        loginRatePerMinute: config.loginRatePerMinute,
        tls: nginxTlsFrom(config.tls),
        trustedProxies: config.trustedProxies,
        publicPort: config.port,
        grading: config.gradingServiceUrl
            ? {
                  url: config.gradingServiceUrl,
                  uploadLimitMb: config.gradingUploadLimitMb,
                  timeoutSeconds: config.gradingTimeoutSeconds,
                  callbackFrom: config.gradingCallbackFrom,
              }
            : undefined,
    };
}

/**
 * The WebServer's two nginx.conf texts (the image picks one by its nginx version: the first for
 * nginx >= 1.27.3, the second for older ones). With one queue for all workers (`appQueue: shared`)
 * both are the per-request form: a pooled connection would stay with the worker that accepted it,
 * and that worker accepts only while a thread of it is free (render/gunicorn.ts `fairAccept`).
 */
export function nginxConfForms(
    settings: NginxSettings,
    appQueue: AppQueue,
): { nginxConf: string; nginxConfPerRequest: string } {
    const confs = renderNginxConfs(settings);
    const perRequest = confs["per-request"];
    return { nginxConf: appQueue === "shared" ? perRequest : confs.pooled, nginxConfPerRequest: perRequest };
}

/** The WebServer's two nginx.conf texts from the stack's config. */
export function nginxConfArgs(config: StackConfig): { nginxConf: string; nginxConfPerRequest: string } {
    return nginxConfForms(nginxSettingsFrom(config), config.appQueue);
}
