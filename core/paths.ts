import * as path from "path";

/** Project root (where Pulumi.yaml is), independent of the working directory. */
export const PROJECT_DIR = path.resolve(__dirname, "..");
/** What runs inside the containers: the Dockerfiles and scripts the images are built from, a folder per image or role. */
export const CONTAINERS_DIR = path.join(PROJECT_DIR, "containers");

/**
 * A path as the Docker provider should get it: relative to the project folder (Pulumi runs the
 * program and the providers there), so two checkouts in different places declare the same inputs.
 */
export function projectRelative(absolute: string): string {
    return path.relative(PROJECT_DIR, absolute) || ".";
}
