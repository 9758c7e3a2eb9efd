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

/** The WebServer's two nginx.conf forms from the stack's config (the image picks one by its nginx version). */
export function nginxConfArgs(config: StackConfig): { nginxConf: string; nginxConfPerRequest: string } {
    const confs = renderNginxConfs(nginxSettingsFrom(config));
    return { nginxConf: confs.pooled, nginxConfPerRequest: confs["per-request"] };
}
