# Lernmanager demo app: the Flask CLI command the stack's scheduler runs daily,
#     flask --app app auto-attendance
# Like the real app's command it first runs init_app() (schema, this process's analytics writer
# thread, the default admin when no user named admin exists), then records one row per run in the
# table auto_attendance: the day (naive local date: right only with the school's TZ), the number
# of students marked present and the time. app.py registers it with register_cli(app).

from datetime import date

import click

from demo_db import connect, local_timestamp


def register_cli(app):
    @app.cli.command("auto-attendance")
    def auto_attendance():
        from demo_db import init_app

        init_app()
        day = date.today().isoformat()
        conn = connect()
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS auto_attendance ("
                "id INTEGER PRIMARY KEY, day TEXT NOT NULL, students INTEGER NOT NULL, at TEXT NOT NULL)"
            )
            students = conn.execute("SELECT COUNT(*) FROM users WHERE role = 'student'").fetchone()[0]
            conn.execute(
                "INSERT INTO auto_attendance (day, students, at) VALUES (?, ?, ?)", (day, students, local_timestamp())
            )
            conn.commit()
            runs = conn.execute("SELECT COUNT(*) FROM auto_attendance").fetchone()[0]
        finally:
            conn.close()
        click.echo("auto-attendance: %d students marked present for %s (run %d)" % (students, day, runs))
