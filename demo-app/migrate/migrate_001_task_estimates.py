"""Add tasks.estimated_minutes and fill it in for the existing tasks.

Teachers asked how long a task takes. New tasks get an estimate when they are created; the
existing ones get one from the length of their description (about 20 characters a minute, at
least 10 minutes). Written like Lernmanager's own migrations: run once as a script from the app
folder, with the app folder on PYTHONPATH, so the app's own database module is importable.
"""
import demo_db


def run():
    conn = demo_db.connect()
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(tasks)").fetchall()]
        if "estimated_minutes" not in columns:
            conn.execute("ALTER TABLE tasks ADD COLUMN estimated_minutes INTEGER")
            print("Added 'estimated_minutes' column to tasks table.")
        else:
            print("Column 'estimated_minutes' already exists on tasks, skipping.")
        filled = conn.execute(
            "UPDATE tasks SET estimated_minutes = MAX(10, length(description) / 20) WHERE estimated_minutes IS NULL"
        ).rowcount
        conn.commit()
        print(f"Estimated {filled} task(s).")
    finally:
        conn.close()


if __name__ == "__main__":
    run()
