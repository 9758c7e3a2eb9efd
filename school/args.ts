import * as path from "path";
import { parseAge } from "./age";
import { SchoolError } from "./errors";
import { checkDestroyArgument, validateSchoolName } from "./schools";

export const USAGE = `Test schools: throwaway copies of Lernmanager (the demo app, or --app-source), one Pulumi stack
school-<name> each, published on 127.0.0.1 (or --bind) with a port of their own.

Usage: npm run school -- <command> [options]

Commands:
  create <name> [--demo-data] [--port N] [--app-source DIR] [--bind ADDRESS]
                                           create (or update) school <name> and deploy it; prints its URL
  destroy <name>                           destroy school <name> and remove its stack
  destroy --older-than <age>               destroy every school created more than <age> ago
  destroy <name> --older-than <age>        destroy school <name> only if it is older than <age>
  list                                     table of the schools: name, URL, age, created
  exists <name>                            print true or false (for scripts)

Options:
  --demo-data      seed demo data (appEnv DEMO_DATA=1; without it DEMO_DATA=0)
  --port N         publish on port N (default: the first free port from 8100 up)
  --app-source DIR another app instead of the demo app, e.g. ../lernmanager (the real app; its
                   contract from Pulumi.prod.yaml, via baseStack prod)
  --bind ADDRESS   publish on this address instead of 127.0.0.1, e.g. the machine's LAN address
                   (or 0.0.0.0) so a colleague can open it; Docker's published ports bypass ufw
  --older-than A   an age: a whole number and d, h or m, e.g. 7d, 12h, 30m
  -h, --help       this text

Names: lowercase letters, digits and hyphens, starting with a letter, not ending in a hyphen,
at most 30 characters (berlin, pr-42). prod, dev and protected stacks are never destroyed.`;

export type Command =
    | { readonly kind: "help" }
    | {
          readonly kind: "create";
          readonly name: string;
          readonly demoData: boolean;
          readonly port?: number;
          readonly appSource?: string;
          readonly bindAddress?: string;
      }
    | {
          readonly kind: "destroy";
          readonly name?: string;
          readonly olderThanMs?: number;
          readonly olderThanText?: string;
      }
    | { readonly kind: "list" }
    | { readonly kind: "exists"; readonly name: string };

const EXAMPLES: Record<string, string> = {
    "--port": "--port 8100",
    "--older-than": "--older-than 7d",
    "--app-source": "--app-source ../lernmanager",
    "--bind": "--bind 192.168.1.20",
};
const OPTIONS_WITH_VALUE = ["--port", "--older-than", "--app-source", "--bind"];
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const FLAGS = ["--demo-data", "--help", "-h"];
/** Which options each command accepts. */
const ALLOWED: Record<string, readonly string[]> = {
    create: ["--demo-data", "--port", "--app-source", "--bind"],
    destroy: ["--older-than"],
    list: [],
    exists: [],
};

/** Parses the arguments after `npm run school --`; throws a one-line SchoolError on bad input. */
export function parseArgs(argv: readonly string[]): Command {
    const positional: string[] = [];
    const options = new Map<string, string | true>();
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--") continue;
        if (!arg.startsWith("-")) {
            positional.push(arg);
            continue;
        }
        const eq = arg.indexOf("=");
        const flag = eq > 0 ? arg.slice(0, eq) : arg;
        if (FLAGS.includes(flag)) {
            if (eq > 0) throw new SchoolError(`${flag} takes no value; see --help`);
            options.set(flag, true);
        } else if (OPTIONS_WITH_VALUE.includes(flag)) {
            const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
            if (value === undefined || value === "" || (eq < 0 && value.startsWith("--"))) {
                throw new SchoolError(`${flag} needs a value, for example ${EXAMPLES[flag]}`);
            }
            options.set(flag, value);
        } else {
            throw new SchoolError(`unknown option ${flag}; see --help`);
        }
    }

    if (options.has("--help") || options.has("-h") || positional[0] === "help") return { kind: "help" };
    const [command, ...rest] = positional;
    if (command === undefined)
        throw new SchoolError("no command given: use create, destroy, list or exists (see --help)");
    const allowed = ALLOWED[command];
    if (allowed === undefined) {
        throw new SchoolError(
            `unknown command ${JSON.stringify(command)}: use create, destroy, list or exists (see --help)`,
        );
    }
    for (const flag of options.keys()) {
        if (!allowed.includes(flag)) throw new SchoolError(`${command} does not take ${flag}; see --help`);
    }
    const maxPositional = command === "list" ? 0 : 1;
    if (rest.length > maxPositional) {
        throw new SchoolError(
            `${command} takes ${maxPositional === 0 ? "no name" : "one name"}, got ${rest.map((r) => JSON.stringify(r)).join(" ")}`,
        );
    }
    const name = rest[0];

    switch (command) {
        case "create": {
            if (name === undefined) throw new SchoolError("create needs a school name, for example `create berlin`");
            const portText = options.get("--port");
            let port: number | undefined;
            if (typeof portText === "string") {
                port = /^\d+$/.test(portText) ? Number(portText) : NaN;
                if (!Number.isInteger(port) || port < 1 || port > 65535) {
                    throw new SchoolError(
                        `--port ${portText} is not a port: use a whole number from 1 to 65535, for example --port 8100`,
                    );
                }
            }
            const bind = options.get("--bind");
            if (typeof bind === "string" && !IPV4.test(bind))
                throw new SchoolError(
                    `--bind ${bind} is not an IPv4 address, for example --bind 192.168.1.20 or --bind 0.0.0.0`,
                );
            const source = options.get("--app-source");
            return {
                kind: "create",
                name: validateSchoolName(name),
                demoData: options.has("--demo-data"),
                port,
                ...(typeof source === "string" ? { appSource: path.resolve(source) } : {}),
                ...(typeof bind === "string" ? { bindAddress: bind } : {}),
            };
        }
        case "destroy": {
            const ageText = options.get("--older-than");
            if (name === undefined && typeof ageText !== "string") {
                throw new SchoolError(
                    "destroy needs a school name or --older-than, for example `destroy berlin` or `destroy --older-than 7d`",
                );
            }
            if (name !== undefined) checkDestroyArgument(name);
            return typeof ageText === "string"
                ? { kind: "destroy", name, olderThanMs: parseAge(ageText), olderThanText: ageText }
                : { kind: "destroy", name };
        }
        case "exists":
            if (name === undefined) throw new SchoolError("exists needs a school name, for example `exists pr-42`");
            return { kind: "exists", name: validateSchoolName(name) };
        default:
            return { kind: "list" };
    }
}
