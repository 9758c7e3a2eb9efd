/**
 * The field-by-field mapping from what the program declares (the inputs Pulumi would hand to the
 * Docker and Command providers) to the Docker Engine API, used by realize.ts.
 *
 * Every input field is mapped explicitly (table below). A field this helper does not know fails
 * loudly, so a new field in the program can never be silently ignored. What happens across several
 * runs (read-back, diff, replace, destroy) follows engineRules.ts, each rule with its source link.
 *
 * | @pulumi/docker input                | Engine API                                              |
 * |-------------------------------------|---------------------------------------------------------|
 * | Network.name / driver / labels      | POST /networks/create Name / Driver / Labels            |
 * | Volume.name / labels                | POST /volumes/create Name / Labels                      |
 * | Volume.driver / driverOpts          | POST /volumes/create Driver / DriverOpts (local bind)   |
 * | Image.imageName                     | POST /build t=imageName                                 |
 * | Image.build.context / dockerfile    | build context tar (.dockerignore honoured) + dockerfile |
 * | Image.build.args                    | buildargs                                               |
 * | Image.build.builderVersion BuilderV1| version=1 (classic builder)                             |
 * | Image.build.platform                | platform (the provider's Check sets linux/<arch> when unset) |
 * | Image.build (no `remove` field)     | rm=0: the native Image never sets Remove (engineRules.ts) |
 * | Image.skipPush                      | (nothing is pushed)                                     |
 * | Image.buildOnPreview                | (preview only; an update always builds)                 |
 * | Image output repoDigest             | the built image id (sha256:...)                         |
 * | Container.name (absent: auto-name)  | name, or `<logical name>-<7 random hex>`                |
 * | Container.image                     | Image (resolved to the image id)                        |
 * | Container.entrypoints / command     | Entrypoint / Cmd                                        |
 * | Container.envs                      | Env                                                     |
 * | Container.labels [{label,value}]    | Labels                                                  |
 * | Container.networksAdvanced          | HostConfig.NetworkMode + NetworkingConfig.EndpointsConfig[name].Aliases |
 * | Container.networkMode (none, bridge) | HostConfig.NetworkMode                                |
 * | Container.ports                     | ExposedPorts + HostConfig.PortBindings {HostIp, HostPort} |
 * | Container.mounts                    | HostConfig.Mounts {Type, Source, Target, ReadOnly}      |
 * | Container.readOnly                  | HostConfig.ReadonlyRootfs                               |
 * | Container.tmpfs                     | HostConfig.Tmpfs                                        |
 * | Container.init                      | HostConfig.Init                                         |
 * | Container.restart                   | HostConfig.RestartPolicy.Name                           |
 * | Container.healthcheck               | Healthcheck {Test, Interval, Timeout, Retries, StartPeriod} (durations in ns) |
 * | Container.capabilities.adds/drops   | HostConfig.CapAdd / CapDrop                             |
 * | Container.securityOpts              | HostConfig.SecurityOpt                                  |
 * | Container.memory (MiB)              | HostConfig.Memory (bytes)                               |
 * | Container.memorySwap (MiB)          | HostConfig.MemorySwap (bytes; unset: Docker sets 2x Memory) |
 * | Container.ulimits                   | HostConfig.Ulimits {Name, Soft, Hard}                   |
 * | Container.logDriver / logOpts       | HostConfig.LogConfig {Type, Config}                     |
 * | Container.sysctls                   | HostConfig.Sysctls                                      |
 * | Container.wait / waitTimeout        | poll State.Health.Status until "healthy" (timeout s)    |
 * | Container.destroyGraceSeconds       | stop timeout t on removal                               |
 * | RandomPassword                      | (value already chosen in the mocks: stable like state)  |
 * | docker Provider host                | this engine when it names it (unix socket / $DOCKER_HOST); another host is not mapped |
 * | command Command create/interpreter  | run `interpreter... create` here, env = process env + environment; non-zero fails |
 * | command Command triggers            | on update: a changed trigger (or script/env) runs create again (a replace) |
 * | command Command delete              | run on teardown, after the containers (Pulumi deletes dependents first) |
 * | command Command addPreviousOutputInEnv | unset/true: last stdout/stderr as PULUMI_COMMAND_STDOUT/STDERR of update and delete |
 * | component resources                 | (nothing: they only group children)                     |
 */
