# Lernmanager demo app: page-view analytics, written by a background thread, as the real app's
# analytics_queue.py does it:
# - one queue per process, created at import (a forked child gets a copy of it), 1,000 events;
#   an event that finds it full is dropped with the log line "Analytics queue full, dropping event";
# - start_writer() (called by init_app()) starts the writer thread once: a process that inherited
#   a started writer from its parent by a fork believes it has one and starts none (its events
#   pile up and are dropped once 1,000 are queued);
# - the writer takes up to 10 events at a time and writes each batch through a NEW SQLite
#   connection (WAL, synchronous=NORMAL, timeout 20 s), with no pause between batches; a failed
#   batch is lost;
# - at exit (atexit) it stops the writer first and then waits up to 5 s for the queue to empty,
#   which nothing drains any more: what the writer had not yet taken is lost.

import atexit
import os
import queue
import sqlite3
import sys
import threading
import time

from demo_db import DB_PATH, utc_timestamp

QUEUE_SIZE = 1000
BATCH_SIZE = 10
WAIT_SECONDS = 0.5

_queue = queue.Queue(maxsize=QUEUE_SIZE)
_worker = {"thread": None, "running": False}


def start_writer():
    """Starts the writer thread unless this process (or the one it was forked from) did."""
    if _worker["thread"] is not None:
        print("WARNING: Analytics worker already started", file=sys.stderr)
        return
    _worker["running"] = True
    thread = threading.Thread(target=_run, name="analytics-writer", daemon=True)
    _worker["thread"] = thread
    thread.start()
    atexit.register(_stop_at_exit)


def writer_alive():
    """Whether this process has a running writer thread (a copy inherited by a fork is not running)."""
    thread = _worker["thread"]
    return bool(thread and thread.is_alive())


def record(path, method, status, user_id):
    """Queues one event; never blocks a request."""
    try:
        _queue.put_nowait((utc_timestamp(), os.getpid(), path, method, status, user_id))
    except queue.Full:
        print("WARNING: Analytics queue full, dropping event: page_view", file=sys.stderr)


def _write(batch):
    conn = sqlite3.connect(DB_PATH, timeout=20)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executemany(
            "INSERT INTO analytics_events (at, pid, path, method, status, user_id) VALUES (?, ?, ?, ?, ?, ?)", batch
        )
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()


def _run():
    while _worker["running"]:
        try:
            batch = [_queue.get(timeout=WAIT_SECONDS)]
        except queue.Empty:
            continue
        while len(batch) < BATCH_SIZE:
            try:
                batch.append(_queue.get_nowait())
            except queue.Empty:
                break
        try:
            _write(batch)
        except Exception as e:  # the batch is lost; the thread goes on
            print("ERROR: Failed to write analytics batch: %s" % e, file=sys.stderr)


def _stop_at_exit(timeout=5):
    if not _worker["running"]:
        return
    _worker["running"] = False
    start = time.time()
    while not _queue.empty() and time.time() - start < timeout:
        time.sleep(0.1)
    remaining = _queue.qsize()
    if remaining:
        print("WARNING: %d analytics events not written (timeout)" % remaining, file=sys.stderr)
