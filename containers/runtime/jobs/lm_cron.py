"""The stack's job scheduler: runs the app's scheduled jobs (config key `jobs`) in the app image.

    python3 -OO lm_cron.py --jobs '[{"name": ..., "schedule": "0 0 * * 1", "command": ..., "timeZone": ...}]'
    python3 -OO lm_cron.py --health        (the container's health check)
    python3 -OO lm_cron.py --status        (the state file as JSON, for `npm run status`)

Each job's command runs as `/bin/sh -c <command>` in the app folder ($LM_APP_DIR, also on PYTHONPATH),
with the container's environment plus LM_JOB_NAME and LM_JOB_TICK (the tick's local time, ISO 8601).
Its output goes to this process's stdout line by line (`docker logs`), then one line with its exit code.
An exit code the job lists in `nothingToDoExitCodes` (the weekly reports' 1: no report this week) is logged and
recorded as "nothing to do": no failure, the health stays green.

With --admin-guard, the owner also puts back a random password on a recreated default admin once a
minute and after every job (lm_guard.py).

Exactly once per tick, also while two schedulers overlap during an update: a state file in the data
volume (`.lernmanager-jobs.json`, guarded by an flock on `.lernmanager-jobs.lock`) records which
scheduler owns the schedule and, per job, the last tick fired. A scheduler claims ownership when it
starts (the newest started wins; the one it replaces is recorded as retired and never fires again,
even after a restart) and fires a tick only while it is the owner and only if the tick is newer than
the recorded one, deciding both under the lock. A tick missed while no scheduler ran (a replacement,
a reboot) is fired late, once, if it is at most CATCHUP_MINUTES old; older ones are skipped.

Ticks (lm_cronexpr.py) are UTC minutes whose local time matches: in the autumn hour that repeats a
02:30 job fires twice, in the spring hour that does not exist not at all. Stdlib only; runs under -OO.

Tests only: LM_CRON_CLOCK=<speed>x@<epoch seconds> (see Clock) runs the schedule on a clock <speed>
times faster than the wall clock, so the real-engine tests see many minute ticks in little time.
The program never sets it.
"""

import argparse
import collections
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lm_cronexpr import CronError, Schedule, latest_tick, local_time, minute_of  # noqa: F401 (tests use them)

CATCHUP_MINUTES = 60
STATE_FILE = ".lernmanager-jobs.json"
LOCK_FILE = ".lernmanager-jobs.lock"
HEALTH_FILE = "/tmp/lm-cron-health.json"
HEALTH_ARMED = "/tmp/lm-cron-health.armed"
HEARTBEAT_MAX_AGE = 60
SUPERSEDED_MAX_SECONDS = 600
RETIRED_KEPT = 50
POLL_SECONDS = 5
CLOCK_ENV = "LM_CRON_CLOCK"
CLOCK_MAX_SPEED = 60


class Clock:
    """The time the schedule runs on: the wall clock, or (tests only, LM_CRON_CLOCK="6x@1765000000")
    a clock that agrees with the wall clock at that epoch second and runs `speed` times faster from
    there. It is a pure function of the wall clock, so every scheduler of a stack given the same
    value agrees on the minute, as real ones do: the overlap during an update, the state file's
    ticks and the catch-up after a stop keep their meaning, only 60/speed s make a minute. Health
    (heartbeat, superseded) and run durations stay in wall-clock seconds."""

    def __init__(self, spec=None):
        self.speed, self.since = 1.0, 0.0
        if not spec:
            return
        speed, x_at, since = spec.partition("x@")
        try:
            self.speed, self.since = float(speed), float(since)
        except ValueError:
            x_at = ""
        if not x_at or not 1 <= self.speed <= CLOCK_MAX_SPEED or self.since > time.time():
            raise ValueError(
                "%s=%r: must be <speed>x@<epoch seconds>, speed from 1 to %d, the epoch not in the future "
                "(e.g. 6x@%d); it is for tests only, unset it for real stacks"
                % (CLOCK_ENV, spec, CLOCK_MAX_SPEED, int(time.time()))
            )

    def now(self):
        return self.since + (time.time() - self.since) * self.speed

    def wait(self, event, seconds):
        """Waits `seconds` of this clock (or until `event` is set)."""
        return event.wait(seconds / self.speed)

    def __str__(self):
        return "wall clock" if self.speed == 1 else "TEST clock, %gx the wall clock since %d" % (self.speed, self.since)


