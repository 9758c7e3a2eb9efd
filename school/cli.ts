// `npm run school -- <command>`: test schools on top of the Pulumi Automation API.
// Parsing is in args.ts, the rules in schools.ts; this file only wires them to a real LocalWorkspace.
import * as fs from "fs";
import * as path from "path";
import { parseArgs, USAGE } from "./args";
import { SchoolError } from "./errors";
import { isPortFreeOnLoopback } from "./ports";
import {
    createSchool,
    describeFailure,
    destroySchools,
    formatSchoolTable,
    listSchools,
    schoolExists,
    type SchoolDeps,
} from "./schools";
import { localSchoolWorkspace, type SchoolWorkspace } from "./workspace";

export interface CliDeps {
    /** Opens the workspace; called only for commands that need Pulumi (not for --help or bad input). */
    readonly openWorkspace: () => Promise<SchoolWorkspace>;
    readonly isPortFree: (port: number) => Promise<boolean>;
    readonly now: () => Date;
    /** Writes to stdout (messages get their newline from the caller). */
    readonly stdout: (text: string) => void;
    readonly stderr: (text: string) => void;
}

/** The folder holding Pulumi.yaml, searched upwards from `start`. */
export function findProjectRoot(start: string): string {
    for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
        if (path.dirname(dir) === dir) throw new SchoolError(`no Pulumi.yaml in ${start} or any folder above it`);
    }
}

/** Runs one command; resolves to the exit code (0 ok, 1 bad input, refusal or failed Pulumi operation). */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
    const line = (text: string) => deps.stdout(`${text}\n`);
    try {
        const command = parseArgs(argv);
        if (command.kind === "help") {
            line(USAGE);
            return 0;
        }
        const workspace = await deps.openWorkspace();
        const school: SchoolDeps = {
            workspace,
            isPortFree: deps.isPortFree,
            now: deps.now,
            log: line,
            output: deps.stdout,
        };
        switch (command.kind) {
            case "create":
                await createSchool(school, command);
                break;
            case "destroy":
                await destroySchools(school, command);
                break;
            case "list":
                line(formatSchoolTable(await listSchools(school)));
                break;
            case "exists":
                line(String(await schoolExists(workspace, command.name)));
                break;
        }
        return 0;
    } catch (err) {
        deps.stderr(`error: ${describeFailure(err).replace(/\s*\n\s*/g, " ")}\n`);
        return 1;
    }
}

async function openLocalWorkspace(): Promise<SchoolWorkspace> {
    const workDir = findProjectRoot(__dirname);
    try {
        return await localSchoolWorkspace(workDir);
    } catch (err) {
        const text = err instanceof Error ? err.message : String(err);
        if (/ENOENT|not found|command not found/i.test(text)) {
            throw new SchoolError(
                `the Pulumi CLI is needed but was not found on PATH (install it: https://www.pulumi.com/docs/install/): ${describeFailure(err)}`,
            );
        }
        throw err;
    }
}

if (require.main === module) {
    void runCli(process.argv.slice(2), {
        openWorkspace: openLocalWorkspace,
        isPortFree: isPortFreeOnLoopback,
        now: () => new Date(),
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
    }).then((code) => {
        process.exitCode = code;
    });
}
