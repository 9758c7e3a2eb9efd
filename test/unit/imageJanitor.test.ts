/**
 * The image janitor's scripts (render/deploy.ts) against a fake `docker` on PATH that lists tags
 * and records what is removed: what the prune keeps, and that the destroy-time removal names an
 * image it had to keep without failing the destroy.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { imageJanitorScripts } from "../../render/deploy";

const janitor = imageJanitorScripts({ repositories: ["lm-runtime", "lm-app"], keep: 2 });

/**
 * Runs a script with a fake docker: `image ls` prints `tags[repo]` in the given order (Docker's:
 * newest created first), `image inspect` answers a ref's tag time in the prune's format (from
 * `tagTimes`, else in listing order: the first listed tagged last; "gone": no such image), `rmi`
 * fails for `inUse`.
 */
function withFakeDocker(
    script: string,
    tags: Record<string, string[]>,
    inUse: string[],
    env: Record<string, string>,
    tagTimes: Record<string, string> = {},
) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-fake-docker-"));
    const log = path.join(dir, "rmi.log");
    const listing = Object.entries(tags)
        .map(([repo, list]) => `  ${repo}) printf '%s\\n' ${list.map((t) => `'${repo}:${t}'`).join(" ")} ;;`)
        .join("\n");
    const times = Object.entries(tags)
        .flatMap(([repo, list]) =>
            list.flatMap((t, i) => {
                const ref = `${repo}:${t}`;
                if (tagTimes[ref] === "gone") return [];
                return `  '${ref}') echo '${tagTimes[ref] ?? `2026-12-01T10:00:${String(50 - i).padStart(2, "0")}.000000000Z`}' ;;`;
            }),
        )
        .join("\n");
    fs.writeFileSync(
        path.join(dir, "docker"),
        [
            "#!/bin/bash",
            'if [ "$1 $2" = "image ls" ]; then',
            '  case "${@: -1}" in',
            listing,
            "  esac",
            "  exit 0",
            "fi",
            // Only the UTC fixed-width tag time sorts as text: any other format is an error here.
            'if [ "$1 $2 $3" = "image inspect --format" ]; then',
            `  [ "$4" = '{{.Metadata.LastTagTime.UTC.Format "2006-01-02T15:04:05.000000000Z"}}' ] || exit 3`,
            '  case "$5" in',
            times,
            '    *) echo "No such image: $5" >&2; exit 1 ;;',
            "  esac",
            "  exit 0",
            "fi",
            'if [ "$1" = rmi ]; then',
            `  case " ${inUse.join(" ")} " in *" $2 "*) echo "conflict: $2 is in use" >&2; exit 1 ;; esac`,
            `  echo "$2" >> '${log}'`,
            "  exit 0",
            "fi",
            "exit 2",
        ].join("\n"),
        { mode: 0o755 },
    );
    const result = spawnSync("/bin/bash", ["-c", script], {
        env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, ...env },
        encoding: "utf8",
    });
    const removed = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
    fs.rmSync(dir, { recursive: true, force: true });
    return { status: result.status, removed, stderr: result.stderr };
}

describe("image prune (after each new app image; no delete)", () => {
    test("keeps the two newest tags, the refs this deploy declares and those in use; removes the rest", () => {
        const r = withFakeDocker(
            janitor.prune,
            { "lm-runtime": ["r3", "r2", "r1"], "lm-app": ["a4", "a3", "a2", "a1"] },
            ["lm-app:a2"],
            // The runtime tag the next app build starts FROM is the oldest here: still kept.
            { LM_KEEP_REFS: "lm-runtime:r1 lm-app:a4" },
        );
        expect(r.status).toBe(0);
        expect(r.removed).toEqual(["lm-app:a1"]);
    });

    test("newest means tagged last, not created last: an image the layer cache answered is kept", () => {
        // a1 was built long ago and deployed again just now (its build came from the cache, so it
        // keeps its old creation time and is listed last); a3 is the newest build but deployed before.
        const r = withFakeDocker(
            janitor.prune,
            { "lm-runtime": ["r1"], "lm-app": ["a3", "a2", "a1"] },
            [],
            {},
            {
                "lm-app:a3": "2026-12-01T10:00:02.000000000Z",
                "lm-app:a2": "2026-12-01T10:00:01.000000000Z",
                "lm-app:a1": "2026-12-01T10:00:03.000000000Z",
            },
        );
        expect(r.status).toBe(0);
        expect(r.removed).toEqual(["lm-app:a2"]);
    });

    test("a ref gone between the listing and its inspection is skipped, not removed or fatal", () => {
        const r = withFakeDocker(
            janitor.prune,
            { "lm-app": ["a4", "a3", "a2", "a1"] },
            [],
            {},
            { "lm-app:a2": "gone" },
        );
        expect(r.status).toBe(0);
        expect(r.removed).toEqual(["lm-app:a1"]);
    });
});

describe("image clean-up (the delete of a resource that is never replaced: destroy only)", () => {
    test("removes every tag of the stack's repositories", () => {
        const r = withFakeDocker(janitor.destroy, { "lm-runtime": ["r1"], "lm-app": ["a2", "a1"] }, [], {});
        expect(r.status).toBe(0);
        expect(r.removed).toEqual(["lm-runtime:r1", "lm-app:a2", "lm-app:a1"]);
    });

    test("a tag still in use (a rollback container's image) stays, named on stderr, and the delete succeeds", () => {
        // A failed delete would cancel the rest of the destroy (the engine's cancelDueToError):
        // the network and volumes would stay for an image nobody needs removed now.
        const r = withFakeDocker(janitor.destroy, { "lm-runtime": ["r1"], "lm-app": ["a2", "a1"] }, ["lm-app:a2"], {});
        expect(r.status).toBe(0);
        expect(r.removed).toEqual(["lm-runtime:r1", "lm-app:a1"]);
        expect(r.stderr).toContain("kept image lm-app:a2: conflict: lm-app:a2 is in use");
    });
});
