# Lernmanager demo app: the Flask CLI command the stack's scheduler runs daily,
#     flask --app app auto-attendance
# It records one row per run in the table auto_attendance (created on first use): the day, the
# number of students marked present and the time. app.py registers it with register_cli(app).

import click

from demo_db import connect, utc_timestamp


def register_cli(app):
    @app.cli.command("auto-attendance")
    def auto_attendance():
        conn = connect()
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS auto_attendance ("
                "id INTEGER PRIMARY KEY, day TEXT NOT NULL, students INTEGER NOT NULL, at TEXT NOT NULL)"
            )
            students = conn.execute("SELECT COUNT(*) FROM users WHERE role = 'student'").fetchone()[0]
            at = utc_timestamp()
            conn.execute(
                "INSERT INTO auto_attendance (day, students, at) VALUES (?, ?, ?)", (at[:10], students, at)
            )
            conn.commit()
            runs = conn.execute("SELECT COUNT(*) FROM auto_attendance").fetchone()[0]
        finally:
            conn.close()
        click.echo("auto-attendance: %d students marked present for %s (run %d)" % (students, at[:10], runs))