class State:
    """The state shared by all schedulers of a stack (data volume), read and written under the lock.
    One object per use (`with State(dir) as s:`): the job threads use it at the same time."""

    def __init__(self, directory):
        self.path = os.path.join(directory, STATE_FILE)
        self.lock_path = os.path.join(directory, LOCK_FILE)

    def __enter__(self):
        self.lock = open(self.lock_path, "a")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        try:
            with open(self.path) as f:
                self.data = json.load(f)
        except FileNotFoundError:
            self.data = {}
        except ValueError:
            log("state file %s was unreadable: starting a new one" % self.path)
            self.data = {}
        self.data.setdefault("jobs", {})
        self.data.setdefault("retired", [])
        return self.data

    def __exit__(self, *exc):
        try:
            if exc[0] is None:
                tmp = self.path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.data, f, indent=1, sort_keys=True)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
        finally:
            fcntl.flock(self.lock, fcntl.LOCK_UN)
            self.lock.close()
        return False


def log(message):
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print("[lm-cron] %s %s" % (stamp, message), flush=True)


class Job:
    def __init__(self, spec):
        self.name = spec["name"]
        self.command = spec["command"]
        self.tz_name = spec.get("timeZone") or "UTC"
        self.tz = ZoneInfo(self.tz_name)
        self.schedule = Schedule(spec["schedule"])
        self.expression = spec["schedule"]
        # Exit codes that mean "nothing to do" (the weekly reports' 1), not a failure.
        self.nothing_to_do = frozenset(int(c) for c in spec.get("nothingToDoExitCodes") or [] if int(c) != 0)


