/**
 * `pulumi up` of the stand-in CLI (test/support/pulumiStandIn/pulumi): the program under Pulumi's
 * mocks with the stack's config (the offline test images for the default ones), its outputs saved
 * as the stack's outputs. Prints what it registered, as the CLI prints its resources.
 */
import * as fs from "fs";
import * as path from "path";
import { runProgram, testConfig } from "./mocks";

async function main(stack: string): Promise<void> {
    const file = path.join(process.env.LM_PULUMI_STANDIN_STATE ?? "", "state.json");
    const state = JSON.parse(fs.readFileSync(file, "utf8"));
    const run = await runProgram(testConfig(state.stacks[stack].config), { stack });
    // Read again: the CLI process wrote its call log meanwhile.
    const now = JSON.parse(fs.readFileSync(file, "utf8"));
    now.stacks[stack].outputs = JSON.parse(JSON.stringify(run.outputs));
    now.stacks[stack].registered = run.registrations.filter((r) => r.custom).map((r) => r.name);
    fs.writeFileSync(file, `${JSON.stringify(now, null, 2)}\n`);
    process.stdout.write(`Updating (${stack}): ${now.stacks[stack].registered.length} resources registered\n`);
}

main(process.argv[2]).catch((e) => {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
});
