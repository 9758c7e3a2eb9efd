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
 * Volume read-back (K internal/provider/resource_docker_volume.go `resourceDockerVolumeRead`, which
 * `resourceDockerVolumeCreate` ends with): `labels`, `driver` = VolumeInspect's Driver and
 * `driver_opts` = its Options go into the state as the engine reports them. Docker answers the
 * create of an existing name with that volume, its options unchanged (moby volume/service/store.go
 * `create`: `checkConflict`, then the stored volume is returned before the driver is asked), so the
 * state holds the options the volume has, not the declared ones. `driver` is Optional + Computed:
 * undeclared, the state's value shows no diff. `driver_opts` is Optional without Computed: read-back
 * options the program does not declare are a diff (an empty map and none are alike in the SDK).
 * All volume fields are ForceNew (lifecycle.ts `diffResource` replaces on any of them).
 */
export const VOLUME_READ_BACK = { computed: ["driver"], optional: ["driverOpts"] } as const;

/**
 * Protect and retainOnDelete on a replacement. PE step_generator.go (`generateSteps`, the replace
 * branch): a replacement is refused only while the resource is protected in the program and in the
 * state (`new.Protect && old.Protect`; "we do allow unprotecting and replacing to happen in a single
 * update cycle"), so after `pulumi state unprotect` the next `up` replaces it and the new one is
 * protected again. PE step.go `DeleteStep.Apply`: the old state's `RetainOnDelete` makes its delete a
 * no-op, the delete of a replaced resource included (only the protect check there skips replacements).
 */
export const REPLACE_PROTECTED_IF = "program and state" as const;
export const RETAIN_ON_REPLACE = true;

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

/**
 * Removing a protected resource (PE step.go `DeleteStep.Apply`): `if !s.replacing && s.old.Protect`
 * returns `deleteProtectedError` **before** the `DryRun`, `External` and `RetainOnDelete` branches,
 * so it fails in a preview as well as in an `up`; `retainOnDelete` only turns the provider's Delete
 * into nothing for an unprotected resource. The flags come from the old state: a resource the program
 * stops declaring keeps the `protect` of its last `up`. Since `pulumi up` previews first (backend
 * apply.go `PreviewThenPromptThenExecute`), nothing at all happens until `pulumi state unprotect`.
 * https://github.com/pulumi/pulumi/blob/master/pkg/resource/deploy/step.go (`deleteProtectedError`)
 */
export const DELETE_PROTECTED_MESSAGE = (urn: string) =>
    `resource "${urn}" cannot be deleted\nbecause it is protected. To unprotect the resource, either remove the \`protect\` flag from the resource in your Pulumi program and run \`pulumi up\`, or use the command:\n\`pulumi state unprotect '${urn}'\``;

/**
 * The native Image's context digest (PD provider.go `hashContext`): the ignore file is
 * `<context>/<basename of dockerfile>.dockerignore`, or `<context>/.dockerignore` for a dockerfile
 * named `Dockerfile` (`mapDockerignore`); its patterns (buildkit `dockerignore.ReadAll`) go to
 * `fsutil.Walk` as ExcludePatterns. The dockerfile is hashed first under the name "Dockerfile" with
 * mode 0, then every file of the walk (lexical order per folder) as relative path + Go
 * `fs.FileMode.String()` (the full permission bits: "-rw-r--r--" and "-rw-rw-r--" differ) +
 * sha256 of the content + NUL; symlinks hash their resolved path. Nothing else is skipped: a
 * `__pycache__` folder left by a test run is part of the digest unless an ignore file names it.
 * https://github.com/pulumi/pulumi-docker/blob/00e49bb760b32d5f2f78d1adb6753ea8026c039c/provider/provider.go
 * (`hashContext`, `contextHashAccumulator.hashPath`, `getIgnore`; `mapDockerignore` in the same package)
 */
export const DEFAULT_DOCKERFILE = "Dockerfile";

