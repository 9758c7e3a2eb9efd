import { formatAge, formatTime } from "./age";
import { configKey, CREATED_AT_TAG, schoolNameOf, schoolStackName, shortStackName } from "./rules";
import type { OutputSink, SchoolWorkspace } from "./workspace";

/** Finding the test schools among the project's stacks, their age, and `list` / `exists`. */

/** What the school functions need from the outside world. */
export interface SchoolDeps {
    readonly workspace: SchoolWorkspace;
    /** True when nothing listens on 127.0.0.1:port (see ports.ts). */
    readonly isPortFree: (port: number) => Promise<boolean>;
    readonly now: () => Date;
    /** One line of the command's own messages. */
    readonly log: (line: string) => void;
    /** Pulumi's streamed output during up and destroy. */
    readonly output: OutputSink;
}

/** A test school as found in the backend. */
export interface SchoolInfo {
    readonly name: string;
    /** Stack name as listed. */
    readonly stack: string;
    readonly config: Readonly<Record<string, string>>;
    /** ISO creation time from config, else from the stack tag; undefined when neither has one. */
    readonly createdAt?: string;
}

/** The test schools among the project's stacks, sorted by name. */
export async function schoolStacks(ws: SchoolWorkspace): Promise<{ name: string; stack: string }[]> {
    const out: { name: string; stack: string }[] = [];
    for (const stack of await ws.listStacks()) {
        const name = schoolNameOf(stack);
        if (name !== undefined) out.push({ name, stack });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
}

export async function readSchool(ws: SchoolWorkspace, s: { name: string; stack: string }): Promise<SchoolInfo> {
    const config = await ws.getAllConfig(s.stack);
    let createdAt = config[configKey("createdAt")] || undefined;
    if (!createdAt) {
        // Pulumi.<stack>.yaml stays on the machine that created the school; the tag travels with the state.
        const tags = await ws.listTags(s.stack).catch(() => ({}) as Record<string, string>);
        createdAt = tags[CREATED_AT_TAG] || undefined;
    }
    return { ...s, config, createdAt };
}

/** Age of a school in ms, or a reason why it has none. */
export function ageOf(school: SchoolInfo, now: Date): number | string {
    if (!school.createdAt) return "it has no createdAt (neither in its config nor as a stack tag)";
    const t = Date.parse(school.createdAt);
    if (Number.isNaN(t)) return `its createdAt ${JSON.stringify(school.createdAt)} is not a time`;
    return now.getTime() - t;
}

/** One row of `list`. */
export interface SchoolRow {
    readonly name: string;
    /** Stack output `url`, or `-` when never deployed. */
    readonly url: string;
    /** `3d 4h`, or `-` without createdAt. */
    readonly age: string;
    /** `2025-11-20 09:15 UTC`, or `-`. */
    readonly created: string;
}

/** The test schools with URL, age and creation time. */
export async function listSchools(deps: SchoolDeps): Promise<SchoolRow[]> {
    const now = deps.now();
    const rows: SchoolRow[] = [];
    for (const s of await schoolStacks(deps.workspace)) {
        const school = await readSchool(deps.workspace, s);
        const outputs = await deps.workspace.stackOutputs(s.stack).catch(() => ({}) as Record<string, unknown>);
        const url = typeof outputs.url === "string" && outputs.url !== "" ? outputs.url : "-";
        const age = ageOf(school, now);
        const created = typeof age === "number" ? formatTime(new Date(Date.parse(school.createdAt as string))) : "-";
        rows.push({ name: school.name, url, age: typeof age === "number" ? formatAge(age) : "-", created });
    }
    return rows;
}

/** `list` as a table (or a hint when there is no school). */
export function formatSchoolTable(rows: readonly SchoolRow[]): string {
    if (rows.length === 0) return "No test schools. Create one with `npm run school -- create <name>`.";
    const header: SchoolRow = { name: "NAME", url: "URL", age: "AGE", created: "CREATED" };
    const all = [header, ...rows];
    const cols: (keyof SchoolRow)[] = ["name", "url", "age", "created"];
    const width = Object.fromEntries(cols.map((c) => [c, Math.max(...all.map((r) => r[c].length))])) as Record<
        keyof SchoolRow,
        number
    >;
    return all
        .map((r) => cols.map((c, i) => (i === cols.length - 1 ? r[c] : r[c].padEnd(width[c]))).join("  "))
        .join("\n");
}

/** `exists <name>`: whether stack `school-<name>` exists. */
export async function schoolExists(ws: SchoolWorkspace, name: string): Promise<boolean> {
    const stack = schoolStackName(name);
    return (await ws.listStacks()).some((s) => shortStackName(s) === stack);
}
