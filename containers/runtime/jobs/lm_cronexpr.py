"""Cron expressions for the stack's job scheduler (lm_cron.py): 5 fields like Vixie cron.

    minute hour day-of-month month day-of-week     e.g. "0 0 * * 1" (Mondays 00:00)

Fields take `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`; months and weekdays
also take names (jan..dec, sun..sat; 0 and 7 are Sunday); macros @hourly @daily @midnight @weekly
@monthly @yearly @annually. When both day fields are restricted, a day matches if either does.
config/jobs.ts validates the config with the same rules (a unit test runs both over one table).

Run as `python3 lm_cronexpr.py EXPR` it prints the parsed fields as JSON (exit 2 on an error).
A tick is a UTC minute (epoch seconds // 60) whose local time in the job's time zone matches.
"""

import json
import os
import sys
from datetime import datetime

# The dialect's tables, shared with config/jobs.ts (which checks `jobs` before any deploy).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cron.json")) as _f:
    _CRON = json.load(_f)
FIELDS = tuple(tuple(f) for f in _CRON["fields"])
MONTH_NAMES = {n: i + 1 for i, n in enumerate(_CRON["monthNames"])}
DAY_NAMES = {n: i for i, n in enumerate(_CRON["dayNames"])}
MACROS = dict(_CRON["macros"])
DAYS_IN_MONTH = tuple(_CRON["daysInMonth"])


class CronError(ValueError):
    pass


def _value(text, field, lo, hi, names):
    word = text.lower()
    if names and word in names:
        return names[word]
    if not text.isdigit():
        raise CronError("%s: %r is not a number%s" % (field, text, " or a name" if names else ""))
    n = int(text)
    if n < lo or n > hi:
        raise CronError("%s: %d is outside %d-%d" % (field, n, lo, hi))
    return n


def parse_field(text, field, lo, hi, names=None):
    values = set()
    for part in text.split(","):
        span, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError("%s: step %r must be a whole number of 1 or more" % (field, step_text))
            step = int(step_text)
        if span == "*":
            a, b = lo, hi
        elif "-" in span:
            first, _, last = span.partition("-")
            a, b = _value(first, field, lo, hi, names), _value(last, field, lo, hi, names)
            if a > b:
                raise CronError("%s: range %r runs backwards" % (field, span))
        elif slash:
            raise CronError("%s: a step needs a range or * before it (%r)" % (field, part))
        else:
            a = b = _value(span, field, lo, hi, names)
        values.update(range(a, b + 1, step))
    return values


class Schedule:
    """A parsed 5-field cron expression (Vixie cron semantics)."""

    def __init__(self, expression):
        text = MACROS.get(expression.strip().lower(), expression)
        parts = text.split()
        if len(parts) != 5:
            raise CronError("needs 5 fields (minute hour day-of-month month day-of-week), got %d" % len(parts))
        sets = []
        for part, (field, lo, hi) in zip(parts, FIELDS):
            names = MONTH_NAMES if field == "month" else DAY_NAMES if field == "day of week" else None
            sets.append(parse_field(part, field, lo, hi, names))
        self.minutes, self.hours, self.days, self.months, dows = sets
        self.weekdays = {0 if d == 7 else d for d in dows}
        # Vixie cron: when both day fields are restricted, a day matches if EITHER matches.
        self.day_star = parts[2].startswith("*")
        self.weekday_star = parts[4].startswith("*")
        if self.weekday_star and not any(d <= DAYS_IN_MONTH[m - 1] for m in self.months for d in self.days):
            raise CronError("never fires: no month in the expression has such a day")

    def fields(self):
        return {
            "minute": sorted(self.minutes),
            "hour": sorted(self.hours),
            "dayOfMonth": sorted(self.days),
            "month": sorted(self.months),
            "dayOfWeek": sorted(self.weekdays),
        }

    def matches(self, local):
        if local.minute not in self.minutes or local.hour not in self.hours or local.month not in self.months:
            return False
        day = local.day in self.days
        weekday = (local.weekday() + 1) % 7 in self.weekdays
        if self.day_star or self.weekday_star:
            return day and weekday
        return day or weekday


def minute_of(ts):
    return int(ts // 60)


def local_time(minute, tz):
    return datetime.fromtimestamp(minute * 60, tz)


def latest_tick(schedule, tz, now_minute, lookback):
    """The newest minute in [now_minute - lookback, now_minute] the schedule fires at, or None."""
    for m in range(now_minute, now_minute - lookback - 1, -1):
        if schedule.matches(local_time(m, tz)):
            return m
    return None


if __name__ == "__main__":
    # `python3 lm_cronexpr.py EXPR`: the parsed fields as JSON (exit 0), or the error (exit 2).
    try:
        print(json.dumps(Schedule(sys.argv[1]).fields()))
    except CronError as error:
        print("error: %s" % error)
        sys.exit(2)