import Docker from "dockerode";
import { parseGoDuration } from "./engineRules";
import { Registration } from "./mocks";

export const NETWORK = "docker:index/network:Network";
export const VOLUME = "docker:index/volume:Volume";
export const IMAGE = "docker:index/image:Image";
export const CONTAINER = "docker:index/container:Container";
export const COMMAND = "command:local:Command";
export const PROVIDER = "pulumi:providers:docker";
export const PASSIVE = new Set(["random:index/randomPassword:RandomPassword"]);
// addPreviousOutputInEnv: pulumi-command local commandOutputs.go `run` (engineRules.ts PREVIOUS_OUTPUT_ENV).
export const COMMAND_FIELDS = new Set([
    "create",
    "delete",
    "interpreter",
    "environment",
    "triggers",
    "addPreviousOutputInEnv",
]);
export const PROVIDER_FIELDS = new Set(["host", "version", "certPath"]);

export const NETWORK_FIELDS = new Set(["name", "driver", "labels"]);
// kreuzwerker v4.5.0 internal/provider/resource_docker_volume.go, resourceDockerVolumeCreate: `name`,
// `labels`, `driver` and `driver_opts` go into VolumeCreate's Name/Labels/Driver/DriverOpts (all ForceNew).
export const VOLUME_FIELDS = new Set(["name", "labels", "driver", "driverOpts"]);
// buildOnPreview only matters to `pulumi preview`; an `up` builds either way.
export const IMAGE_FIELDS = new Set(["imageName", "skipPush", "build", "buildOnPreview"]);
export const BUILD_FIELDS = new Set(["context", "dockerfile", "args", "builderVersion", "platform"]);
const CONTAINER_FIELDS = new Set([
    "name",
    "image",
    "entrypoints",
    "command",
    "envs",
    "labels",
    "networksAdvanced",
    // kreuzwerker v4.5.0 internal/provider/resource_docker_container_funcs.go, resourceDockerContainerCreate:
    // `if v, ok := d.GetOk("network_mode"); ok { hostConfig.NetworkMode = container.NetworkMode(v.(string)) }`.
    "networkMode",
    "ports",
    "mounts",
    "readOnly",
    "tmpfs",
    "init",
    "restart",
    "healthcheck",
    "capabilities",
    "securityOpts",
    "memory",
    "memorySwap",
    "ulimits",
    "logDriver",
    "logOpts",
    "wait",
    "waitTimeout",
    "destroyGraceSeconds",
    "sysctls",
    // kreuzwerker v4.5.0 internal/provider/resource_docker_container_funcs.go, resourceDockerContainerCreate:
    // `if v, ok := d.GetOk("user"); ok { config.User = v.(string) }` (ForceNew in the schema).
    "user",
]);
const HEALTH_FIELDS = new Set(["tests", "interval", "timeout", "retries", "startPeriod"]);
const MOUNT_FIELDS = new Set(["type", "source", "target", "readOnly"]);
const PORT_FIELDS = new Set(["internal", "external", "ip", "protocol"]);
const NET_ADV_FIELDS = new Set(["name", "aliases"]);

export class UnmappedFieldError extends Error {}

export function checkFields(what: string, value: Record<string, unknown>, known: Set<string>) {
    for (const key of Object.keys(value)) {
        if (value[key] !== undefined && !known.has(key)) {
            throw new UnmappedFieldError(
                `realize: ${what} has field "${key}" that the test helper does not map to the Engine API; map it in test/support/engineMapping.ts`,
            );
        }
    }
}

