import * as path from "path";

/** Project root (where Pulumi.yaml is), independent of the working directory. */
export const PROJECT_DIR = path.resolve(__dirname, "..");
/** The Dockerfiles and scripts the images are built from. */
export const FILES_DIR = path.join(PROJECT_DIR, "files");
