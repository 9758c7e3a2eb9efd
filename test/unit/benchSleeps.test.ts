import { parsePerfSummary } from "../../bench/lib/sleeps";
import { parseWaitOptions } from "../../bench/waits";

// `perf trace -s` prints one table per thread; the sleeps of every thread are summed, other
// syscalls and the tables' headers ignored.
const PERF_OUTPUT = `
 Summary of events:

 gunicorn (4101), 61 events, 12.1%

   syscall            calls  errors  total       min       avg       max       stddev
                                     (msec)    (msec)    (msec)    (msec)        (%)
   --------------- --------  ------ -------- --------- --------- ---------     ------
   clock_nanosleep       21      0    44.580     0.000     2.123     3.204      5.96%

 gunicorn (4102), 9 events, 1.8%

   syscall            calls  errors  total       min       avg       max       stddev
                                     (msec)    (msec)    (msec)    (msec)        (%)
   --------------- --------  ------ -------- --------- --------- ---------     ------
   clock_nanosleep        3      0     8.012     1.060     2.670     5.081     40.10%
   nanosleep              1      0     1.050     1.050     1.050     1.050      0.00%
`;

describe("bench/lib/sleeps.ts: SQLite's busy sleeps from perf trace", () => {
    test("sums the calls and milliseconds of every thread's table", () => {
        expect(parsePerfSummary(PERF_OUTPUT)).toEqual({ calls: 25, ms: 53.642 });
    });

    test("a run without sleeps (perf prints the heading only) counts none", () => {
        expect(parsePerfSummary("\n Summary of events:\n\n")).toEqual({ calls: 0, ms: 0 });
    });
});

describe("bench/waits.ts options", () => {
    test("defaults: waitress against the stack, write with login and the css control, 32 and 4 connections", () => {
        expect(parseWaitOptions([])).toEqual({
            variants: ["waitress", "stack"],
            workloads: ["write", "login", "css"],
            connections: [32, 4],
            reps: 3,
            seconds: 5,
        });
    });

    test.each([
        [["--variants", "apache"], /--variants takes some of/],
        [["--workloads", ""], /--workloads takes some of/],
        [["--connections", "32,x"], /--connections takes a whole number/],
        [["--reps", "0"], /--reps takes a whole number/],
        [["--fast"], /unknown argument --fast/],
    ])("rejects %p", (argv, message) => {
        expect(() => parseWaitOptions(argv)).toThrow(message);
    });
});