/** Maps one Container registration to the Engine API's create body (exported for unit tests). */
export function containerCreateBody(reg: Registration, imageId: string, name: string): Docker.ContainerCreateOptions {
    const i = reg.inputs;
    checkFields(`Container ${reg.name}`, i, CONTAINER_FIELDS);
    const body: Docker.ContainerCreateOptions = { name, Image: imageId, Env: i.envs ?? [], Labels: {}, HostConfig: {} };
    const host = body.HostConfig!;
    if (i.entrypoints) body.Entrypoint = i.entrypoints;
    if (i.command) body.Cmd = i.command;
    if (i.user) body.User = i.user;
    for (const l of i.labels ?? []) body.Labels![l.label] = l.value;
    const nets = (i.networksAdvanced ?? []) as Record<string, any>[];
    if (nets.length > 1) throw new UnmappedFieldError("realize: more than one network per container is not mapped");
    for (const n of nets) {
        checkFields(`Container ${reg.name} networksAdvanced`, n, NET_ADV_FIELDS);
        host.NetworkMode = n.name;
        body.NetworkingConfig = { EndpointsConfig: { [n.name]: { Aliases: n.aliases ?? [] } } };
    }
    if (i.networkMode) {
        if (nets.length)
            throw new UnmappedFieldError("realize: networkMode together with networksAdvanced is not mapped");
        host.NetworkMode = i.networkMode;
    }
    if (i.ports?.length) {
        body.ExposedPorts = {};
        host.PortBindings = {};
        for (const p of i.ports) {
            checkFields(`Container ${reg.name} ports`, p, PORT_FIELDS);
            const key = `${p.internal}/${p.protocol ?? "tcp"}`;
            body.ExposedPorts[key] = {};
            host.PortBindings[key] = [{ HostIp: p.ip ?? "", HostPort: String(p.external ?? "") }];
        }
    }
    host.Mounts = (i.mounts ?? []).map((m: Record<string, any>) => {
        checkFields(`Container ${reg.name} mounts`, m, MOUNT_FIELDS);
        return { Type: m.type, Source: m.source, Target: m.target, ReadOnly: !!m.readOnly };
    });
    if (i.readOnly !== undefined) host.ReadonlyRootfs = i.readOnly;
    if (i.tmpfs) host.Tmpfs = i.tmpfs;
    if (i.init !== undefined) host.Init = i.init;
    if (i.restart) host.RestartPolicy = { Name: i.restart };
    if (i.healthcheck) {
        checkFields(`Container ${reg.name} healthcheck`, i.healthcheck, HEALTH_FIELDS);
        const h = i.healthcheck;
        body.Healthcheck = {
            Test: h.tests,
            Interval: nanos(h.interval),
            Timeout: nanos(h.timeout),
            Retries: h.retries,
            StartPeriod: nanos(h.startPeriod),
        };
    }
    if (i.capabilities) {
        checkFields(`Container ${reg.name} capabilities`, i.capabilities, new Set(["adds", "drops"]));
        if (i.capabilities.adds) host.CapAdd = i.capabilities.adds;
        if (i.capabilities.drops) host.CapDrop = i.capabilities.drops;
    }
    if (i.securityOpts) host.SecurityOpt = i.securityOpts;
    if (i.memory) host.Memory = i.memory * 1024 * 1024;
    if (i.memorySwap) host.MemorySwap = i.memorySwap > 0 ? i.memorySwap * 1024 * 1024 : i.memorySwap;
    if (i.ulimits) host.Ulimits = i.ulimits.map((u: any) => ({ Name: u.name, Soft: u.soft, Hard: u.hard }));
    if (i.logDriver) host.LogConfig = { Type: i.logDriver, Config: i.logOpts ?? {} };
    if (i.sysctls) host.Sysctls = i.sysctls;
    return body;
}

function nanos(duration: string | undefined): number | undefined {
    if (duration === undefined) return undefined;
    try {
        return parseGoDuration(duration);
    } catch {
        throw new UnmappedFieldError(`realize: duration ${duration} is not mapped`);
    }
}
