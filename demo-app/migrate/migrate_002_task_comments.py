"""Add the task_comments table (a teacher's comment on a student's task) and its index."""
import demo_db


def run():
    conn = demo_db.connect()
    try:
        conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS task_comments (
                id INTEGER PRIMARY KEY,
                task_id INTEGER NOT NULL REFERENCES tasks(id),
                user_id INTEGER NOT NULL REFERENCES users(id),
                body TEXT NOT NULL,
                created_at TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS idx_task_comments_task ON task_comments (task_id, created_at);
            """
        )
        conn.commit()
        print("Table 'task_comments' and index 'idx_task_comments_task' are there.")
    finally:
        conn.close()


if __name__ == "__main__":
    run()
