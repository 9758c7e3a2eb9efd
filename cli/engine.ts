// `ts-node cli/engine.ts <stack>`: the environment that points the docker CLI at the stack's engine,
// as shell assignments (for cli/restore.sh, which is bash); which engine it is goes to stderr.
import { stackEngine } from "./stack";

const stack = process.argv[2] ?? "";
if (!/^[A-Za-z0-9_.-]+$/.test(stack)) {
    process.stderr.write("usage: ts-node cli/engine.ts <stack>\n");
    process.exit(2);
}
const engine = stackEngine(stack);
for (const [name, value] of Object.entries(engine.env))
    process.stdout.write(`export ${name}='${value.replace(/'/g, "'\\''")}'\n`);
process.stderr.write(`Docker host: ${engine.host} (${engine.from})\n`);
