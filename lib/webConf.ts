import { StackConfig } from "./config";
import { renderNginxConfs } from "./nginxConf";
import { nginxTlsFrom } from "./nginxTls";

/** The WebServer's two nginx.conf forms from the stack's config (the image picks one by its nginx version). */
export function nginxConfArgs(config: StackConfig): { nginxConf: string; nginxConfPerRequest: string } {
    const confs = renderNginxConfs({
        staticUrl: config.staticUrl,
        downloadsPrefix: config.downloadsPrefix,
        uploadLimitMb: config.uploadLimitMb,
        loginPath: config.loginPath,
        loginRatePerMinute: config.loginRatePerMinute,
        tls: nginxTlsFrom(config.tls),
        trustedProxies: config.trustedProxies,
    });
    return { nginxConf: confs.pooled, nginxConfPerRequest: confs["per-request"] };
}
