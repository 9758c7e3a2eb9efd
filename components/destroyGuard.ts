import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export interface DestroyGuardArgs {
    /** While true, `pulumi destroy` removes nothing. */
    readonly protectData: boolean;
    /** Stack name, for the message. */
    readonly stack: string;
    /** Everything else of the stack (a component stands for all its descendants). */
    readonly after: pulumi.Resource[];
}

/** Text the guard's delete prints while protectData is on (exported for the tests). */
export function destroyRefusal(stack: string): string {
    return (
        `lernmanager: pulumi destroy of stack ${stack} refused, nothing was removed: protectData is on. ` +
        `To remove the service and keep the data volumes: \`pulumi config set lernmanager:protectData false\`, ` +
        `\`pulumi up\`, then \`pulumi destroy\` (with protectData off the data volumes are removed too: back them up first).`
    );
}

/**
 * Makes `pulumi destroy` of a protected stack remove nothing. A protected
 * resource alone does not: the engine fails its delete and goes on deleting every other resource.
 * The guard is created after every other resource of the stack (`dependsOn` the whole stack
 * component), so a destroy deletes it first and alone; while protectData is on its delete fails,
 * and the engine then deletes none of the guard's transitive dependencies
 * (pulumi/pulumi pkg/resource/deploy/deployment_executor.go `performDeletes`: `erroredDeps`).
 * Its delete reads protectData from the state of the last `up`, like `protect` itself.
 */
export class DestroyGuard extends pulumi.ComponentResource {
    public readonly command: command.local.Command;

    constructor(name: string, args: DestroyGuardArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lernmanager:deploy:DestroyGuard", name, {}, opts);
        this.command = new command.local.Command(
            name,
            {
                create: "true",
                delete: [
                    'if [ "$LM_PROTECT_DATA" = true ]; then',
                    '  echo "$LM_REFUSAL" >&2',
                    "  exit 1",
                    "fi",
                    "",
                ].join("\n"),
                interpreter: ["/bin/bash", "-c"],
                environment: {
                    LM_PROTECT_DATA: String(args.protectData),
                    LM_REFUSAL: destroyRefusal(args.stack),
                },
                // Its delete needs only its environment (see DeployStep: no previous output in it).
                addPreviousOutputInEnv: false,
            },
            { parent: this, dependsOn: args.after },
        );
        this.registerOutputs({});
    }
}
