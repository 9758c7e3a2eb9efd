/**
 * The lifecycle rules the stand-in engine (lifecycle.ts) follows, each read from the source of the
 * engine or provider it stands in for (@pulumi/docker 5.2.0 = kreuzwerker/terraform-provider-docker
 * v4.5.0 + pulumi-docker's native Image; @pulumi/command 1.2.1; pulumi 3.270). Links name the file
 * and the function or schema entry; line numbers move between commits, names do not.
 *
 * K  = kreuzwerker/terraform-provider-docker v4.5.0
 * KC = K internal/provider/resource_docker_container.go (schema)
 * KF = K internal/provider/resource_docker_container_funcs.go
 * PD = pulumi/pulumi-docker provider/provider.go (native Image) and provider/image.go
 * PC = pulumi/pulumi-command v1.2.1 provider/pkg/provider/local/commandController.go, command.go
 * PE = pulumi/pulumi pkg/resource/deploy/ (step_generator.go, deployment_executor.go, step_executor.go)
 */

/**
 * Container read-back (KF `resourceDockerContainerRead`, which `resourceDockerContainerCreate` ends
 * with): `healthcheck` durations as Go `time.Duration.String()` of the engine's nanoseconds
 * ("interval": `container.Config.Healthcheck.Interval.String()`, same for timeout, start_period);
 * `memory` as `HostConfig.Memory/1024/1024`; `memory_swap` as `HostConfig.MemorySwap/1024/1024`
 * when > 0 (Docker sets twice the memory when none is given); `tmpfs`, `init`, `restart`,
 * `read_only` as the engine reports them. Env and labels are not read back (comment in KF Read).
 */
export const READ_BACK_FIELDS = ["healthcheck", "memory", "memorySwap", "tmpfs", "init", "restart", "readOnly"];

/**
 * Container fields by what a change does:
 * - FORCE_NEW (KC `ForceNew: true`): name, image, command, entrypoint, user, envs (env), labels,
 *   mounts, volumes, ports, networksAdvanced, networkMode, upload, readOnly, capabilities, securityOpts,
 *   sysctls, logDriver, logOpts, ulimits (ulimit) ... → replace.
 * - UPDATED (KF `resourceDockerContainerUpdate`: attrs restart, max_retry_count, cpu_shares,
 *   memory, cpu_set, memory_swap → `ContainerUpdate`; MemorySwap only sent when memory_swap is set)
 *   → update in place.
 * - STATE_ONLY (KC Optional without ForceNew, not read back, not in Update): wait, waitTimeout,
 *   destroyGraceSeconds → an update that only rewrites the state.
 * - NEITHER (KC Optional, no ForceNew, read back, not in Update): healthcheck, tmpfs, init →
 *   an update that changes nothing on the container; the next read-back shows the old value again.
 */
export const FORCE_NEW = new Set([
    "name",
    "image",
    "command",
    "entrypoint",
    "user",
    "envs",
    "labels",
    "mounts",
    "volumes",
    "ports",
    "networksAdvanced",
    "networkMode",
    "upload",
    "readOnly",
    "capabilities",
    "securityOpts",
    "sysctls",
    "logDriver",
    "logOpts",
    "ulimits",
    "workingDir",
    "hostname",
]);
export const UPDATED = new Set(["restart", "memory", "memorySwap", "cpuShares", "cpuSet", "maxRetryCount"]);
export const STATE_ONLY = new Set(["wait", "waitTimeout", "destroyGraceSeconds"]);
export const NEITHER = new Set(["healthcheck", "tmpfs", "init"]);

/**
 * Native Image (PD): `Check` adds `build.contextDigest` (`hashContext`: sha256 over the Dockerfile
 * and every file of the context not in .dockerignore, by path relative to the context) and, per the
 * issue and provider-notes, `build.platform = linux/<GOARCH of the machine running pulumi>` when
 * unset. `Diff` compares the old `__inputs` with the checked news: any difference is an UPDATE
 * (never a replace), and `Update` builds again. The build sends `types.ImageBuildOptions` without
 * `Remove` (image.go `dockerBuild`): the Go client then sends `rm=0`, so the classic builder keeps
 * every step's container. `Read` and `Delete` do nothing: a removed image is not rebuilt while
 * the inputs are unchanged, and a destroy leaves images behind.
 */
export const IMAGE_CHECK = { defaultPlatform: (arch: string) => `linux/${GO_ARCH[arch] ?? arch}` };
const GO_ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386" };

/**
 * Command (PC): `triggers` are replaceOnChanges (command.go); any other input change is an update
 * that runs `update`, else `create` again (`Update`), and stores the new inputs, delete included.
 * `Delete` runs the `delete` stored in the state, with the stored environment.
 *
 * Engine (PE):
 * - Replace: create the new resource, then delete the old one after every other step of the update
 *   (step_generator.go: replacement deletes are "pending deletes" run by `performDeletes` once the
 *   program finished), unless `deleteBeforeReplace` (the docker Container defaults to it,
 *   pulumi-docker provider/resources.go; `deleteBeforeReplace: false` overrides).
 * - `replaceOnChanges` turns a diff in the named fields into a replacement, whatever its cause.
 * - Destroy (deployment_executor.go `performDeletes`): deletes are scheduled in antichains, dependents
 *   first (`ScheduleDeletes`); once a delete failed, no later antichain deletes any of the failed
 *   resource's transitive dependencies (`erroredDeps`), but everything else goes on.
 * - A protected resource's delete fails (`deleteProtectedError`, step_executor.go) and the destroy
 *   goes on with the rest; `retainOnDelete` drops it from the state without calling the provider.
 */
export const COMMAND_REPLACE_FIELDS = new Set(["triggers"]);

/** Go's `time.Duration.String()` of a whole number of nanoseconds (e.g. 60e9 → "1m0s"). */
export function goDuration(ns: number): string {
    if (ns === 0) return "0s";
    const neg = ns < 0;
    let n = Math.abs(ns);
    let out: string;
    if (n < 1e9) {
        const [unit, div] = n < 1e3 ? ["ns", 1] : n < 1e6 ? ["µs", 1e3] : ["ms", 1e6];
        out = `${trimFraction(n / (div as number))}${unit}`;
    } else {
        const h = Math.floor(n / 3600e9);
        n -= h * 3600e9;
        const m = Math.floor(n / 60e9);
        n -= m * 60e9;
        const s = `${trimFraction(n / 1e9)}s`;
        out = h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
    }
    return neg ? `-${out}` : out;
}

function trimFraction(x: number): string {
    return x.toFixed(9).replace(/\.?0+$/, "");
}

/** Go's `time.ParseDuration` for the units a health check uses (h, m, s, ms, us, ns; compound "1m30s"). */
export function parseGoDuration(text: string): number {
    const unit: Record<string, number> = { h: 3600e9, m: 60e9, s: 1e9, ms: 1e6, us: 1e3, µs: 1e3, ns: 1 };
    if (text === "0") return 0;
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g)];
    if (!parts.length || parts.map((p) => p[0]).join("") !== text) throw new Error(`not a Go duration: ${text}`);
    return parts.reduce((sum, p) => sum + Math.round(Number(p[1]) * unit[p[2]]), 0);
}

/** A declared health check as the provider reads it back. */
export function readBackHealthcheck(h: Record<string, any>): Record<string, any> {
    const out: Record<string, any> = { ...h };
    for (const key of ["interval", "timeout", "startPeriod", "startInterval"]) {
        if (h[key] !== undefined) out[key] = goDuration(parseGoDuration(h[key]));
    }
    return out;
}
