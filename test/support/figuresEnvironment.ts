import { TestEnvironment } from "jest-environment-node";
import * as path from "path";
import { FIGURE_QUEUE, type QueuedFigure } from "./figures";
import { writePassedFigures } from "./runFigures";

/**
 * The e2e suite's test environment: Node's, plus the figures' rule. A test's queued figures
 * (test/support/figures.ts) are written to the run's file when the test is done without an error,
 * and dropped (with one line saying so) when it failed.
 */
export default class FiguresEnvironment extends TestEnvironment {
    async handleTestEvent(event: { name: string; test?: { errors: unknown[] } }): Promise<void> {
        const g = this.global as unknown as Record<string, QueuedFigure[] | undefined>;
        if (event.name === "test_start") g[FIGURE_QUEUE] = [];
        if (event.name !== "test_done" || !event.test) return;
        const queued = g[FIGURE_QUEUE] ?? [];
        g[FIGURE_QUEUE] = [];
        if (queued.length === 0) return;
        const names = queued.map((f) => f.name).join(", ");
        if (event.test.errors.length > 0) {
            process.stderr.write(`    figures not written (their test failed): ${names}\n`);
            return;
        }
        const file = writePassedFigures(queued);
        process.stderr.write(`    figures written (their test passed): ${names} → ${path.basename(file)}\n`);
    }
}
