/** The image a rollback goes back to (cli/previousImage.ts): the one deployed before, by tag time. */
import { previousImage } from "../../cli/previousImage";

const image = (id: string, lastTagTime: string) => ({ ref: `lernmanager-x-app:${id}`, id, lastTagTime });

test("the image tagged last before the current one, whatever the creation times", () => {
    // v1 deployed, then v2; a leftover built earlier than v1 but listed first by creation time.
    const images = [
        image("leftover", "2026-12-07T06:05:00.5Z"),
        image("v2", "2026-12-07T06:34:10.123456789Z"),
        image("v1", "2026-12-07T06:33:00Z"),
    ];
    expect(previousImage(images, "v2")?.id).toBe("v1");
    expect(previousImage(images, "v1")?.id).toBe("leftover");
    expect(previousImage(images, "leftover")).toBeUndefined();
});

test("second fractions of any length compare in time order (.123 after .1)", () => {
    const images = [
        image("a", "2026-12-07T06:33:46.1Z"),
        image("b", "2026-12-07T06:33:46.123Z"),
        image("c", "2026-12-07T06:33:46Z"),
    ];
    expect(previousImage(images, "b")?.id).toBe("a");
    expect(previousImage(images, "a")?.id).toBe("c");
});

test("code reverted to an earlier version: the image deployed before it, not the one built before it", () => {
    // v1's image is deployed again after v2 (same files, the same image): its tag time is the newest.
    const images = [
        image("v2", "2026-12-07T07:00:00Z"),
        image("v1", "2026-12-07T08:00:00Z"),
        image("v0", "2026-12-06T07:00:00Z"),
    ];
    expect(previousImage(images, "v1")?.id).toBe("v2");
});

test("time zones: the same instant compares equal, an earlier one is earlier", () => {
    const images = [image("utc", "2026-12-07T06:00:00.5Z"), image("cet", "2026-12-07T07:00:00.4+01:00")];
    expect(previousImage(images, "utc")?.id).toBe("cet");
});

test("an unknown current image gives none", () => {
    expect(previousImage([image("v1", "2026-12-07T06:33:00Z")], "nope")).toBeUndefined();
});
