/**
 * One session cookie per simulated student (student01..student30). The logins run inside the app
 * container against the app's own port, so that nginx's per-address login limit never enters the
 * figures.
 * The cookie is Flask's signed session, valid for every request of that student afterwards; the
 * session's CSRF token (from the form) is remembered for it (test/support/http.ts csrfToken), since
 * every POST needs it.
 */
import Docker from "dockerode";
import { rememberCsrfToken } from "../../test/support/http";
import { execIn } from "../../test/support/stack";

const LOGIN_SCRIPT = `
import http.client, json, re, sys, urllib.parse
cookies = []
for n in range(1, int(sys.argv[1]) + 1):
    # As a browser: the form first (session cookie + CSRF token), then the POST.
    conn = http.client.HTTPConnection("127.0.0.1", 8000, timeout=30)
    # The scheme nginx would pass on (the app redirects plain HTTP when FORCE_HTTPS is on).
    conn.request("GET", "/login", headers={"X-Forwarded-Proto": "https"})
    form = conn.getresponse()
    page = form.read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    jar = [h.split(";", 1)[0] for k, h in form.getheaders() if k.lower() == "set-cookie"]
    body = urllib.parse.urlencode({"username": "student%02d" % n, "password": "lernen", "csrf_token": token})
    # Over HTTPS the app's CSRF check wants a Referer of the same origin as the Host (a browser sends it).
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": "; ".join(jar), "X-Forwarded-Proto": "https", "Referer": "https://127.0.0.1:8000/login"})
    r = conn.getresponse()
    r.read()
    cookie = [h.split(";", 1)[0] for k, h in r.getheaders() if k.lower() == "set-cookie"]
    if r.status != 302 or not cookie or not r.getheader("Location", "").endswith("/dashboard"):
        sys.exit("login of student%02d answered %d" % (n, r.status))
    cookies.append([cookie[0], token])
    conn.close()
print(json.dumps(cookies))
`;

export const STUDENTS = 30;

/** Logs in student01..student30 and returns their cookies (`session=...`), in order. */
export async function loginStudents(app: Docker.Container): Promise<string[]> {
    const { output } = await execIn(app, ["python3", "-c", LOGIN_SCRIPT, String(STUDENTS)]);
    const pairs = JSON.parse(output.trim().split("\n").pop()!) as [string, string][];
    const cookies = pairs.map(([cookie, token]) => {
        rememberCsrfToken(cookie, token);
        return cookie;
    });
    if (cookies.length !== STUDENTS) throw new Error(`expected ${STUDENTS} cookies, got ${cookies.length}`);
    return cookies;
}
