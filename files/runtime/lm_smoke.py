"""Smoke test after a deploy, run in a one-off container on the stack's network, through nginx:
nginx's own health, the app's /healthz (and that the new version answers), one page, one static file.
Usage: lm_smoke.py BASE_URL VERSION PAGE STATIC_PATH     (exit 1 with the reason on failure)
"""
import http.client
import json
import sys
import time
import urllib.parse


def get(base, path):
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
    conn.request("GET", path, headers={"User-Agent": "lernmanager-smoke-test"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def main(base, version, page, static_path):
    checks = []

    def check(name, ok, detail):
        checks.append((name, ok, detail))
        print(f"smoke: {'ok  ' if ok else 'FAIL'} {name}: {detail}")

    status, _ = get(base, "/nginx-health")
    check("nginx /nginx-health", status == 200, status)
    # Old and new app containers overlap until the old one is removed: the new version must answer.
    versions = set()
    deadline = time.monotonic() + 30
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
