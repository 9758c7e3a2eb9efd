# Lernmanager demo app: the weekly class reports, one PDF per class (reportlab).
#
# Run from the app folder, like the real app's script (the stack's scheduler does it on Mondays):
#     SECRET_KEY=... python3 generate_weekly_reports.py
# Writes instance/reports/<year>-W<week>-klasse-<name>.pdf (the folder is created; REPORTS_DIR
# overrides it) and prints one line per file. As the real script:
# - the week is the one before today's, Monday to Sunday, in naive local dates (date.today(): the
#   right week only with the school's TZ);
# - each PDF is written straight to its final name (not atomic: a run stopped midway leaves a
#   truncated file);
# - it exits 1 when it produced no report (no class, or no database table).

import os
import re
import sys
from datetime import date, timedelta

from app import app
from demo_db import INSTANCE_DIR, get_db
from demo_report import build_class_report

REPORTS_DIR = os.path.abspath(os.environ.get("REPORTS_DIR") or os.path.join(INSTANCE_DIR, "reports"))


def week_range(today=None):
    """Monday and Sunday of the week before `today` (naive local dates)."""
    today = today or date.today()
    monday = today - timedelta(days=today.weekday() + 7)
    return monday, monday + timedelta(days=6)


def main():
    os.makedirs(REPORTS_DIR, exist_ok=True)
    monday, sunday = week_range()
    year, week, _ = monday.isocalendar()
    written = 0
    with app.app_context():
        try:
            classes = get_db().execute("SELECT id, name FROM classes ORDER BY id").fetchall()
        except Exception as e:
            print("no reports: %s" % e, file=sys.stderr)
            return 1
        for klass in classes:
            pdf = build_class_report(klass["id"])
            safe = re.sub(r"[^A-Za-z0-9_-]+", "_", klass["name"])
            path = os.path.join(REPORTS_DIR, "%d-W%02d-klasse-%s.pdf" % (year, week, safe))
            with open(path, "wb") as f:
                f.write(pdf)
            written += 1
            print("wrote %s (%d bytes)" % (path, len(pdf)))
    print("%d weekly report(s) for %s to %s in %s" % (written, monday.isoformat(), sunday.isoformat(), REPORTS_DIR))
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
