import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { UpstreamForm } from "../../render/upstream";
import { TEST_IMAGES } from "./baseImages";

/**
 * A real `nginx -t` of a generated nginx.conf, with the nginx the form is made for: the per-request
 * form with this machine's Debian nginx (1.22, older than the pool's `resolve`), the pooled form with
 * the test image's nginx (1.30, what the prod nginx image's form needs), run in a throwaway container
 * on the Docker engine (CI always has one; without one the check fails and says so). `on: "image"`
 * checks the per-request form with the image's nginx too: the form every nginx runs with the default
 * appQueue (shared).
 */
export interface NginxTestResult {
    readonly nginx: string;
    readonly version: string;
    readonly status: number | null;
    readonly stderr: string;
}

/** Files the config names besides its own temp folders, e.g. `{ "/srv/tls/live/fullchain.pem": pem }`. */
export function nginxTest(
    conf: string,
    form: UpstreamForm,
    files: Record<string, string> = {},
    on: "machine" | "image" = form === "per-request" ? "machine" : "image",
): NginxTestResult {
    if (form === "pooled" && on === "machine") throw new Error("the pooled form needs the image's nginx (>= 1.27.3)");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-nginx-"));
    fs.chmodSync(dir, 0o755);
    // Same text, with temp paths and the spool in the scratch folder, the log there too (no /dev/stdout
    // under jest), and what the container's start.sh writes: the stack's own addresses for /healthz.
    let text = conf
        .replace(/\/tmp\/nginx/g, `${dir}/nginx`)
        .replace(/\/srv\/nginx-spool/g, dir)
        .replace("/dev/stdout", `${dir}/access.log`);
    fs.writeFileSync(path.join(dir, "nginx-internal.conf"), "allow 127.0.0.1;\nallow 172.18.0.0/16;\n", {
        mode: 0o644,
    });
    // And the grading token's header line (render/grading.ts GRADING_AUTH_FILE), as start.sh writes it.
    fs.writeFileSync(path.join(dir, "nginx-grading-auth.conf"), 'proxy_set_header Authorization "Bearer t0k-en";\n', {
        mode: 0o644,
    });
    for (const [i, [target, content]] of Object.entries(files).entries()) {
        const local = path.join(dir, `file-${i}`);
        fs.writeFileSync(local, content, { mode: 0o644 });
        text = text.split(target).join(local);
    }
    const file = path.join(dir, "nginx.conf");
    fs.writeFileSync(file, text, { mode: 0o644 });
    try {
        if (on === "machine") {
            const nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].find((p) => fs.existsSync(p));
            if (!nginx) {
                throw new Error(
                    "nginx is not installed here: run `scripts/test-env.sh up` (installs nginx-light) to check the per-request form for real",
                );
            }
            const version = spawnSync(nginx, ["-v"], { encoding: "utf8" }).stderr.trim();
            const r = spawnSync(nginx, ["-t", "-e", "stderr", "-c", file], { encoding: "utf8" });
            return { nginx, version, status: r.status, stderr: r.stderr };
        }
        const image = TEST_IMAGES.nginx;
        const docker = (args: string[]) =>
            spawnSync("docker", ["run", "--rm", "--network", "none", "-v", `${dir}:${dir}`, image, ...args], {
                encoding: "utf8",
                timeout: 60000,
            });
        const v = docker(["nginx", "-v"]);
        if (v.status !== 0) {
            throw new Error(
                `this check needs the test image's nginx (${image}) on a Docker engine, and \`docker run ${image}\` failed: ${v.stderr || v.error}. Start Docker and build the images with \`scripts/test-env.sh up\``,
            );
        }
        const r = docker(["nginx", "-t", "-e", "stderr", "-c", file]);
        return { nginx: `${image}: nginx`, version: v.stderr.trim(), status: r.status, stderr: r.stderr };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Whether `nginx -v`'s line ("nginx version: nginx/1.30.0") names `min` ("1.27.3") or newer. */
export function nginxAtLeast(line: string, min: string): boolean {
    const m = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(line);
    if (!m) throw new Error(`no nginx version in ${JSON.stringify(line)}`);
    const have = m.slice(1).map(Number);
    const want = min.split(".").map(Number);
    for (let k = 0; k < 3; k++) if (have[k] !== want[k]) return have[k] > want[k];
    return true;
}