class Scheduler:
    def __init__(self, jobs, app_dir, state_dir, me, version, clock=None, guard=None):
        self.jobs, self.app_dir, self.state_dir, self.me, self.version = jobs, app_dir, state_dir, me, version
        self.clock = clock or Clock()
        self.guard, self.guard_lock = guard, threading.Lock()
        self.running, self.failed = {}, {}
        self.superseded_since = None
        self.stopping = threading.Event()
        self.health_lock = threading.Lock()

    def claim(self):
        with State(self.state_dir) as s:
            if self.me in s["retired"]:
                return False
            previous = s.get("owner") or {}
            if previous.get("id") not in (None, self.me):
                s["retired"] = (s["retired"] + [previous["id"]])[-RETIRED_KEPT:]
            s["owner"] = {"id": self.me, "version": self.version, "since": time.time()}
        took = previous.get("id") not in (None, self.me)
        took_over = " (took over from %s, version %s)" % (previous["id"], previous.get("version")) if took else ""
        jobs = ", ".join("%s [%s %s]" % (j.name, j.expression, j.tz_name) for j in self.jobs)
        test_clock = "; on a %s" % self.clock if self.clock.speed != 1 else ""
        guard = "; admin guard on (%r)" % self.guard.username if self.guard else ""
        log("scheduler %s (app version %s) owns the schedule%s; jobs: %s%s%s" % (self.me, self.version, took_over, jobs, guard, test_clock))
        return True

    def due(self, now_minute):
        """Under the lock: the (job, tick) pairs to fire now, each recorded as fired."""
        fire = []
        with State(self.state_dir) as s:
            owner = (s.get("owner") or {}).get("id")
            if owner != self.me:
                if self.superseded_since is None:
                    self.superseded_since = time.time()
                    log("superseded by scheduler %s: this one fires nothing more" % owner)
                return fire
            for job in self.jobs:
                rec = s["jobs"].setdefault(job.name, {})
                last = rec.get("last_tick")
                if last is None:
                    # A new job: its first tick is the current minute.
                    last = rec["last_tick"] = now_minute - 1
                tick = latest_tick(job.schedule, job.tz, now_minute, CATCHUP_MINUTES)
                if tick is None or tick <= last:
                    continue
                if job.name in self.running:
                    log("job %s: tick %s skipped, the previous run is still running" % (job.name, iso(tick, job)))
                    rec["last_tick"] = tick
                    rec["last_skipped"] = {"tick": iso(tick, job), "reason": "previous run still running"}
                    continue
                rec["last_tick"] = tick
                fire.append((job, tick))
            known = {j.name for j in self.jobs}
            for name in [n for n in s["jobs"] if n not in known]:
                del s["jobs"][name]
        return fire

    def run(self, job, tick):
        when = iso(tick, job)
        delay = self.clock.now() - tick * 60
        late = " (caught up, %d s late)" % delay if delay > 2 * POLL_SECONDS else ""
        log("job %s tick %s: start%s: %s" % (job.name, when, late, job.command))
        env = dict(os.environ, LM_JOB_NAME=job.name, LM_JOB_TICK=when)
        env["PYTHONPATH"] = self.app_dir + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        started, started_at = time.time(), self.clock.now()
        tail = collections.deque(maxlen=20)
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", job.command],
                cwd=self.app_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            with proc.stdout:
                for raw in proc.stdout:
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    tail.append(line)
                    print("[job %s %s] %s" % (job.name, when, line), flush=True)
            code = proc.wait()
        except OSError as e:
            tail.append(str(e))
            code = 127
        seconds = time.time() - started
        outcome = "ok" if code == 0 else "nothing to do" if code in job.nothing_to_do else "FAILED"
        said = {"ok": "", "nothing to do": ": nothing to do", "FAILED": " FAILED"}[outcome]
        log("job %s tick %s: exit code %d after %.1f s%s" % (job.name, when, code, seconds, said))
        result = {"tick": when, "started": iso_utc(started_at), "seconds": round(seconds, 1), "exitCode": code,
                  "outcome": outcome, "scheduler": self.me, "version": self.version, "outputTail": list(tail)}
        try:
            with State(self.state_dir) as s:
                rec = s["jobs"].setdefault(job.name, {})
                rec["last_run"] = result
                if outcome == "FAILED":
                    rec["last_failure"] = result
        finally:
            with self.health_lock:
                if outcome != "FAILED":
                    self.failed.pop(job.name, None)
                else:
                    self.failed[job.name] = when
            self.running.pop(job.name, None)
        # A job may run the app's init_app() (auto-attendance does), which recreates admin/admin.
        self.guard_admin()

    def guard_admin(self):
        """The admin guard's check (lm_guard.py), by the owner only; a replacement is logged and kept
        in the state file (`npm run status` shows it)."""
        if self.guard is None or self.superseded_since is not None:
            return
        with self.guard_lock:
            try:
                replaced = self.guard.check()
            except Exception as e:  # a locked or broken database must not stop the schedule
                log("admin guard: check failed: %s: %s" % (type(e).__name__, e))
                return
        if not replaced:
            return
        log("admin guard: %r had the default password again (recreated by the app's init_app after a rename): "
            "replaced by a random one nobody knows" % self.guard.username)
        with State(self.state_dir) as s:
            g = s.setdefault("adminGuard", {"replaced": 0})
            g["replaced"] = g.get("replaced", 0) + replaced
            g["last"] = {"time": iso_utc(time.time()), "user": self.guard.username, "scheduler": self.me}

    def write_health(self):
        with self.health_lock:
            data = {
                "heartbeat": time.time(),
                "failed": dict(self.failed),
                "supersededSince": self.superseded_since,
                "running": sorted(self.running),
            }
        tmp = HEALTH_FILE + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, HEALTH_FILE)

    def loop(self):
        if not self.claim():
            log("scheduler %s was replaced by a newer one before: it stays idle" % self.me)
            self.superseded_since = time.time()
        checked = None
        while not self.stopping.is_set():
            now = self.clock.now()
            minute = minute_of(now)
            if self.superseded_since is None and minute != checked:
                for job, tick in self.due(minute):
                    t = threading.Thread(target=self.run, args=(job, tick), name=job.name)
                    self.running[job.name] = t
                    t.start()
                checked = minute
                self.guard_admin()
            self.write_health()
            # Wake just after the next minute starts, and at least every POLL_SECONDS.
            self.clock.wait(self.stopping, min(POLL_SECONDS, 60 - now % 60 + 0.05))
        running = list(self.running.values())
        if running:
            log("stopping: waiting for %d running job(s)" % len(running))
        for t in running:
            t.join()
        log("stopped")