/**
 * Read-back of `memory_swap` (KF `resourceDockerContainerRead`):
 * `if MemorySwap > 0 { memory_swap = MemorySwap/1024/1024 } else { memory_swap = MemorySwap }`.
 * On a host without swap-limit support (cgroup v1 without swapaccount, `docker info` SwapLimit false)
 * moby's `verifyPlatformContainerResources` (daemon/daemon_unix.go) sets `MemorySwap = -1` when a
 * memory limit and a swap limit are given, so the state holds -1 and a declared swap limit differs
 * on every `up` (an update in place that changes nothing).
 * https://github.com/moby/moby/blob/v20.10.24/daemon/daemon_unix.go (`verifyPlatformContainerResources`)
 */
export const NO_SWAP_LIMIT_READ_BACK = -1;

/**
 * A create that fails after the object exists (PE step.go `CreateStep.Apply`: a provider error
 * carrying the new id and state is an *init error*; the resource goes into the state with
 * `InitErrors` and the update fails). kreuzwerker's Create returns the health-wait error after the
 * container was started, so the container keeps running, on its networks, with its aliases. On the
 * next `up`, a resource with init errors whose diff is empty gets an empty UpdateStep (step_generator.go:
 * "generate an empty update step to attempt to continue awaiting initialization";
 * `applyReplaceOnChanges` turns it into a replace only when a replaceOnChanges path contains
 * `#initerror`): the provider's Update runs no health wait, and the init errors are gone.
 * https://github.com/pulumi/pulumi/blob/master/pkg/resource/deploy/step_generator.go (`applyReplaceOnChanges`)
 */
export const INIT_ERROR_KEY = "#initerror";

/**
 * Pending deletes (PE step.go `CreateStep.Apply`: `if s.replacing && s.pendingDelete { s.old.Delete = true }`,
 * reached also when the create returned an init error): a replacement whose create ran leaves the
 * old resource in the state marked for deletion when the update fails before its end. The next
 * update retires those first, before any other step (deployment_executor.go `retirePendingDeletes`,
 * "Run before the start of a deployment", step_generator.go `GeneratePendingDeletes`); a failed
 * pending delete fails that update before anything else ran. So after a new app container failed
 * its health wait, the next `up` removes the old, healthy one first.
 * https://github.com/pulumi/pulumi/blob/master/pkg/resource/deploy/deployment_executor.go (`retirePendingDeletes`)
 */
export const PENDING_DELETES_FIRST = true;

/**
 * Failed steps (PE step_executor.go `cancelDueToError`): `se.sawError.Store(err); if
 * !se.continueOnError { se.cancel() }` — the chains already running finish, no further step starts.
 * In a destroy the deletes of one antichain run in parallel (deployment_executor.go
 * `performDeletes` / `ScheduleDeletes`), so all deletes of the antichain with the failure finish and
 * nothing after it runs. With --continue-on-error the later antichains go on, minus the failed
 * resources' dependencies.
 * https://github.com/pulumi/pulumi/blob/master/pkg/resource/deploy/step_executor.go (`cancelDueToError`)
 */
export const CANCEL_ON_ERROR = true;

/**
 * Parallel steps (PE step_executor.go: `--parallel` workers, default unbounded in the CLI): a
 * resource's step starts as soon as the resources it depends on (dependsOn, and the resources whose
 * outputs it reads) are done; registration order and resource type do not order anything else.
 * https://github.com/pulumi/pulumi/blob/master/pkg/resource/deploy/step_executor.go (`ExecuteRegisterResourceOutputs`, worker pool)
 */
export const PARALLEL_STEPS = true;

/**
 * The previous output in the environment (PC commandOutputs.go `run`):
 * `if in.AddPreviousOutputInEnv == nil || *in.AddPreviousOutputInEnv` the last stdout and stderr
 * are added as PULUMI_COMMAND_STDOUT / PULUMI_COMMAND_STDERR (when not empty); `Update` starts from
 * `olds.BaseOutputs` and `Delete` from the stored outputs (commandController.go), so every update and
 * delete gets them. Linux refuses one environment string over MAX_ARG_STRLEN (32 pages, 128 KiB)
 * with E2BIG at exec.
 * https://github.com/pulumi/pulumi-command/blob/v1.2.1/provider/pkg/provider/local/commandOutputs.go
 */
export const PREVIOUS_OUTPUT_ENV = { stdout: "PULUMI_COMMAND_STDOUT", stderr: "PULUMI_COMMAND_STDERR" };
