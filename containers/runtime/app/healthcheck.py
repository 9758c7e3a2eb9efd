"""Docker health check of the app container: GET /healthz on gunicorn's port (no curl in slim images)."""
import http.client
import sys

try:
    conn = http.client.HTTPConnection("127.0.0.1", 8000, timeout=4)
    conn.request("GET", "/healthz", headers={"User-Agent": "lernmanager-healthcheck"})
    response = conn.getresponse()
    body = response.read(500).decode("utf-8", "replace")
    if response.status != 200:
        print(f"/healthz answered {response.status}: {body}")
        sys.exit(1)
except Exception as exc:
    print(f"/healthz unreachable: {exc}")
    sys.exit(1)
sys.exit(0)
