"""A stopping gthread worker's idle keep-alive connections end without failing a request.

nginx keeps a pool of idle connections to gunicorn (nginx >= 1.27.3, render/upstream.ts) and
sends the next request on one of them at any moment. Closing one from this side races with that
request: when nginx's request is already on its way, the connection is reset after the request was
sent, and nginx rightly never resends a POST it has sent (a GET gets one more try). Plain gthread
leaves its idle connections open while it stops and the kernel closes them at its exit, dropping
whatever request nginx sent on them in the meantime.

So idle connections are only ever ended by nginx, or after an answer that says so:
  * while running: gunicorn's keep-alive (idle timeout) is longer than nginx's (its upstream
    `keepalive_timeout`), so nginx closes an idle connection first;
  * while stopping (the whole server or this worker alone): the worker stops accepting, then for up
    to IDLE_LINGER_SECONDS (longer than nginx's idle timeout) goes on watching its idle connections:
    a request that arrives on one is served with `Connection: close` (gunicorn does that once the
    worker is no longer alive), and one that nginx closes is closed. A connection answered as
    keep-alive just before the stop joins them instead of being closed;
  * whatever is still idle after that is closed with a reset (SO_LINGER 0): nginx finds the error
    on the socket before it sends a request on it, and tries another connection, for every method.
"""
import selectors
import socket
import struct
import time
from functools import partial

# Set from gunicorn.conf.py (core/timings.ts): nginx's idle timeout plus a margin. No default of its
# own here, so there is one value, not two that can drift apart.
IDLE_LINGER_SECONDS = None
POLL_SECONDS = 0.05


def reset_close(sock):
    """Closes with a reset instead of a FIN (SO_LINGER on, 0 s)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class IdleConnectionsMixin:
    """For gunicorn's ThreadWorker (listed before it): the stop's part for idle keep-alive connections."""

    idle_done = False

    def finish_request(self, fs):
        # Answered as keep-alive (no `Connection: close`), but the worker stopped meanwhile: nginx
        # may already be sending the next request on it. Watch it with the other idle ones.
        if not self.alive and not fs.cancelled():
            try:
                keepalive, conn = fs.result()
            except Exception:
                keepalive = False
            if keepalive:
                with self._lock:
                    if not self.idle_done:
                        conn.sock.setblocking(False)
                        conn.set_timeout()
                        self._keep.append(conn)
                        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.reuse_connection, conn))
                        return
        super().finish_request(fs)

    def stop_watching_listeners(self):
        """No more accept() from the worker's loop (the listeners stay open)."""
        for listener in self.sockets:
            try:
                self.poller.unregister(listener)
            except (KeyError, ValueError, OSError):
                pass

    def serve_idle_until_nginx_lets_go(self):
        """Serves requests on idle connections until nginx closed them all (or the linger is over)."""
        deadline = time.monotonic() + IDLE_LINGER_SECONDS
        served = 0
        while time.monotonic() < deadline:
            with self._lock:
                idle = len(self._keep)
            if idle == 0 and all(f.done() for f in list(self.futures)):
                break
            for key, _ in self.poller.select(POLL_SECONDS):
                served += 1
                key.data(key.fileobj)  # reuse_connection: the request is served, then closed
        with self._lock:
            self.idle_done = True
            left = list(self._keep)
            self._keep.clear()
            for conn in left:
                try:
                    self.poller.unregister(conn.sock)
                except (KeyError, ValueError, OSError):
                    pass
                self.nr_conns -= 1
                reset_close(conn.sock)
        if served or left:
            self.log.info(
                "Stopping: %d request(s) on idle keep-alive connections served, %d idle connection(s) reset",
                served,
                len(left),
            )

