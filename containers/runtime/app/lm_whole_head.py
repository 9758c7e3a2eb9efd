"""Makes gunicorn send a response's head together with the first bytes of its body.

gunicorn writes the status line and headers with one sendall() and the body with the next. A worker
that dies between the two (killed, out of memory) leaves nginx with a head and no body: nginx has
already passed the head on to the browser, cannot retry, and the browser gets a cut response.
With the head held back until the first body bytes, a dying worker leaves nginx either nothing
(nginx retries a GET/HEAD on a live worker) or the whole of a response that is written in one
piece, which is what a page, JSON or a cached report is.

Installed from gunicorn.conf.py in gunicorn's master, before it forks. `install()` checks that
gunicorn's Response still has the shape this relies on; if not, it changes nothing and says so.
"""
import sys


class _Capture:
    """Stands in for the socket while gunicorn renders the head."""

    def __init__(self):
        self.parts = []

    def sendall(self, data):
        self.parts.append(bytes(data))


class HeadFirstSocket:
    """The client socket of one response: the held head goes out with the next sendall()."""

    __slots__ = ("_sock", "_head")

    def __init__(self, sock, head):
        self._sock = sock
        self._head = head

    def sendall(self, data, *args):
        if self._head:
            data, self._head = self._head + bytes(data), b""
        return self._sock.sendall(data, *args)

    def flush(self):
        if self._head:
            head, self._head = self._head, b""
            self._sock.sendall(head)

    def sendfile(self, *args, **kwargs):
        self.flush()
        return self._sock.sendfile(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._sock, name)


def install(response_class=None):
    """Patches gunicorn.http.wsgi.Response (or `response_class`); True when it did."""
    if response_class is None:
        from gunicorn.http import wsgi

        response_class = wsgi.Response
    needed = ("send_headers", "write", "close", "sendfile")
    if getattr(response_class, "_lm_head_first", False):
        return True
    missing = [name for name in needed if not hasattr(response_class, name)]
    if missing:
        print(
            f"[lernmanager] gunicorn's Response lacks {', '.join(missing)}: heads are sent apart from bodies",
            file=sys.stderr,
            flush=True,
        )
        return False
    send_headers = response_class.send_headers
    close = response_class.close

    def send_headers_held(self):
        if self.headers_sent:
            return
        sock, capture = self.sock, _Capture()
        self.sock = capture
        try:
            send_headers(self)
        finally:
            self.sock = sock
        self.sock = HeadFirstSocket(sock, b"".join(capture.parts))

    def close_and_flush(self):
        close(self)
        if isinstance(self.sock, HeadFirstSocket):
            self.sock.flush()

    response_class.send_headers = send_headers_held
    response_class.close = close_and_flush
    response_class._lm_head_first = True
    return True
