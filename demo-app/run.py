# Starts the Lernmanager demo the way the real app does today:
# initialise the database, then serve with waitress.
import os

import waitress

from app import app, init_app

if __name__ == "__main__":
    init_app()
    waitress.serve(
        app,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8080")),
        threads=32,
    )
