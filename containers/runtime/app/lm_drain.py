"""gunicorn's gthread worker, stopping without resetting a single queued connection.

A stopping gthread worker leaves its loop at the next wake-up, then closes its copy of the listening
socket. Connections the kernel completed in the meantime wait in the socket's accept queue; when
the last worker closes the socket, the kernel resets them. nginx has usually sent its request on
such a connection already, and it rightly never resends a POST whose request went out: the request
fails. Docker keeps a stopping container in its DNS until the container exits, so nginx goes on
opening connections to it during the whole stop. Measured with 48 clients opening connections
straight to a stopping container: 4-38 requests reset per stop, all at the moment the socket closed.
Accepting until the queue is empty and closing right after is not enough: a worker can be
descheduled between the two, and connections arrive meanwhile (still 2-10 resets in 6 of 19 stops).

So the kernel is made to stop admitting connections first, with no privileges needed:
  * `listen(0)`: the kernel now admits a new connection only while the accept queue is empty and
    no other handshake is under way (with SYN cookies off, `net.ipv4.tcp_syncookies=0`, set on the
    container, a second simultaneous SYN is dropped rather than answered with a cookie);
  * the worker takes every queued connection into its thread pool (served like any other), then
    opens a connection to its own listener from PLUG_SOURCE, the "plug". Once the plug is queued,
    the queue is not empty, so every new connection attempt is dropped: nginx's connect times out
    (or, once the socket is closed, is refused) and nginx tries the other container, which is safe
    for every method because nothing was sent;
  * the worker closes its copy of the socket only after its own plug was queued. A plug that another
    worker takes is closed, not served, and that worker plugs again before it closes. So when the last
    copy closes, the queue holds only a plug, and only the plug is reset.

All of this only when the whole server stops (the master's Arbiter.stop(), marked by
install_stop_marker() from gunicorn.conf.py). A single worker that stops while the others go on (a
graceful restart with SIGTERM, a HUP reload, max_requests) must leave the shared listening socket
alone: `listen(0)` and a plug on it would throttle every other worker, for good (the backlog is the
socket's, and the workers forked later inherit it). Such a worker stops like plain gthread: the
other workers take what is queued.

Selected in gunicorn.conf.py with worker_class = "lm_drain.DrainingThreadWorker". It overrides
get_thread_pool(), which gunicorn documents as the place to customise the pool, and queues
connections the way gthread's own accept() does.
"""
import os
import select
import socket
import struct
import time
from concurrent import futures

from gunicorn.workers.gthread import TConn, ThreadWorker

import lm_idle
from lm_idle import IdleConnectionsMixin

# Plugs come from this loopback address, which nothing else uses (nginx comes over the container
# network, the health check from 127.0.0.1).
PLUG_SOURCE = "127.0.0.2"
# How long one plug attempt waits for its handshake; a dropped attempt is retried after a drain.
PLUG_WAIT_SECONDS = 0.02
# Bound on one listener's drain; past it the socket is closed as gunicorn would (and logged). Set from
# gunicorn.conf.py (core/timings.ts, within gunicorn's graceful timeout); no default of its own here.
DRAIN_LIMIT_SECONDS = None


# Created by the master when the whole server stops, before it signals its workers (/tmp is the
# container's own tmpfs); the name carries the master's pid, which the workers know as their parent.
STOPPING_FLAG = "/tmp/.lernmanager-stopping-{pid}"


def install_stop_marker():
    """In the master (gunicorn.conf.py): mark the server as stopping before Arbiter.stop() signals the workers."""
    from gunicorn.arbiter import Arbiter

    original = Arbiter.stop
    if getattr(original, "lm_marks_stopping", False):
        return

    def stop(self, graceful=True):
        try:
            open(STOPPING_FLAG.format(pid=os.getpid()), "w").close()
        except OSError:
            pass
        return original(self, graceful)

    stop.lm_marks_stopping = True
    Arbiter.stop = stop


def server_stopping():
    """In a worker: True when its master is stopping the whole server (not only this worker)."""
    return os.path.exists(STOPPING_FLAG.format(pid=os.getppid()))


