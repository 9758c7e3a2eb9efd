/**
 * Which kept app image a rollback goes back to. Not the order `docker image ls` lists them in: that
 * is the images' creation time, and a build the layer cache answers keeps the old time (code
 * reverted to an earlier version is an "old" image, and so is any image built before from the same
 * files). The order of deploys is the time each tag was last applied (`Metadata.LastTagTime`):
 * every deploy tags the image it builds, cached or not.
 */
export interface TaggedImage {
    readonly ref: string;
    readonly id: string;
    /** `Metadata.LastTagTime` as `{{json .Metadata.LastTagTime}}` prints it (RFC 3339, up to nanoseconds). */
    readonly lastTagTime: string;
}

/** Nanoseconds since the epoch of an RFC 3339 time with a fraction of any length (up to 9 digits). */
function nanos(time: string): bigint {
    const m = /^(.*?:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
    if (!m) return -1n;
    const seconds = Date.parse(`${m[1]}${m[3]}`);
    if (Number.isNaN(seconds)) return -1n;
    return BigInt(seconds) * 1000000n + BigInt((m[2] ?? "").padEnd(9, "0").slice(0, 9));
}

/** The image tagged last before the current one (another image id), or undefined. */
export function previousImage(images: readonly TaggedImage[], current: string): TaggedImage | undefined {
    const ordered = [...images].sort((a, b) => {
        const [x, y] = [nanos(a.lastTagTime), nanos(b.lastTagTime)];
        return x === y ? 0 : x > y ? -1 : 1;
    });
    const at = ordered.findIndex((i) => i.id === current);
    return at < 0 ? undefined : ordered.slice(at + 1).find((i) => i.id !== current);
}
