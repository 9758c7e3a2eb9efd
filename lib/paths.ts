import * as path from "path";

/** Project root (where Pulumi.yaml is), independent of the working directory. */
export const PROJECT_DIR = path.resolve(__dirname, "..");
/** The Dockerfiles and scripts the images are built from. */
export const FILES_DIR = path.join(PROJECT_DIR, "files");

/**
 * A path as the Docker provider should get it: relative to the project folder (Pulumi runs the
 * program and the providers there), so two checkouts in different places declare the same inputs.
 */
export function projectRelative(absolute: string): string {
    return path.relative(PROJECT_DIR, absolute) || ".";
}
