/**
 * Figures the reliability tests measure (failed requests, recovery seconds, lost writes). A test
 * calls `recordFigure`; the figure is only queued. test/support/figuresEnvironment.ts writes a test's
 * queued figures once that test has passed (all its assertions), into the file of this run
 * (test/support/runFigures.ts: bench/results/runs/<run>.json with the commit, the date, CI or not and
 * the nginx the stacks ran). A failed test writes nothing, so every written figure passed its test.
 */
export interface QueuedFigure {
    readonly name: string;
    readonly figure: Record<string, unknown>;
    /** The test that measured it ("describe › test"), and its file. */
    readonly test: string;
    readonly file: string;
}

/** The queue the test environment reads at the end of each test (the test context's global). */
export const FIGURE_QUEUE = "__lmQueuedFigures";

export function recordFigure(name: string, figure: Record<string, unknown>): void {
    const g = globalThis as unknown as Record<string, QueuedFigure[] | undefined>;
    const state = expect.getState();
    (g[FIGURE_QUEUE] ??= []).push({
        name,
        figure,
        test: state.currentTestName ?? "(outside a test)",
        file: state.testPath ?? "",
    });
}
