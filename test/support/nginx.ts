import type { NginxSettings } from "../../render/nginx";

/** The nginx settings the renderer tests start from (the demo app's, login limit 30/min). */
export const TEST_NGINX_SETTINGS: NginxSettings = {
    staticUrl: "/static/",
    downloadsPrefix: "/protected-files/",
    uploadLimitMb: 64,
    loginPath: "/login",
    loginRatePerMinute: 30,
};
