/**
 * The declared graph of the dev and prod stacks, as `pulumi preview` would compare it with a
 * deployed stack's state: every URN, input and plan-changing option. The snapshot was recorded
 * before the files moved into the layer folders (docs/architecture.md); the moves changed only
 * where the images' files live, so a deployed stack keeps every resource. A change here is a diff
 * every deployed stack will see: update the snapshot (`npx jest -u test/unit/graph.test.ts`) on
 * purpose, and say so in the change.
 */
import { declaredGraph, withoutFileLocations } from "../support/graph";

describe.each(["dev", "prod"] as const)("the %s stack's declared graph", (stack) => {
    test("same URNs, inputs and options as recorded", async () => {
        const graph = withoutFileLocations(await declaredGraph(stack));
        expect(graph.length).toBeGreaterThan(30);
        expect(graph).toMatchSnapshot();
    });
});
