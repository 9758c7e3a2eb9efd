import * as fs from "fs";
import * as path from "path";
import { PROJECT_DIR } from "../../core/paths";

/**
 * The offline base images of the tests and benchmarks, read from scripts/base-images.conf (the
 * file scripts/test-env.sh builds them from), so a tag is written in one place only.
 */
function readConf(): Record<string, string> {
    const text = fs.readFileSync(path.join(PROJECT_DIR, "scripts", "base-images.conf"), "utf8");
    const out: Record<string, string> = {};
    for (const line of text.split("\n")) {
        const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
        if (m) out[m[1]] = m[2];
    }
    return out;
}

const conf = readConf();
const need = (key: string): string => {
    const v = conf[key];
    if (!v) throw new Error(`scripts/base-images.conf has no ${key}`);
    return v;
};

export const TEST_IMAGES = {
    python: need("LM_TEST_PYTHON_IMAGE"),
    nginx: need("LM_TEST_NGINX_IMAGE"),
    /** lego + openssl (the TLS agent's base in tests) and pebble (the ACME test server). */
    tls: need("LM_TEST_TLS_IMAGE"),
} as const;

/** Images only the benchmark's A/B runs use (`bash scripts/test-env.sh bench-images`). */
export const BENCH_IMAGES = {
    /** Debian bookworm's nginx 1.22 (bench/tunes/nginx-1.22.json). */
    nginxOld: need("LM_BENCH_NGINX_OLD_IMAGE"),
} as const;
