import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export interface DeployStepArgs {
    /** Bash script (from render/deploy.ts). */
    readonly script: string;
    /** Bash script run when the step is deleted (`pulumi destroy`). @default none */
    readonly deleteScript?: string;
    /** Environment of the script: LM_IMAGE, LM_VERSION, DOCKER_HOST, values of passed variables. */
    readonly environment: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** The step runs again (is replaced) whenever one of these changes, e.g. the app image id. */
    readonly triggers: pulumi.Input<unknown>[];
    /** Resources that must exist (be created or updated) before the step runs. */
    readonly after: pulumi.Resource[];
}

/**
 * One step around a deploy (backup, migration, smoke test) as a `@pulumi/command` local Command:
 * it runs on create and whenever its triggers change, and a failing script fails the deploy.
 */
export class DeployStep extends pulumi.ComponentResource {
    public readonly command: command.local.Command;
    public readonly stdout: pulumi.Output<string>;

    constructor(name: string, args: DeployStepArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lernmanager:deploy:DeployStep", name, {}, opts);
        this.command = new command.local.Command(
            name,
            {
                create: args.script,
                delete: args.deleteScript,
                interpreter: ["/bin/bash", "-c"],
                environment: args.environment,
                triggers: args.triggers,
                // The provider's default (true) puts the last stdout into the next update's and the
                // delete's environment: a step printing over 128 KiB (a long migration log) would then
                // fail its next run with E2BIG. No step reads it.
                addPreviousOutputInEnv: false,
            },
            { parent: this, dependsOn: args.after },
        );
        this.stdout = this.command.stdout;
        this.registerOutputs({ stdout: this.stdout });
    }
}
