import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { StackConfig } from "../config/load";
import { LAYOUT } from "../core/layout";

/**
 * The app's environment besides SECRET_KEY: production mode (no upload limit or download prefix: the
 * app reads neither, config/web.ts APP_MAX_BODY_MB), TMPDIR on the first scratch folder, the app's settings and secret settings from config, appEnv.
 * It holds secrets: whoever passes it on wraps it in `pulumi.secret`.
 */
export function appEnvironment(config: StackConfig): Record<string, string> {
    return {
        FLASK_ENV: "production",
        ...(config.scratchPaths.length ? { TMPDIR: `${LAYOUT.appDir}/${config.scratchPaths[0]}` } : {}),
        // The entry script refuses to start while the data folder lacks the marker (dataHostPath).
        ...(config.dataHostPath ? { LM_DATA_HOST_PATH: config.dataHostPath } : {}),
        // Behind HTTPS (ours or a trusted proxy's) the app marks its cookies Secure.
        ...(config.tls.mode !== "off" || config.trustedProxies.length > 0 ? { FORCE_HTTPS: "true" } : {}),
        ...config.appSettings,
        // The app asks the grading service itself too (its health, a job's status, the results' media).
        ...(config.gradingServiceUrl ? { GRADING_SERVICE_URL: config.gradingServiceUrl } : {}),
        ...config.appSecrets,
        ...config.appEnv,
    };
}

/**
 * A static file the smoke test fetches through nginx: the first stylesheet in the app's static
 * folder (else its first file), as a URL; undefined when the folder is empty.
 */
export function smokeStaticFile(config: StackConfig): string | undefined {
    const root = path.join(config.appSource, config.staticPath);
    if (!fs.existsSync(root)) return undefined;
    const files: string[] = [];
    const walk = (rel: string) => {
        for (const entry of fs
            .readdirSync(path.join(root, rel), { withFileTypes: true })
            .sort((a, b) => (a.name < b.name ? -1 : 1))) {
            if (entry.name.startsWith(".")) continue;
            const child = rel ? `${rel}/${entry.name}` : entry.name;
            if (entry.isDirectory()) walk(child);
            else if (entry.isFile()) files.push(child);
        }
    };
    walk("");
    const pick = files.find((f) => f.endsWith(".css")) ?? files[0];
    return pick ? `${config.staticUrl}${pick}` : undefined;
}

/**
 * Where the app answers, as someone else opens it: the published address, or (on all interfaces)
 * the Docker host's name from docker:host, or this machine's host name for the local engine.
 */
export function publishedUrl(config: StackConfig, localName = os.hostname()): string {
    const remote = config.dockerHost ? /^(?:ssh|tcp):\/\/(?:[^@/]*@)?([^:/]+)/.exec(config.dockerHost)?.[1] : undefined;
    const host = config.bindAddress === "0.0.0.0" ? (remote ?? localName) : config.bindAddress;
    if (config.tls.mode !== "off") {
        const name = config.tls.domain || host;
        return config.tls.httpsPort === 443 ? `https://${name}/` : `https://${name}:${config.tls.httpsPort}/`;
    }
    return config.port === 80 ? `http://${host}/` : `http://${host}:${config.port}/`;
}
