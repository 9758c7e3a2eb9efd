"""Smoke test after a deploy, run in a one-off container on the stack's network, through nginx:
nginx's own health, the app's /healthz (and that the new version answers), one page, one static file.
With TLS on (LM_SMOKE_TLS_DIR: the TLS volume, read-only) also: the TLS agent's last check succeeded,
nginx serves exactly the current certificate, and plain HTTP (LM_SMOKE_HTTP) redirects to HTTPS.
Usage: lm_smoke.py BASE_URL VERSION PAGE STATIC_PATH     (exit 1 with the reason on failure)
"""
import hashlib
import http.client
import json
import os
import ssl
import sys
import time
import urllib.parse


def connect(base):
    url = urllib.parse.urlsplit(base)
    if url.scheme == "https":
        # What is checked here is that nginx serves the agent's current certificate (below), not
        # who signed it: a first ACME certificate or a school CA is not in this image's trust store.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=10, context=context)
    return http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)


def get(base, path, with_cert=False):
    conn = connect(base)
    conn.request("GET", path, headers={"User-Agent": "lernmanager-smoke-test"})
    response = conn.getresponse()
    body = response.read()
    cert = conn.sock.getpeercert(binary_form=True) if with_cert else None
    conn.close()
    return (response.status, body, response.headers, cert) if with_cert else (response.status, body)


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def check_tls(base, tls_dir, http_base, check):
    """The agent's status is ok (waits for a first ACME certificate) and nginx serves its certificate."""
    deadline = time.monotonic() + float(os.environ.get("LM_SMOKE_TLS_WAIT", "180"))
    state = read(f"{tls_dir}/status")
    while not state.startswith(("ok ", "failed ")) and time.monotonic() < deadline:
        time.sleep(1)
        state = read(f"{tls_dir}/status")
    check("TLS agent: certificate in place", state.startswith("ok "), state or "no status yet")
    if not state.startswith("ok "):
        return
    ca_fingerprint = read(f"{tls_dir}/public/schul-ca.sha256")
    if ca_fingerprint:
        # Read by the stack (output schoolCaFingerprint): what the teachers' handout prints.
        print(f"school CA sha256 {ca_fingerprint}")
    served = want = ""
    headers = {}
    # nginx reloads a changed certificate within one health interval (5 s)
    deadline = time.monotonic() + float(os.environ.get("LM_SMOKE_CERT_WAIT", "30"))
    while time.monotonic() < deadline:
        # Read on every try: the agent writes the fingerprint before the status line, but a check
        # that read it once could hold a replaced certificate's (the placeholder's) and pass on it.
        want = read(f"{tls_dir}/fingerprint")
        _, _, headers, cert = get(base, "/nginx-health", with_cert=True)
        served = hashlib.sha256(cert).hexdigest()
        if served == want:
            break
        time.sleep(1)
    check("nginx serves the current certificate", served == want, f"sha256 {served[:16]}…, want {want[:16]}…")
    # LM_SMOKE_HSTS: the value nginx must send ("" with hstsMaxAge 0: none at all).
    hsts_want = os.environ.get("LM_SMOKE_HSTS", "")
    hsts_got = headers.get("Strict-Transport-Security") or ""
    check("HSTS", hsts_got == hsts_want, f"sent {hsts_got or 'none'}, want {hsts_want or 'none'}")
    status, _, headers, _ = _redirect(http_base)
    location = headers.get("Location", "")
    check("plain HTTP redirects to HTTPS", status == 301 and location.startswith("https://"), f"{status} {location}")


def _redirect(http_base):
    conn = connect(http_base)
    conn.request("GET", "/", headers={"User-Agent": "lernmanager-smoke-test", "Host": "lernmanager"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, b"", response.headers, None


def main(base, version, page, static_path):
    checks = []

    def check(name, ok, detail):
        checks.append((name, ok, detail))
        print(f"smoke: {'ok  ' if ok else 'FAIL'} {name}: {detail}")

    tls_dir = os.environ.get("LM_SMOKE_TLS_DIR")
    if tls_dir:
        check_tls(base, tls_dir, os.environ["LM_SMOKE_HTTP"], check)
    status, _ = get(base, "/nginx-health")
    check("nginx /nginx-health", status == 200, status)
    # Old and new app containers overlap until the old one is removed: the new version must answer.
    versions = set()
    deadline = time.monotonic() + float(os.environ.get("LM_SMOKE_VERSION_WAIT", "30"))
    while time.monotonic() < deadline:
        status, body = get(base, "/healthz")
        if status == 200:
            versions.add(json.loads(body).get("version"))
            if version in versions:
                break
        time.sleep(0.2)
    check("app /healthz answers with the new version", version in versions, f"seen {sorted(v for v in versions if v)}")
    status, body = get(base, page)
    check(f"page {page}", 200 <= status < 400, f"{status}, {len(body)} bytes")
    status, body = get(base, static_path)
    check(f"static {static_path}", status == 200 and len(body) > 0, f"{status}, {len(body)} bytes")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