def queued_connections(sock):
    """Completed connections waiting for accept() on a listening TCP socket (tcpi_unacked)."""
    return struct.unpack_from("8B6I", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32))[12]


class _DrainingPool(futures.ThreadPoolExecutor):
    """The worker's thread pool: runs the worker's stop (drain, idle connections) once, before it shuts down."""

    def __init__(self, before_shutdown, **kwargs):
        super().__init__(**kwargs)
        self._before_shutdown = before_shutdown

    def shutdown(self, wait=True, **kwargs):
        before, self._before_shutdown = self._before_shutdown, None
        if before is not None:
            before()
        super().shutdown(wait, **kwargs)


class DrainingThreadWorker(IdleConnectionsMixin, ThreadWorker):
    """gthread worker whose stop serves every queued connection instead of leaving it to be reset,
    and ends its idle keep-alive connections only in ways nginx retries (lm_idle.py)."""

    def __init__(self, *args, **kwargs):
        # A worker that could not stop as designed does not start: the container never becomes healthy.
        required = {"lm_drain.DRAIN_LIMIT_SECONDS": DRAIN_LIMIT_SECONDS, "lm_idle.IDLE_LINGER_SECONDS": lm_idle.IDLE_LINGER_SECONDS}
        for name, value in required.items():
            if value is None:
                raise RuntimeError(f"{name} is not set: gunicorn.conf.py sets it (core/timings.ts)")
        super().__init__(*args, **kwargs)
        self.plugs = []
        self.quitting = False

    def get_thread_pool(self):
        return _DrainingPool(self.stop_serving, max_workers=self.cfg.threads)

    def handle_quit(self, sig, frame):
        # SIGQUIT/SIGINT: an immediate stop, nothing to drain.
        self.quitting = True
        super().handle_quit(sig, frame)

    def stop_serving(self):
        """The graceful stop, while the pool still takes work: listeners, then idle connections."""
        if self.quitting:
            return
        self.stop_watching_listeners()
        self.drain_listeners()
        self.serve_idle_until_nginx_lets_go()

    def drain_listeners(self):
        """Plugs each listener, serving what was queued, then closes it. Returns connections served."""
        served = 0
        if self.quitting or not server_stopping():
            return served
        for listener in list(self.sockets):
            sock = getattr(listener, "sock", listener)
            try:
                server = sock.getsockname()
                pluggable = sock.family == socket.AF_INET and sock.type == socket.SOCK_STREAM
                if pluggable:
                    sock.listen(0)
            except OSError:
                continue
            deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
            while True:
                served += self._take_queued(sock, server)
                if not pluggable or self._plug(sock, server):
                    break
                if time.monotonic() > deadline:
                    self.log.warning("Stopping: could not plug the listener within %.1f s", DRAIN_LIMIT_SECONDS)
                    break
            listener.close()
        if served:
            self.log.info("Stopping: served %d connection(s) that were still queued on the listener", served)
        return served

    def _take_queued(self, sock, server):
        """Accepts until the queue is empty: plugs are closed, the rest go to the pool."""
        served = 0
        while True:
            try:
                conn, client = sock.accept()
            except (BlockingIOError, InterruptedError):
                return served
            except ConnectionAbortedError:
                continue
            if client[0] == PLUG_SOURCE:
                conn.close()
                continue
            # As gthread's accept() does.
            self.nr_conns += 1
            self.enqueue_req(TConn(self.cfg, conn, client, server))
            served += 1

    def _plug(self, sock, server):
        """Queues a connection from PLUG_SOURCE on `sock`; True once it is in the accept queue."""
        plug = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            plug.setblocking(False)
            plug.bind((PLUG_SOURCE, 0))
            plug.connect_ex(("127.0.0.1", server[1]))
            _, writable, _ = select.select([], [plug], [], PLUG_WAIT_SECONDS)
            if writable and plug.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                # The handshake is done on our side; the listener queues it a moment later.
                until = time.monotonic() + PLUG_WAIT_SECONDS
                while queued_connections(sock) == 0 and time.monotonic() < until:
                    time.sleep(0.001)
                if queued_connections(sock) > 0:
                    self.plugs.append(plug)
                    return True
        except OSError:
            pass
        plug.close()
        return False
