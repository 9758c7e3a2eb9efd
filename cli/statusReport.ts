// The one-screen status of a stack (`npm run status`): pure formatting of what cli/status.ts
// gathered, and the verdict (a person is needed, or not).
import { schedulerLines, type SchedulerFacts } from "./jobsStatus";

export interface BackupStatus {
    lastBackup?: {
        file: string;
        time: string;
        bytes: number;
        seconds: number;
        reason?: string;
        uploads?: { files: number; copied: number };
    };
    lastBackupError?: { time: string; error: string };
    /** After a failed backup: when the loop tries again (it backs off). */
    retryAfter?: string;
    copies?: Record<
        string,
        { time: string; ok: boolean; error?: string; copied?: number; seconds?: number; encrypted?: boolean }
    >;
    lastDrill?: {
        time: string;
        ok: boolean;
        backup: string;
        seconds: number;
        rows?: Record<string, number>;
        healthz?: number;
        error?: string;
    };
    backups?: { file: string; bytes: number }[];
    health?: string[];
    disk?: { free: number; total: number };
    config?: { everySeconds?: number | null; copyDirs?: [string, string][]; sftp?: string[] };
}

export interface StatusFacts {
    readonly stack: string;
    readonly now: Date;
    readonly apps: { name: string; version: string; health: string }[];
    readonly nginx?: { health: string };
    /** The backup container's --status, or why it could not be read. */
    readonly backup: BackupStatus | { error: string };
    /** The scheduler's health and --status (absent: the stack has no jobs). */
    readonly scheduler?: SchedulerFacts;
}

const gb = (n: number) => `${(n / 1e9).toFixed(1)} GB`;
const size = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`);
function ago(now: Date, iso: string): string {
    const min = Math.round((now.getTime() - Date.parse(iso)) / 60000);
    const when = iso.slice(0, 16).replace("T", " ");
    return `${when} UTC (${min < 120 ? `${min} min` : `${Math.round(min / 60)} h`} ago)`;
}

/** The screen's lines and the problems that need a person (exit 1 when there is any). */
export function statusReport(f: StatusFacts): { lines: string[]; problems: string[] } {
    const problems: string[] = [];
    const lines: string[] = [];
    const healthy = f.apps.filter((a) => a.health === "healthy");
    if (f.apps.length === 0) problems.push("no app container is running");
    else if (healthy.length === 0) problems.push(`the app is ${f.apps.map((a) => a.health).join(", ")}`);
    if (!f.nginx) problems.push("nginx is not running");
    else if (f.nginx.health !== "healthy") problems.push(`nginx is ${f.nginx.health}`);
    const versions = [...new Set(f.apps.map((a) => a.version))].join(", ") || "-";
    lines.push(
        `stack ${f.stack}: app ${versions} ${healthy.length ? "healthy" : "NOT healthy"}, nginx ${f.nginx?.health ?? "missing"}`,
    );
    if (f.scheduler) {
        const jobs = schedulerLines(f.scheduler, (iso) => ago(f.now, iso));
        lines.push(...jobs.lines);
        problems.push(...jobs.problems);
    }
    if ("error" in f.backup) {
        problems.push(`backups: ${f.backup.error}`);
        lines.push(`backups       ${f.backup.error}`);
        return { lines: [...lines, verdict(problems)], problems };
    }
    const b = f.backup;
    const last = b.lastBackup;
    lines.push(
        last
            ? `last backup   ${ago(f.now, last.time)}, ${size(last.bytes)}, ${last.seconds.toFixed(2)} s, ${last.reason ?? "deploy"}; ${b.backups?.length ?? 0} kept` +
                  (last.uploads ? `; uploads ${last.uploads.files} files (${last.uploads.copied} new or changed)` : "")
            : `last backup   none yet${b.backups?.length ? ` (${b.backups.length} taken before deploys)` : ""}`,
    );
    if (b.lastBackupError)
        lines.push(
            `backup FAILED ${ago(f.now, b.lastBackupError.time)}: ${b.lastBackupError.error}` +
                (b.retryAfter ? `; next try ${b.retryAfter.slice(11, 16)} UTC` : ""),
        );
    const copies = Object.entries(b.copies ?? {});
    const configured = [...(b.config?.copyDirs ?? []).map(([d]) => d), ...(b.config?.sftp ?? [])];
    lines.push(
        configured.length === 0
            ? "off-host copy NONE configured (backupCopyTo), or pulled by the backup server (docs/backups.md)"
            : `off-host copy ${configured
                  .map((t) => {
                      const c = copies.find(([k]) => k === t)?.[1];
                      return !c
                          ? `${t}: not yet`
                          : c.ok
                            ? `${t}: ok ${ago(f.now, c.time)}${c.encrypted ? ", encrypted" : c.encrypted === false ? ", plain (backupEncryptTo none)" : ""}`
                            : `${t}: FAILED (${c.error})`;
                  })
                  .join("; ")}`,
    );
    const d = b.lastDrill;
    const rows = d?.rows ? Object.values(d.rows).reduce((a, n) => a + n, 0) : 0;
    lines.push(
        !d
            ? "last drill    none yet"
            : d.ok
              ? `last drill    ok ${ago(f.now, d.time)}, ${d.seconds} s, integrity ok, ${Object.keys(d.rows ?? {}).length} tables, ${rows} rows, /healthz ${d.healthz}`
              : `last drill    FAILED ${ago(f.now, d.time)} on ${d.backup}: ${d.error}`,
    );
    if (b.disk) {
        const pct = Math.round((100 * b.disk.free) / b.disk.total);
        lines.push(`disk          data path: ${gb(b.disk.free)} free of ${gb(b.disk.total)} (${pct} %)`);
        if (pct < 10) problems.push(`only ${pct} % of the data path's disk is free`);
    }
    problems.push(...(b.health ?? []));
    return { lines: [...lines, verdict(problems)], problems };
}

function verdict(problems: string[]): string {
    return problems.length === 0 ? "OK" : `NEEDS A PERSON: ${problems.join("; ")}`;
}
