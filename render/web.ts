import { StackConfig } from "../config/load";
import { NginxSettings, renderNginxConfs } from "./nginx";
import { nginxTlsFrom } from "./tls";

/** nginx.conf's settings from the stack's config (the rest are the renderer's defaults). */
export function nginxSettingsFrom(config: StackConfig): NginxSettings {
    return {
        staticUrl: config.staticUrl,
        downloadsPrefix: config.downloadsPrefix,
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
