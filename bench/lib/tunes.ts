/**
 * Tuning experiments (`--tune bench/tunes/<name>.json`): the B side of an A/B is the program as
 * declared with typed renderer options (render/nginx.ts, render/gunicorn.ts) and Pulumi config
 * changed. The confs are rendered again by the renderers themselves, never edited as text; before a
 * declared conf is replaced, its re-rendering without the tune must equal it byte for byte, so the
 * bench cannot drift from what the program declares.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import { loadConfig } from "../../config/load";
import { GunicornSettings, gunicornSettingsFrom, renderGunicornConf } from "../../render/gunicorn";
import { NginxSettings, renderNginxConf } from "../../render/nginx";
import type { UpstreamForm } from "../../render/upstream";
import { PROJECT_DIR } from "../../core/paths";
import { nginxConfForms, nginxSettingsFrom } from "../../render/web";
import type { AppQueue } from "../../config/app";
import type { ProgramRun, Registration } from "../../test/support/mocks";

/** nginx.conf options a tune may set, and the upstream form both confs are rendered in. */
export interface NginxTune extends Pick<
    NginxSettings,
    | "gzipLevel"
    | "gzipStatic"
    | "appCompresses"
    | "traceRequests"
    | "accessLogBuffered"
    | "upstreamIdleConnections"
    | "reusePort"
    | "workerProcesses"
> {
    /** Render both confs in this form, whatever the image's nginx version (pooled needs nginx >= 1.27.3). */
    readonly form?: UpstreamForm;
}

/** gunicorn.conf.py options a tune may set (its access log and workers are Pulumi config). */
export type GunicornTune = Pick<GunicornSettings, "preloadApp" | "fairAccept">;

export interface Tune {
    /** What B is, in a sentence (printed with the results). */
    readonly description: string;
    readonly nginx?: NginxTune;
    readonly gunicorn?: GunicornTune;
    /** Extra Pulumi config, e.g. {"lernmanager:workers": "3"} (validated by the program's own loader). */
    readonly config?: Readonly<Record<string, string>>;
}

type Kind = "number" | "boolean" | "form";
const NGINX_OPTIONS: Record<keyof NginxTune, Kind> = {
    gzipLevel: "number",
    gzipStatic: "boolean",
    appCompresses: "boolean",
    traceRequests: "boolean",
    accessLogBuffered: "boolean",
    upstreamIdleConnections: "number",
    reusePort: "boolean",
    workerProcesses: "number",
    form: "form",
};
const GUNICORN_OPTIONS: Record<keyof GunicornTune, Kind> = { preloadApp: "boolean", fairAccept: "boolean" };

function checkOptions(source: string, part: string, value: unknown, allowed: Record<string, Kind>): void {
    if (value === undefined) return;
    if (!value || typeof value !== "object" || Array.isArray(value)) {
        throw new Error(`${source}: "${part}" must be an object of options (${Object.keys(allowed).join(", ")})`);
    }
    for (const [key, v] of Object.entries(value)) {
        const kind = allowed[key];
        if (!kind)
            throw new Error(`${source}: ${part}.${key} is not an option; known: ${Object.keys(allowed).join(", ")}`);
        const ok =
            kind === "form"
                ? v === "pooled" || v === "per-request"
                : kind === "number"
                  ? Number.isInteger(v)
                  : typeof v === kind;
        if (!ok)
            throw new Error(
                `${source}: ${part}.${key} must be ${kind === "form" ? '"pooled" or "per-request"' : `a ${kind}`}`,
            );
    }
}

/** A tune from its JSON, checked: unknown parts or options, or values of the wrong type, throw. */
export function parseTune(json: unknown, source: string): Tune {
    if (!json || typeof json !== "object" || Array.isArray(json)) throw new Error(`${source}: a tune is a JSON object`);
    const t = json as Record<string, unknown>;
    const parts = ["description", "nginx", "gunicorn", "config"];
    for (const key of Object.keys(t)) {
        if (!parts.includes(key))
            throw new Error(`${source}: "${key}" is not part of a tune; known: ${parts.join(", ")}`);
    }
    if (typeof t.description !== "string" || !t.description) throw new Error(`${source}: "description" is required`);
    checkOptions(source, "nginx", t.nginx, NGINX_OPTIONS);
    checkOptions(source, "gunicorn", t.gunicorn, GUNICORN_OPTIONS);
    if (t.config !== undefined) {
        const c = t.config as Record<string, unknown>;
        if (!c || typeof c !== "object" || Object.values(c).some((v) => typeof v !== "string")) {
            throw new Error(`${source}: "config" maps Pulumi keys to strings, e.g. {"lernmanager:workers": "2"}`);
        }
    }
    if (!t.nginx && !t.gunicorn && !t.config) throw new Error(`${source}: the tune changes nothing`);
    return t as unknown as Tune;
}

