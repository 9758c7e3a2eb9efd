"""Index tasks by estimated_minutes (the column migrate_001 adds: this one must run after it)."""
import demo_db


def run():
    conn = demo_db.connect()
    try:
        conn.execute("CREATE INDEX IF NOT EXISTS idx_tasks_estimate ON tasks (estimated_minutes)")
        conn.commit()
        print("Index 'idx_tasks_estimate' is there.")
    finally:
        conn.close()


if __name__ == "__main__":
    run()
