# Lernmanager demo app: page-view analytics, written by a background thread.
#
# Like the real app: every request queues one event; a writer thread, started by init_app() in the
# process that calls it, writes the queued events to the analytics_events table in batches (within
# a second). A process whose init_app() did not run (a gunicorn worker forked after the init ran in
# another process) has no writer: its events pile up in the queue and, once it is full, are dropped
# with a log line "Analytics queue full, dropping event". At exit (atexit) the writer writes what is
# still queued.

import atexit
import logging
import os
import queue
import sqlite3
import threading

from demo_db import DB_PATH, utc_timestamp

QUEUE_SIZE = 10000
# The writer waits this long for a first event, then writes everything queued in one transaction,
# and waits BATCH_SECONDS before the next write (at most ~10 commits a second per process).
FLUSH_SECONDS = 0.5
BATCH_SECONDS = 0.1

log = logging.getLogger("lernmanager.analytics")

# Per process: the queue and the writer thread of the process that created them (a fork copies the
# module, but not the thread: the copy must not be used by the child).
_state = {"pid": None, "queue": None, "thread": None, "stop": None}
_lock = threading.Lock()


def _queue():
    with _lock:
        if _state["pid"] != os.getpid():
            _state.update(pid=os.getpid(), queue=queue.Queue(maxsize=QUEUE_SIZE), thread=None, stop=None)
        return _state["queue"]


def start_writer():
    """Starts this process's writer thread (once per process); called by init_app()."""
    q = _queue()
    with _lock:
        if _state["thread"] is not None:
            return
        stop = threading.Event()
        thread = threading.Thread(target=_run, args=(q, stop), name="analytics-writer", daemon=True)
        _state.update(thread=thread, stop=stop)
    thread.start()
    atexit.register(_flush_at_exit, q, stop, thread)


def writer_alive():
    """Whether this process has a running writer thread."""
    thread = _state["thread"] if _state["pid"] == os.getpid() else None
    return bool(thread and thread.is_alive())


def record(path, method, status, user_id):
    """Queues one event; never blocks a request."""
    try:
        _queue().put_nowait((utc_timestamp(), os.getpid(), path, method, status, user_id))
    except queue.Full:
        log.warning("Analytics queue full, dropping event")


def _write(batch):
    conn = sqlite3.connect(DB_PATH, timeout=10)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.executemany(
            "INSERT INTO analytics_events (at, pid, path, method, status, user_id) VALUES (?, ?, ?, ?, ?, ?)", batch
        )
        conn.commit()
    finally:
        conn.close()


def _drain(q):
    batch = []
    while True:
        try:
            batch.append(q.get_nowait())
        except queue.Empty:
            return batch


def _run(q, stop):
    while not stop.is_set():
        try:
            first = q.get(timeout=FLUSH_SECONDS)
        except queue.Empty:
            continue
        batch = [first] + _drain(q)
        try:
            _write(batch)
        except Exception:  # keep the thread alive; the events of this batch are lost
            log.exception("Analytics: writing %d events failed", len(batch))
        stop.wait(BATCH_SECONDS)


def _flush_at_exit(q, stop, thread):
    stop.set()
    thread.join(timeout=5)
    batch = _drain(q)
    if batch:
        _write(batch)
