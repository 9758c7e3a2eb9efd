/**
 * A refusal or a bad input of the school command. Its message is one line that names the rule and
 * the fix; the CLI prints it as `error: <message>` and exits 1.
 */
export class SchoolError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "SchoolError";
    }
}

/**
 * One line for a failure. A Pulumi CLI failure's message holds the whole stdout and stderr
 * (`code: 255\n stdout: ...\n stderr: error: ...`): its last `error:` line is the cause (joined with
 * the next line when it ends in a colon). Everything else: the first meaningful line.
 */
export function describeFailure(err: unknown): string {
    if (err instanceof SchoolError) return err.message;
    const text = err instanceof Error ? err.message : String(err);
    const lines = text
        .split("\n")
        .map((l) => l.trim().replace(/^(stdout|stderr|err\?):\s*/, ""))
        .filter((l) => l !== "" && !/^code: -?\d+$/.test(l));
    let i = -1;
    lines.forEach((l, n) => {
        if (/^error:/i.test(l)) i = n;
    });
    if (i < 0) return lines[0] ?? "unknown error";
    let line = lines[i].replace(/^error:\s*/i, "");
    if (line.endsWith(":") && i + 1 < lines.length) line = `${line} ${lines[i + 1]}`;
    return line;
}
