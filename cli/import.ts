// `npm run import -- <stack> <path | ssh://[user@]host[:port]/path> [--overwrite] [--show-secrets]`
// `npm run import -- <stack> --from-plain-volumes`: the stack's Docker volumes into the ones bound to dataHostPath.
// Copies an old Lernmanager install's data/, uploads and further persistent folders into the stack's
// volumes before its first `pulumi up` (docs/import-and-cutover.md). Reads the stack's settings from
// Pulumi.<stack>.yaml (no Pulumi CLI needed) and talks to the Docker engine that docker:host names.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { encryptedKeys, stackFileConfig, withBaseStack } from "../config/baseStack";
import { ConfigError, loadConfig } from "../config/load";
import { dockerEndpoint } from "../config/docker";
import { ImportError, parseSource, runImport } from "../render/import";
import { plainVolumesSource } from "../render/importMove";
import { formatImport } from "./importReport";
import { stackNames } from "../core/names";
import { PROJECT_DIR } from "../core/paths";

const USAGE = `usage: npm run import -- <stack> <old install: /opt/lernmanager | ssh://admin@server/opt/lernmanager> [--overwrite] [--show-secrets]
       npm run import -- <stack> --from-plain-volumes [--overwrite]

Copies data/ (each SQLite database by SQLite's online backup), the uploads and the further persistent
folders (with data/migrations_done.txt) into the stack's volumes, owned by the app's user, before
the stack's first \`pulumi up\`. Refuses volumes that already hold something unless --overwrite.
Prints the old .env's settings as \`pulumi config set\` commands (secret values hidden unless
--show-secrets). An ssh:// source uses your ssh config and keys (ssh, then python3 on the server).
With dataHostPath set, the volumes it fills are bound to that folder. --from-plain-volumes copies a
stack that ran on Docker's own volumes into its bound ones (a safety backup first; the plain volumes
are left as they were): the switch to dataHostPath, docs/backups.md.`;

/** The stack's config as the program sees it (its file on top of its baseStack's); no Pulumi CLI needed. */
export function stackConfig(projectDir: string, project: string, stack: string): Record<string, string> {
    const raw = stackFileConfig(projectDir, stack);
    if (!raw)
        throw new ImportError(
            `${path.join(projectDir, `Pulumi.${stack}.yaml`)} does not exist. Fix: \`pulumi stack init ${stack}\` and set its config first (docs/school-settings.md)`,
        );
    return withBaseStack(raw, project, projectDir);
}

async function main(argv: string[]): Promise<number> {
    const flags = argv.filter((a) => a.startsWith("--"));
    const [stack, sourceText, ...rest] = argv.filter((a) => !a.startsWith("--"));
    const unknown = flags.filter((f) => !["--overwrite", "--show-secrets", "--from-plain-volumes"].includes(f));
    const fromPlain = flags.includes("--from-plain-volumes");
    if (flags.includes("--help") || !stack || !sourceText === !fromPlain || rest.length || unknown.length) {
        console.log(USAGE);
        return flags.includes("--help") ? 0 : 1;
    }
    const project = (YAML.parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as { name: string })
        .name;
    const raw = stackConfig(PROJECT_DIR, project, stack);
    // Secrets set with --secret (backupSftpKey, tlsKey, ...) are encrypted in the file: set, not readable here.
    const config = loadConfig(raw, {
        project,
        projectDir: PROJECT_DIR,
        encryptedKeys: encryptedKeys(PROJECT_DIR, stack, project),
    });
    const endpoint = dockerEndpoint(raw, process.env);
    console.log(`Importing into stack ${stack} on ${endpoint.host} ...`);
    const report = await runImport({
        stack,
        names: stackNames(project, stack, config.dataHostPath),
        config,
        source: fromPlain ? plainVolumesSource(config, project, stack) : parseSource(sourceText),
        overwrite: flags.includes("--overwrite"),
        dockerEnv: endpoint.env,
    });
    console.log(formatImport(report, stack, flags.includes("--show-secrets"), config.appEnv).join("\n"));
    console.log(`\nNext: \`pulumi up -s ${stack}\` (docs/import-and-cutover.md).`);
    return 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (err: unknown) => {
            const known = err instanceof ImportError || err instanceof ConfigError;
            console.error(`import: ${known ? (err as Error).message : String((err as Error)?.stack ?? err)}`);
            process.exitCode = 1;
        },
    );
}
