import { formatAge } from "./age";
import { describeFailure, SchoolError } from "./errors";
import { ageOf, readSchool, type SchoolDeps, type SchoolInfo, schoolStacks } from "./found";
import {
    assertDestroyable,
    checkDestroyArgument,
    configKey,
    isProtected,
    schoolNameOf,
    schoolStackName,
    shortStackName,
    STACK_PREFIX,
} from "./rules";

/** `destroy`: one school, or all older than an age; test schools only (rules.ts `assertDestroyable`). */

/** Turns the `destroy` argument (a school name, or `school-<name>`) into a listed stack. */
function resolveTarget(arg: string, stacks: readonly string[]): { name: string; stack: string } {
    checkDestroyArgument(arg);
    let stackName: string;
    if (arg.startsWith(STACK_PREFIX)) {
        stackName = arg;
    } else if (stacks.some((s) => shortStackName(s) === arg)) {
        assertDestroyable(arg, {}); // an existing stack that is not a school, e.g. dev
        stackName = arg;
    } else {
        stackName = schoolStackName(arg);
    }
    const stack = stacks.find((s) => shortStackName(s) === stackName);
    const name = schoolNameOf(stackName) ?? arg;
    if (!stack) {
        throw new SchoolError(
            `there is no school ${name} (no stack ${stackName}); \`npm run school -- list\` shows the test schools`,
        );
    }
    return { name, stack };
}

export interface DestroyOptions {
    /** One school; all schools when undefined (then olderThanMs is required). */
    readonly name?: string;
    /** Only destroy schools at least this old (strictly older than). */
    readonly olderThanMs?: number;
    /** How the age was written (`7d`), for messages. */
    readonly olderThanText?: string;
}

export interface DestroyResult {
    readonly destroyed: string[];
    /** Schools left alone, each with the reason. */
    readonly kept: { readonly name: string; readonly reason: string }[];
}

async function destroyStack(deps: SchoolDeps, school: SchoolInfo): Promise<void> {
    assertDestroyable(school.stack, school.config);
    deps.log(`Destroying school ${school.name} (stack ${school.stack})...`);
    try {
        await deps.workspace.destroy(school.stack, deps.output);
    } catch (err) {
        throw new SchoolError(
            `pulumi destroy failed for ${school.stack}: ${describeFailure(err)} (the stack is kept; run destroy again)`,
        );
    }
    await deps.workspace.removeStack(school.stack);
    deps.log(`Destroyed school ${school.name} and removed stack ${school.stack}.`);
}

/**
 * `destroy <name>`, `destroy --older-than 7d`, `destroy <name> --older-than 7d`: `pulumi destroy`
 * then removal of the stack, for test schools only (see assertDestroyable).
 */
export async function destroySchools(deps: SchoolDeps, opts: DestroyOptions): Promise<DestroyResult> {
    const { workspace: ws, log } = deps;
    const ageText = opts.olderThanText ?? (opts.olderThanMs !== undefined ? formatAge(opts.olderThanMs) : "");
    const result: DestroyResult = { destroyed: [], kept: [] };

    if (opts.name !== undefined) {
        const target = resolveTarget(opts.name, await ws.listStacks());
        const school = await readSchool(ws, target);
        assertDestroyable(school.stack, school.config);
        if (opts.olderThanMs !== undefined) {
            const age = ageOf(school, deps.now());
            if (typeof age === "string") {
                throw new SchoolError(
                    `cannot tell the age of school ${school.name}: ${age}; destroy it without --older-than`,
                );
            }
            if (!(age > opts.olderThanMs)) {
                log(`School ${school.name} is ${formatAge(age)} old, not older than ${ageText}; kept.`);
                result.kept.push({ name: school.name, reason: `${formatAge(age)} old` });
                return result;
            }
        }
        await destroyStack(deps, school);
        result.destroyed.push(school.name);
        return result;
    }

    if (opts.olderThanMs === undefined) {
        throw new SchoolError(
            "destroy needs a school name or --older-than, for example `destroy berlin` or `destroy --older-than 7d`",
        );
    }
    const now = deps.now();
    const failures: string[] = [];
    const schools = await schoolStacks(ws);
    if (schools.length === 0) log("No test schools.");
    for (const s of schools) {
        let school: SchoolInfo;
        try {
            school = await readSchool(ws, s);
        } catch (err) {
            failures.push(s.name);
            log(`Failed to read the config of school ${s.name}: ${describeFailure(err)}`);
            continue;
        }
        const keep = (reason: string) => {
            result.kept.push({ name: school.name, reason });
            log(`Skipped school ${school.name}: ${reason}.`);
        };
        if (isProtected(school.config)) {
            keep(`its config has ${configKey("protectData")} = true`);
            continue;
        }
        const age = ageOf(school, now);
        if (typeof age === "string") {
            keep(age);
            continue;
        }
        if (!(age > opts.olderThanMs)) {
            result.kept.push({ name: school.name, reason: `${formatAge(age)} old` });
            log(`Kept school ${school.name}: ${formatAge(age)} old, not older than ${ageText}.`);
            continue;
        }
        try {
            await destroyStack(deps, school);
            result.destroyed.push(school.name);
        } catch (err) {
            failures.push(school.name);
            log(`Failed to destroy school ${school.name}: ${describeFailure(err)}`);
        }
    }
    log(
        `Destroyed ${result.destroyed.length} school(s) older than ${ageText}` +
            `${result.destroyed.length ? ` (${result.destroyed.join(", ")})` : ""}; kept ${result.kept.length}.`,
    );
    if (failures.length > 0) {
        throw new SchoolError(
            `${failures.length} school(s) could not be destroyed: ${failures.join(", ")} (see the output above)`,
        );
    }
    return result;
}
