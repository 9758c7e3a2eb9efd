# Lernmanager demo app: response compression, as the real app's app.py does it with Flask-Compress.
#
# Flask-Compress gzips HTML, CSS, JSON and JavaScript responses of 500 bytes or more at level 6 when
# the client accepts gzip. The real app's Flask-Compress is newer and answers with brotli when the
# client offers br (browsers do); Debian bookworm's Flask-Compress 1.4 has gzip only, so brotli
# (python3-brotli, quality 4 like Flask-Compress's default) is added here in front of it.

from flask import request
from flask_compress import Compress

try:
    import brotli
except ImportError:  # without python3-brotli: gzip only
    brotli = None

BROTLI_QUALITY = 4


def setup(app):
    Compress(app)
    if brotli is None:
        return

    # Registered after Compress, so it runs before it (after_request handlers run in reverse);
    # Compress leaves a response alone that already has a Content-Encoding.
    @app.after_request
    def _brotli(response):
        offered = [part.split(";")[0].strip().lower() for part in request.headers.get("Accept-Encoding", "").split(",")]
        if (
            "br" not in offered
            or response.mimetype not in app.config["COMPRESS_MIMETYPES"]
            or not 200 <= response.status_code < 300
            or (response.content_length is not None and response.content_length < app.config["COMPRESS_MIN_SIZE"])
            or "Content-Encoding" in response.headers
        ):
            return response
        response.direct_passthrough = False
        response.set_data(brotli.compress(response.get_data(), quality=BROTLI_QUALITY, mode=brotli.MODE_TEXT))
        response.headers["Content-Encoding"] = "br"
        response.headers["Content-Length"] = response.content_length
        vary = response.headers.get("Vary")
        if not vary:
            response.headers["Vary"] = "Accept-Encoding"
        elif "accept-encoding" not in vary.lower():
            response.headers["Vary"] = "%s, Accept-Encoding" % vary
        return response