export function loadTune(file: string): Tune {
    return parseTune(JSON.parse(fs.readFileSync(file, "utf8")), file);
}

/** The nginx image's two conf arguments as render/web.ts gives them for `appQueue`, with the tune's options. */
export function nginxConfArgsTuned(
    settings: NginxSettings,
    appQueue: AppQueue,
    tune: NginxTune = {},
): Record<string, string> {
    const { form, ...options } = tune;
    const s = { ...settings, ...options };
    if (form) return { NGINX_CONF: renderNginxConf(s, form), NGINX_CONF_PER_REQUEST: renderNginxConf(s, form) };
    const confs = nginxConfForms(s, appQueue);
    return { NGINX_CONF: confs.nginxConf, NGINX_CONF_PER_REQUEST: confs.nginxConfPerRequest };
}

/** The app image's gunicorn.conf.py argument, rendered with the tune's options. */
export function gunicornConfArgsTuned(settings: GunicornSettings, tune: GunicornTune = {}): Record<string, string> {
    return { GUNICORN_CONF: renderGunicornConf({ ...settings, ...tune }) };
}

const IMAGE = "docker:index/image:Image";

export interface DeclaredImages {
    readonly runtime: Registration;
    readonly app: Registration;
    readonly nginx: Registration;
}

export function imagesOf(run: ProgramRun): DeclaredImages {
    const images = run.ofType(IMAGE);
    const pick = (suffix: string) => {
        const found = images.filter((r) => r.name.endsWith(suffix));
        if (found.length !== 1) throw new Error(`expected one image *${suffix}`);
        return found[0];
    };
    return { runtime: pick("-image-runtime"), app: pick("-image-app"), nginx: pick("-nginx-image") };
}

const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");

/**
 * Replaces an image's conf arguments by `tuned` after checking that `declared` (the same renderer,
 * no tune) is what the program declared; a changed image gets its own tag, renamed wherever the
 * run names it (containers, deploy steps).
 */
function replaceArgs(
    run: ProgramRun,
    reg: Registration,
    declared: Record<string, string>,
    tuned: Record<string, string>,
): void {
    const args = reg.inputs.build.args as Record<string, string>;
    for (const [arg, text] of Object.entries(declared)) {
        if (decode(args[arg]) !== text) {
            throw new Error(`tune: ${arg} of ${reg.name} is not what the renderer gives for the stack's config`);
        }
    }
    const changed = Object.keys(tuned).filter((arg) => tuned[arg] !== declared[arg]);
    if (changed.length === 0) return;
    for (const arg of changed) args[arg] = Buffer.from(tuned[arg], "utf8").toString("base64");
    const tag = createHash("sha256")
        .update(changed.map((arg) => tuned[arg]).join("\0"))
        .digest("hex")
        .slice(0, 8);
    const old = String(reg.inputs.imageName);
    const renamed = `${old.split(":")[0]}:tuned-${tag}`;
    const rename = (v: unknown): unknown => {
        if (v === old) return renamed;
        if (Array.isArray(v)) return v.map(rename);
        if (v && typeof v === "object") {
            for (const [k, x] of Object.entries(v)) (v as Record<string, unknown>)[k] = rename(x);
        }
        return v;
    };
    for (const r of run.registrations) rename(r.inputs);
}

/**
 * Applies a tune's renderer options to a declared run (its `config` was already part of the
 * declaration): the nginx and app images get confs rendered with them. `config` is the Pulumi config
 * the run was declared with.
 */
export function applyTune(run: ProgramRun, config: Readonly<Record<string, string>>, tune: Tune): void {
    if (!tune.nginx && !tune.gunicorn) return;
    const stack = loadConfig(config, { project: "lernmanager", projectDir: PROJECT_DIR });
    const images = imagesOf(run);
    const nginx = nginxSettingsFrom(stack);
    replaceArgs(
        run,
        images.nginx,
        nginxConfArgsTuned(nginx, stack.appQueue),
        nginxConfArgsTuned(nginx, stack.appQueue, tune.nginx),
    );
    const gunicorn = gunicornSettingsFrom(stack);
    replaceArgs(run, images.app, gunicornConfArgsTuned(gunicorn), gunicornConfArgsTuned(gunicorn, tune.gunicorn));
}
