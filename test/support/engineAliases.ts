/**
 * Which resource of the old state a registration is: by its URN first, then by its aliases, as
 * Pulumi's step generator decides (PE = pulumi/pulumi pkg/resource/deploy/step_generator.go):
 * - `generateSteps`: the lookup tries the URN, then every alias in order; the first found in the old
 *   state is the old resource (an update or same, never a replacement because of the new URN), and
 *   the alias used is remembered for the resource's children (`sg.aliases`). Claiming an old URN
 *   that another resource already claimed, or that this deployment already registered, is an error.
 * - `collapseAliasToUrn`: an alias given as name and/or type means the resource's own URN with
 *   that name and/or type (same parent, unless `noParent`).
 * - `generateAliases` / `inheritedChildAlias`: a child of a resource found by an alias also gets
 *   aliases under the parent's old URN, its name's prefix changed from the parent's new name to the
 *   parent's old name (the `${name}-details` convention); so renaming or retyping a component
 *   carries its whole subtree along.
 * Old resources no registration claims are deleted at the end of the update (`performDeletes`).
 */
import type { AliasSpec } from "./mocks";

export interface AliasGoal {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly parentUrn?: string;
    readonly aliases?: AliasSpec[];
}

const parts = (urn: string) => urn.split("::");
/** The type chain: parent types and the resource's own type, `$`-separated. */
const qualifiedType = (urn: string) => parts(urn)[2];
const urnName = (urn: string) => parts(urn).slice(3).join("::");
const urnType = (urn: string) => qualifiedType(urn).split("$").pop()!;

/** sdk resource/urn.go `NewURN`, in the stack and project of `of`. */
function newUrn(of: string, parentQualifiedType: string, type: string, name: string): string {
    const [stackPart, project] = parts(of);
    return `${stackPart}::${project}::${parentQualifiedType ? `${parentQualifiedType}$` : ""}${type}::${name}`;
}

function collapseAliasToUrn(goal: AliasGoal, alias: AliasSpec): string {
    if (typeof alias === "string") return alias;
    const parent = alias.noParent ? undefined : goal.parentUrn;
    return newUrn(goal.urn, parent ? qualifiedType(parent) : "", alias.type ?? goal.type, alias.name ?? goal.name);
}

function inheritedChildAlias(goal: AliasGoal, childType: string, childName: string, parentAlias: string): string {
    const parentName = urnName(goal.parentUrn!);
    const aliasName = childName.startsWith(parentName)
        ? urnName(parentAlias) + childName.slice(parentName.length)
        : childName;
    return newUrn(goal.urn, qualifiedType(parentAlias), childType, aliasName);
}

function generateAliases(goal: AliasGoal, aliasUsed: Map<string, string>): string[] {
    const result = new Set<string>();
    for (const a of goal.aliases ?? []) result.add(collapseAliasToUrn(goal, a));
    const parentAlias = goal.parentUrn ? aliasUsed.get(goal.parentUrn) : undefined;
    if (parentAlias) {
        result.add(inheritedChildAlias(goal, goal.type, goal.name, parentAlias));
        for (const a of goal.aliases ?? []) {
            const childAlias = collapseAliasToUrn(goal, a);
            result.add(inheritedChildAlias(goal, urnType(childAlias), urnName(childAlias), parentAlias));
        }
    }
    return [...result];
}

/**
 * For each goal (in registration order: a parent before its children), the old URN it takes over,
 * or undefined for a new resource.
 */
export function matchOlds(goals: AliasGoal[], olds: ReadonlySet<string>): Map<string, string | undefined> {
    const result = new Map<string, string | undefined>();
    const aliasUsed = new Map<string, string>(); // new URN -> the old URN it was found by (sg.aliases)
    const claimedBy = new Map<string, string>(); // old URN -> the new URN that claimed it (sg.aliased)
    const seen = new Set<string>(); // sg.urns
    for (const goal of goals) {
        if (seen.has(goal.urn)) throw new Error(`duplicate resource URN ${goal.urn}`);
        seen.add(goal.urn);
        if (claimedBy.has(goal.urn))
            throw new Error(`${goal.urn} is already claimed as an alias by ${claimedBy.get(goal.urn)}`);
        let found: string | undefined;
        for (const u of [goal.urn, ...generateAliases(goal, aliasUsed)]) {
            if (!olds.has(u)) continue;
            if (u !== goal.urn) {
                if (seen.has(u) || claimedBy.has(u))
                    throw new Error(`${goal.urn} has alias ${u}, which another resource of this program already is`);
                claimedBy.set(u, goal.urn);
                aliasUsed.set(goal.urn, u);
            }
            found = u;
            break;
        }
        result.set(goal.urn, found);
    }
    return result;
}