def iso(minute, job):
    return local_time(minute, job.tz).isoformat(timespec="minutes")


def iso_utc(ts):
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def health():
    """Exit 0 when the loop is alive and no job's last run here failed; else 1 with the reason."""
    try:
        with open(HEALTH_FILE) as f:
            h = json.load(f)
    except (OSError, ValueError):
        print("no health file yet")
        return 1
    age = time.time() - h["heartbeat"]
    problems = []
    if age > HEARTBEAT_MAX_AGE:
        problems.append("scheduler loop silent for %d s" % age)
    if h.get("supersededSince") and time.time() - h["supersededSince"] > SUPERSEDED_MAX_SECONDS:
        problems.append("superseded for more than %d s and still running" % SUPERSEDED_MAX_SECONDS)
    # Job failures count once the container has been healthy once, so a job that fails in the
    # scheduler's first seconds cannot fail the deploy (wait: true); the state file records it anyway.
    if h.get("failed") and os.path.exists(HEALTH_ARMED):
        problems.append("failed: " + ", ".join("%s (tick %s)" % kv for kv in sorted(h["failed"].items())))
    if problems:
        print("; ".join(problems))
        return 1
    if not os.path.exists(HEALTH_ARMED):
        open(HEALTH_ARMED, "w").close()
    print("ok: %d running" % len(h.get("running", [])))
    return 0


def status(state_dir):
    """The state file (every job's last run and failure, the admin guard's replacements) as JSON."""
    try:
        with open(os.path.join(state_dir, STATE_FILE)) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {}
    print(json.dumps({"jobs": data.get("jobs", {}), "adminGuard": data.get("adminGuard")}))
    return 0


def main(argv):
    parser = argparse.ArgumentParser(description="Lernmanager job scheduler")
    parser.add_argument("--jobs", help="JSON list of {name, schedule, command, timeZone, nothingToDoExitCodes}")
    parser.add_argument("--admin-guard", help="JSON {database, table, usernameColumn, hashColumn, username, "
                        "defaultPassword}: replace a recreated default admin password (lm_guard.py)")
    parser.add_argument("--health", action="store_true", help="health check of a running scheduler")
    parser.add_argument("--status", action="store_true", help="the state file as JSON")
    args = parser.parse_args(argv)
    if args.health:
        return health()
    app_dir = os.environ.get("LM_APP_DIR", "/app")
    state_dir = os.path.join(app_dir, os.environ.get("LM_DATA_PATH", "data"))
    if args.status:
        return status(state_dir)
    guard = None
    if args.admin_guard:
        try:
            from lm_guard import AdminGuard

            guard = AdminGuard.from_spec(json.loads(args.admin_guard))
        except (ValueError, KeyError, TypeError) as e:
            log("invalid --admin-guard: %s" % e)
            return 2
    # The jobs' dates are the app's naive local time, as in the app container (lm_preflight.py).
    from lm_preflight import time_zone_problem

    problem = time_zone_problem()
    if problem:
        log("not starting: %s. Fix: `pulumi config set timeZone Europe/Berlin` (the image installs tzdata)" % problem)
        return 2
    try:
        jobs = [Job(spec) for spec in json.loads(args.jobs or "[]")]
    except ZoneInfoNotFoundError as e:
        log("time zone not found in this image (%s): the base image needs tzdata (/usr/share/zoneinfo)" % e)
        return 2
    except (ValueError, KeyError, TypeError) as e:
        log("invalid --jobs: %s" % e)
        return 2
    try:
        clock = Clock(os.environ.get(CLOCK_ENV))
    except ValueError as e:
        log(str(e))
        return 2
    os.makedirs(state_dir, exist_ok=True)
    me = socket.gethostname()
    scheduler = Scheduler(jobs, app_dir, state_dir, me, os.environ.get("LM_APP_VERSION", "unknown"), clock, guard)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: scheduler.stopping.set())
    scheduler.loop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
