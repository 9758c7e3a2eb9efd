/**
 * The import's way of running a program (render/importVolumes.ts `run`): its outcome is the exit
 * code and output, also when the program exits without reading its input (a fresh-clone run of the
 * e2e import failed with an unhandled EPIPE after `docker volume inspect` had answered).
 */
import { run } from "../../render/importVolumes";

test("a program that exits without reading its input: its exit code, no EPIPE thrown", async () => {
    // 8 MiB into a program that reads nothing and exits at once: the pipe is closed mid-write.
    for (let i = 0; i < 5; i++) {
        await expect(run("sh", ["-c", "exit 3"], {}, "x".repeat(8 << 20))).resolves.toMatchObject({ code: 3 });
        await expect(run("true", [], {}, "x".repeat(8 << 20))).resolves.toMatchObject({ code: 0 });
    }
});

test("input reaches the program; stdout and stderr come back", async () => {
    const r = await run("sh", ["-c", "cat; echo oops >&2"], { LM_X: "1" }, "hello");
    expect(r).toEqual({ code: 0, stdout: "hello", stderr: "oops\n" });
});
