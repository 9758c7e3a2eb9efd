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
