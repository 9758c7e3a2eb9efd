"""Unit tests of containers/runtime/app/lm_idle.py (run with the other Python tests by test/unit/jobs.test.ts).

A stand-in for gunicorn's gthread worker keeps idle keep-alive connections the way gthread does
(`_keep`, a selector, reuse_connection); the peer ("nginx") is the other end of a socket pair.
"""

import logging
import os
import selectors
import socket
import sys
import threading
import time
import unittest
from collections import deque
from concurrent import futures
from functools import partial

# The runtime image puts every role's helpers in one folder; here each role has its own.
RUNTIME = os.path.join(os.path.dirname(__file__), "..", "..", "..", "containers", "runtime")
sys.path[:0] = [os.path.join(RUNTIME, role) for role in ("app", "deploy", "jobs", "backups")]
import lm_idle  # noqa: E402


class Conn:
    def __init__(self, sock):
        self.sock = sock

    def set_timeout(self):
        pass


class Gthread:
    """What lm_idle uses of gunicorn's ThreadWorker."""

    def __init__(self):
        self.alive = False
        self._lock = threading.RLock()
        self._keep = deque()
        self.poller = selectors.DefaultSelector()
        self.futures = deque()
        self.sockets = []
        self.nr_conns = 0
        self.log = logging.getLogger("test_lm_idle")
        self.served = []
        self.closed_by_base = []

    def keep(self, conn):
        self._keep.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.reuse_connection, conn))

    def reuse_connection(self, conn, client):
        with self._lock:
            self.poller.unregister(client)
            self._keep.remove(conn)
        data = conn.sock.recv(1024)
        if data:
            self.served.append(data)
            conn.sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        conn.sock.close()

    def finish_request(self, fs):
        self.closed_by_base.append(fs)


class Worker(lm_idle.IdleConnectionsMixin, Gthread):
    pass


def tcp_pair():
    """(ours, nginx): both ends of a TCP connection on the loopback."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        nginx = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    return ours, nginx


class IdleConnections(unittest.TestCase):
    def setUp(self):
        logging.getLogger("test_lm_idle").disabled = True
        self.linger = lm_idle.IDLE_LINGER_SECONDS
        lm_idle.IDLE_LINGER_SECONDS = 0.6
        self.worker = Worker()
        self.peers = []

    def tearDown(self):
        lm_idle.IDLE_LINGER_SECONDS = self.linger
        for p in self.peers:
            p.close()
        self.worker.poller.close()

    def idle(self):
        ours, nginx = tcp_pair()
        ours.setblocking(False)
        self.peers.append(nginx)
        conn = Conn(ours)
        self.worker.keep(conn)
        return conn, nginx

    def test_a_request_on_an_idle_connection_is_served_and_closed_after_it(self):
        _, nginx = self.idle()
        nginx.sendall(b"POST /tasks/1/done HTTP/1.1\r\n\r\n")
        self.worker.serve_idle_until_nginx_lets_go()
        self.assertEqual(self.worker.served, [b"POST /tasks/1/done HTTP/1.1\r\n\r\n"])
        self.assertIn(b"Connection: close", nginx.recv(1024))

    def test_stops_early_once_nginx_closed_its_idle_connections(self):
        self.idle()
        _, nginx = self.idle()
        for p in self.peers:
            threading.Timer(0.1, p.shutdown, (socket.SHUT_RDWR,)).start()
        t0 = time.monotonic()
        self.worker.serve_idle_until_nginx_lets_go()
        self.assertLess(time.monotonic() - t0, 0.5)
        self.assertEqual(len(self.worker._keep), 0)

    def test_what_is_still_idle_after_the_linger_is_reset_not_closed(self):
        _, nginx = self.idle()
        t0 = time.monotonic()
        self.worker.serve_idle_until_nginx_lets_go()
        self.assertGreaterEqual(time.monotonic() - t0, 0.6)
        # A reset, not an orderly close: nginx finds the error before it sends on the connection.
        with self.assertRaises(ConnectionResetError):
            nginx.recv(1)

    def test_an_answer_sent_as_keep_alive_just_before_the_stop_joins_the_idle_ones(self):
        ours, nginx = tcp_pair()
        self.peers.append(nginx)
        done = futures.Future()
        done.set_result((True, Conn(ours)))
        self.worker.finish_request(done)
        self.assertEqual(self.worker.closed_by_base, [])
        self.assertEqual(len(self.worker._keep), 1)
        nginx.sendall(b"GET / HTTP/1.1\r\n\r\n")
        self.worker.serve_idle_until_nginx_lets_go()
        self.assertEqual(self.worker.served, [b"GET / HTTP/1.1\r\n\r\n"])

    def test_while_running_or_without_keep_alive_gthread_finishes_as_usual(self):
        ours, nginx = tcp_pair()
        self.peers += [ours, nginx]
        closing = futures.Future()
        closing.set_result((False, Conn(ours)))
        self.worker.finish_request(closing)
        self.worker.alive = True
        running = futures.Future()
        running.set_result((True, Conn(ours)))
        self.worker.finish_request(running)
        self.assertEqual(self.worker.closed_by_base, [closing, running])
        self.assertEqual(len(self.worker._keep), 0)


if __name__ == "__main__":
    unittest.main()
