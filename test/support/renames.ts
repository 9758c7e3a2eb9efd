/**
 * The program's registrations as they were before its renames, to deploy a stack "made
 * by the old version" and update it with the current one: the component's type was
 * `lernmanager:index:LernmanagerStack` (now `Lernmanager`) and the image-prune step was named
 * `<prefix>-images` (now `<prefix>-image-prune`, its command named like it). Nothing else changed
 * (`git log -p components/lernmanager.ts`), and the old program declared no aliases.
 */
import { OLD_COMPONENT_TYPE, OLD_PRUNE_SUFFIX } from "../../components/lernmanager";
import type { Registration } from "./mocks";

const NEW_TYPE = "lernmanager:index:Lernmanager";
const NEW_PRUNE_SUFFIX = "-image-prune";

export function beforeRenames(regs: Registration[]): Registration[] {
    const name = (n: string) =>
        n.endsWith(NEW_PRUNE_SUFFIX) ? n.slice(0, -NEW_PRUNE_SUFFIX.length) + OLD_PRUNE_SUFFIX : n;
    const urn = (u: string) => {
        const [stack, project, types, ...rest] = u.split("::");
        const chain = types
            .split("$")
            .map((t) => (t === NEW_TYPE ? OLD_COMPONENT_TYPE : t))
            .join("$");
        return [stack, project, chain, name(rest.join("::"))].join("::");
    };
    return regs.map((r) => ({
        ...r,
        type: r.type === NEW_TYPE ? OLD_COMPONENT_TYPE : r.type,
        name: name(r.name),
        urn: urn(r.urn),
        opts: {
            ...r.opts,
            aliases: undefined,
            parent: r.opts.parent && name(r.opts.parent),
            parentUrn: r.opts.parentUrn && urn(r.opts.parentUrn),
            dependsOn: r.opts.dependsOn.map(name),
        },
    }));
}

/** The same registrations without their `aliases`: what the current program would be without them. */
export function withoutAliases(regs: Registration[]): Registration[] {
    return regs.map((r) => ({ ...r, opts: { ...r.opts, aliases: undefined } }));
}
