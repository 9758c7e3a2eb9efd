"""Unit tests of containers/runtime/deploy/lm_smoke.py against local stand-ins for nginx (plain HTTP and
HTTPS with a throwaway certificate): each check fails when what it checks is wrong (run by
test/unit/jobs.test.ts; the real deploy: test/e2e/stack.test.ts, tls.test.ts, tlsAcme.test.ts)."""

import contextlib
import hashlib
import http.server
import io
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

# The runtime image puts every role's helpers in one folder; here each role has its own.
RUNTIME = os.path.join(os.path.dirname(__file__), "..", "..", "..", "containers", "runtime")
sys.path[:0] = [os.path.join(RUNTIME, role) for role in ("app", "deploy", "jobs", "backups")]
import lm_smoke  # noqa: E402


class Site:
    """What the stand-in nginx answers; the tests change it between runs."""

    version = "v2"
    hsts = ""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive as nginx: the smoke test reads the certificate after the body

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.server.redirect:
            self.send_response(301)
            self.send_header("Location", "https://lernen.schule.test/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        bodies = {
            "/nginx-health": b"ok",
            "/healthz": json.dumps({"version": Site.version}).encode(),
            "/": b"<html>Lernmanager</html>",
            "/static/app.css": b"body{}",
        }
        body = bodies.get(self.path)
        self.send_response(200 if body is not None else 404)
        if Site.hsts and self.server.tls:
            self.send_header("Strict-Transport-Security", Site.hsts)
        body = body or b"not found"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(tls_context=None, redirect=False):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.tls = tls_context is not None
    server.redirect = redirect
    if tls_context:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def self_signed(directory, name):
    key, crt = os.path.join(directory, f"{name}.key"), os.path.join(directory, f"{name}.crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-keyout", key, "-out", crt],
        check=True, capture_output=True,
    )
    with open(crt) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return key, crt, hashlib.sha256(der).hexdigest()


def smoke(base, version, env=None):
    """lm_smoke.main with the given environment; (exit code, the check lines)."""
    out = io.StringIO()
    old = dict(os.environ)
    os.environ.update({"LM_SMOKE_VERSION_WAIT": "1", "LM_SMOKE_CERT_WAIT": "1", "LM_SMOKE_TLS_WAIT": "1"})
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out):
            code = lm_smoke.main(base, version, "/", "/static/app.css")
    finally:
        os.environ.clear()
        os.environ.update(old)
    return code, out.getvalue().splitlines()


def failed(lines):
    return [line[len("smoke: FAIL "):].split(":")[0] for line in lines if line.startswith("smoke: FAIL ")]


class PlainHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = serve()
        cls.base = f"http://127.0.0.1:{cls.server.server_port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def test_the_new_version_passes(self):
        Site.version = "v2"
        code, lines = smoke(self.base, "v2")
        self.assertEqual((code, failed(lines)), (0, []))

    def test_only_the_old_version_answering_fails(self):
        Site.version = "v1"
        code, lines = smoke(self.base, "v2")
        self.assertEqual(code, 1)
        self.assertEqual(failed(lines), ["app /healthz answers with the new version"])

    def test_a_missing_static_file_fails(self):
        Site.version = "v2"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(lm_smoke.main(self.base, "v2", "/", "/static/missing.css"), 1)
        self.assertEqual(failed(out.getvalue().splitlines()), ["static /static/missing.css"])


class Https(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        key, crt, cls.fingerprint = self_signed(cls.dir, "lernen.schule.test")
        _, _, cls.other_fingerprint = self_signed(cls.dir, "placeholder")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(crt, key)
        cls.https = serve(context)
        cls.http = serve(redirect=True)
        cls.base = f"https://127.0.0.1:{cls.https.server_port}"
        cls.tls_dir = os.path.join(cls.dir, "tls")
        os.mkdir(cls.tls_dir)

    @classmethod
    def tearDownClass(cls):
        for server in (cls.https, cls.http):
            server.shutdown()
            server.server_close()
        shutil.rmtree(cls.dir)

    def run_smoke(self, fingerprint, hsts_sent, hsts_wanted, status="ok 2026-12-06T00:00:00Z acme certificate"):
        Site.version, Site.hsts = "v2", hsts_sent
        with open(os.path.join(self.tls_dir, "status"), "w") as f:
            f.write(status + "\n")
        with open(os.path.join(self.tls_dir, "fingerprint"), "w") as f:
            f.write(fingerprint + "\n")
        env = {
            "LM_SMOKE_TLS_DIR": self.tls_dir,
            "LM_SMOKE_HTTP": f"http://127.0.0.1:{self.http.server_port}",
            "LM_SMOKE_HSTS": hsts_wanted,
        }
        return smoke(self.base, "v2", env)

    def test_all_well(self):
        code, lines = self.run_smoke(self.fingerprint, "max-age=300", "max-age=300")
        self.assertEqual((code, failed(lines)), (0, []))

    def test_hsts_missing_or_different_fails(self):
        self.assertEqual(failed(self.run_smoke(self.fingerprint, "", "max-age=300")[1]), ["HSTS"])
        self.assertEqual(failed(self.run_smoke(self.fingerprint, "max-age=300", "max-age=31536000")[1]), ["HSTS"])
        # hstsMaxAge 0: nginx must send none.
        self.assertEqual(failed(self.run_smoke(self.fingerprint, "max-age=300", "")[1]), ["HSTS"])
        self.assertEqual(failed(self.run_smoke(self.fingerprint, "", "")[1]), [])

    def test_a_certificate_other_than_the_agents_fails(self):
        # nginx still serving the placeholder while the agent's fingerprint names the new certificate.
        code, lines = self.run_smoke(self.other_fingerprint, "max-age=300", "max-age=300")
        self.assertEqual((code, failed(lines)), (1, ["nginx serves the current certificate"]))

    def test_the_agent_not_ok_fails(self):
        code, lines = self.run_smoke(self.fingerprint, "", "", status="pending 2026-12-06T00:00:00Z no certificate")
        self.assertEqual((code, failed(lines)), (1, ["TLS agent"]))


if __name__ == "__main__":
    unittest.main()
