// The shape of one config key (config/keys.ts CONFIG_KEYS and the key tables spread into it).

import type { Format } from "./formats";

/** "objects": a list of objects, declared in Pulumi.yaml without a `type` (its schema has no object items). */
export type Kind = "string" | "integer" | "boolean" | "array" | "objects";

export interface KeySpec {
    readonly kind: Kind;
    readonly default: string | number | boolean | readonly string[];
    readonly description: string;
    /** The app's environment variable this key sets (app settings), when it is one. */
    readonly env?: string;
    /** Set it with `pulumi config set --secret`; it reaches only the app's (secret) environment. */
    readonly secret?: boolean;
    /** integer: the smallest and largest value accepted (every integer key has one). */
    readonly range?: readonly [number, number];
    /** integer: why values beyond the range are refused, when it is not obvious (shown in the problem line). */
    readonly rangeReason?: string;
    /** string: what the value must look like (config/formats.ts), checked by loadConfig's loop. */
    readonly format?: Format;
}

/** An integer key: the values it accepts (both ends included), its default and what it does. */
export function integer(range: readonly [number, number], def: number, description: string, rangeReason?: string) {
    return rangeReason === undefined
        ? ({ kind: "integer", range, default: def, description } as const)
        : ({ kind: "integer", range, default: def, description, rangeReason } as const);
}
