/**
 * The trail of an acknowledged write, for a test that finds one missing afterwards.
 *
 * The test's copy of the demo app notes every write it acknowledged, after its commit, in a file
 * in the data volume: wall-clock time, container, worker pid, write_id. When a write is missing,
 * `explainLostWrites` says who acknowledged it and when, against the update's moments, with the
 * database's integrity check: a row some container committed and the database no longer holds is
 * lost in SQLite or the storage; an acknowledgment that no container noted came from elsewhere.
 */
import * as fs from "fs";
import * as path from "path";
import { LAYOUT } from "../../core/layout";
import type { LiveStack } from "./stack";

const TRAIL_FILE = "acknowledged-writes.log";
const TRAIL_PATH = `${LAYOUT.appDir}/data/${TRAIL_FILE}`;

/** Makes the app copy in `appDir` note each write it answers with 200 (an after_request hook). */
export function noteAcknowledgedWrites(appDir: string): void {
    fs.appendFileSync(
        path.join(appDir, "app.py"),
        `

# Added by the test (test/support/writeTrail.ts): each acknowledged write, after its commit.
@app.after_request
def _note_acknowledged_write(response):
    if request.method == "POST" and request.path.endswith("/done") and response.status_code == 200:
        import socket
        import time

        import demo_db

        line = "%.3f %s %d %s\\n" % (time.time(), socket.gethostname(), os.getpid(), request.form.get("write_id"))
        fd = os.open(os.path.join(demo_db.DATA_DIR, "${TRAIL_FILE}"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    return response
`,
    );
}

/**
 * For each missing write_id: when the client got its 200 (seconds against `moments`, e.g. when the
 * update started and ended), which container and worker noted it, and what the database says.
 */
export async function explainLostWrites(
    s: LiveStack,
    missing: readonly string[],
    acknowledgedAt: ReadonlyMap<string, number>,
    moments: Readonly<Record<string, number>>,
): Promise<string> {
    const ids = missing.map((m) => m.split(" ")[0]).slice(0, 20);
    const lines = ids.map((id) => {
        const at = acknowledgedAt.get(id);
        if (at === undefined) return `${id}: no acknowledgment recorded by the load`;
        const when = Object.entries(moments)
            .map(([name, t]) => `${((at - t) / 1000).toFixed(3)} s after ${name}`)
            .join(", ");
        return `${id}: answered 200 at ${new Date(at).toISOString()} (${when})`;
    });
    const check = [
        "import sqlite3, sys",
        `c = sqlite3.connect("file:${LAYOUT.appDir}/data/" + sys.argv[1] + "?mode=ro", uri=True)`,
        'print("integrity_check:", c.execute("PRAGMA integrity_check").fetchone()[0])',
        'print("writes:", c.execute("SELECT count(*) FROM writes").fetchone()[0])',
        "for i in sys.argv[2:]:",
        '    print(i, "rows without the index:", c.execute("SELECT count(*) FROM writes NOT INDEXED WHERE write_id = ?", (i,)).fetchone()[0])',
    ].join("\n");
    const db = await s.exec(s.app(), ["sh", "-c", `ls ${LAYOUT.appDir}/data | grep '\\.db$' | head -1`], {
        allowFail: true,
    });
    const sqlite = await s.exec(s.app(), ["python3", "-c", check, db.output.trim(), ...ids], { allowFail: true });
    // write_ids are letters, digits and dashes: each matched as a whole word at the line's end.
    const noted = await s.exec(s.app(), ["grep", ...ids.flatMap((id) => ["-e", ` ${id}$`]), TRAIL_PATH], {
        allowFail: true,
    });
    return [
        `${missing.length} acknowledged write(s) missing:`,
        ...lines,
        `noted by the app (time, container, pid, write_id) in ${TRAIL_PATH}:`,
        noted.output.trim() || "  none: no app process noted these acknowledgments",
        sqlite.output.trim(),
    ].join("\n");
}
