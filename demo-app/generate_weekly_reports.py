# Lernmanager demo app: the weekly class reports, one PDF per class (reportlab).
#
# Run from the app folder, like the real app's script (the stack's scheduler does it on Mondays):
#     SECRET_KEY=... python3 generate_weekly_reports.py
# Writes instance/reports/<year>-W<week>-klasse-<name>.pdf (the folder is created; REPORTS_DIR
# overrides it) and prints one line per file. Exits 1 when the database has no class table.

import os
import re
import sys
from datetime import date

from app import app
from demo_db import INSTANCE_DIR, get_db
from demo_report import build_class_report

REPORTS_DIR = os.path.abspath(os.environ.get("REPORTS_DIR") or os.path.join(INSTANCE_DIR, "reports"))


def main():
    os.makedirs(REPORTS_DIR, exist_ok=True)
    year, week, _ = date.today().isocalendar()
    written = 0
    with app.app_context():
        classes = get_db().execute("SELECT id, name FROM classes ORDER BY id").fetchall()
        for klass in classes:
            pdf = build_class_report(klass["id"])
            safe = re.sub(r"[^A-Za-z0-9_-]+", "_", klass["name"])
            path = os.path.join(REPORTS_DIR, "%d-W%02d-klasse-%s.pdf" % (year, week, safe))
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(pdf)
            os.replace(tmp, path)
            written += 1
            print("wrote %s (%d bytes)" % (path, len(pdf)))
    print("%d weekly report(s) in %s" % (written, REPORTS_DIR))
    return 0


if __name__ == "__main__":
    sys.exit(main())
