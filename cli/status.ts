// `npm run status -- <stack>`: app version and health, the jobs' last runs and the admin guard, last
// backup, last off-host copy, last drill, free disk on the data path; exit 0 when all is well, 1 when a person is needed, 2 on bad usage.
import { backupContainer, containers, docker, inspect, RUNTIME_DIR, stackArg } from "./stack";
import type { SchedulerFacts } from "./jobsStatus";
import { BackupStatus, statusReport } from "./statusReport";

const { stack } = stackArg(process.argv.slice(2), "usage: npm run status -- <stack> [--json]");
const apps = containers(stack, "app").map(inspect);
const nginxName = containers(stack, "nginx")[0];
let backup: BackupStatus | { error: string };
try {
    const name = backupContainer(stack);
    backup = JSON.parse(docker(["exec", name, "python3", "-OO", `${RUNTIME_DIR}/lm_backupd.py`, "--status"]));
} catch (e) {
    backup = { error: (e as Error).message };
}
// The newest scheduler (during a deploy two may run; the state file is one, in the data volume).
const schedulerName = containers(stack, "scheduler")[0];
let scheduler: SchedulerFacts | undefined;
if (schedulerName) {
    let status: SchedulerFacts["status"];
    try {
        status = JSON.parse(docker(["exec", schedulerName, "python3", "-OO", `${RUNTIME_DIR}/lm_cron.py`, "--status"]));
    } catch (e) {
        status = { error: (e as Error).message };
    }
    scheduler = { health: inspect(schedulerName).health, status };
}
const report = statusReport({
    stack,
    now: new Date(),
    apps,
    nginx: nginxName ? { health: inspect(nginxName).health } : undefined,
    backup,
    scheduler,
});
process.stdout.write(`${report.lines.join("\n")}\n`);
process.exit(report.problems.length ? 1 : 0);
