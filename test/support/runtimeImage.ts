import * as fs from "fs";
import * as path from "path";
import { CONTAINERS_DIR } from "../../core/paths";

/** The role folders the runtime Dockerfile copies into the helpers' folder (`COPY app/ deploy/ ... /opt/lernmanager/`). */
export function runtimeCopies(): string[] {
    const dockerfile = fs.readFileSync(path.join(CONTAINERS_DIR, "runtime", "Dockerfile"), "utf8");
    const line = /^COPY ((?:[a-z]+\/ )+)\/opt\/lernmanager\/$/m.exec(dockerfile);
    return line
        ? line[1]
              .trim()
              .split(" ")
              .map((d) => d.replace(/\/$/, ""))
        : [];
}
