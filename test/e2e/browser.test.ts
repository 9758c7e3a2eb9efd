/**
 * What students and teachers see, in a real browser: headless Chromium on a profile of a school PC
 * (the school CA installed the way the German install page tells a Linux/ChromeOS user), against a
 * stack with tls internal published on a port other than 443. A browser sends what the other
 * tests' clients do not: Referer and Origin on a form, remembered HSTS, a back button with a
 * cache, frame rules, and it shows the pages people read. The same login runs behind a TLS proxy
 * (a Schulträger's, on another port) in front of a plain-HTTP stack. Screenshots of the install page, the 429
 * and the 503 page are written to docs/screenshots/ by `npm run screenshots`.
 */
import { execFileSync } from "child_process";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import type { HTTPRequest, Page } from "puppeteer-core";
import { TEST_IMAGES } from "../support/baseImages";
import { schoolPc, type SchoolPc } from "../support/browser";
import { testCa } from "../support/certs";
import { caFingerprintIn } from "../../components/lernmanager";
import { freePort, request } from "../support/http";
import type { Registration } from "../support/mocks";
import { liveStack, type LiveStack } from "../support/stack";

jest.setTimeout(300000);

const STACK = "e2e-browser";
const DOMAIN = "lernen.schule.test";
const OTHER = "fremde-seite.test";
/** A class's burst is let through; more than this many login POSTs at once get the 429 page. */
const LOGIN_RATE = 8;
/** `npm run screenshots` sets this to docs/screenshots; otherwise they go to a temporary folder. */
const SHOTS = process.env.LM_SCREENSHOTS ?? fs.mkdtempSync(path.join(os.tmpdir(), "lm-shots-"));

let s: LiveStack;
let pc: SchoolPc;
let base: string;
let httpsPort: number;
let caPem: string;
/** Pages that answered an error on purpose (429, 503): their console line is expected. */
const expectedErrorPages: RegExp[] = [];
/** The console lines of the deliberate login burst. */
const burstErrors: string[] = [];

beforeAll(async () => {
    httpsPort = await freePort();
    s = await liveStack(STACK, {
        "lernmanager:tls": "internal",
        "lernmanager:domain": DOMAIN,
        "lernmanager:httpsPort": String(httpsPort),
        "lernmanager:tlsImage": TEST_IMAGES.tls,
        "lernmanager:loginRatePerMinute": String(LOGIN_RATE),
    });
    const ca = await request(s.port, "/schul-ca.crt");
    expect(ca.status).toBe(200);
    caPem = ca.text();
    pc = await schoolPc({ caPem, hosts: [DOMAIN, OTHER] });
    base = `https://${DOMAIN}:${httpsPort}`;
    fs.mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
    await pc?.close();
    await s?.realization.teardown();
});

/**
 * A navigation, tried again when Chromium gives up on it because the machine's network interfaces
 * changed (ERR_NETWORK_CHANGED: Docker adds and removes interfaces for other stacks' containers).
 */
async function settle<T>(navigation: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await navigation();
        } catch (e) {
            if (attempt >= 4 || !/ERR_NETWORK_CHANGED/.test(String(e))) throw e;
        }
    }
}
const open = (page: Page, url: string) => settle(() => page.goto(url));

/** The title of the page shown, read again if the page was replaced meanwhile (a reload, a redirect). */
async function titleOf(page: Page): Promise<string> {
    for (let attempt = 1; ; attempt++) {
        try {
            await page.waitForSelector("title", { timeout: 5000 });
            return await page.title();
        } catch (e) {
            if (attempt >= 4 || !/context was destroyed|navigation/i.test(String(e))) throw e;
        }
    }
}

/**
 * Logs in through the form. When Chromium gives up the navigation after the POST because its network
 * changed, waitForNavigation does not throw: it ends on Chromium's error page
 * (chrome-error://chromewebdata/, whose path is "/"). The form is then filled and sent again, up to four
 * times; logging in twice is harmless. Any other error page fails the test with its text.
 */
async function logIn(page: Page, username: string, password: string): Promise<HTTPRequest> {
    for (let attempt = 1; ; attempt++) {
        await open(page, `${base}/login`);
        await page.type("#username", username);
        await page.type("#password", password);
        const posted = page.waitForRequest((r) => r.method() === "POST" && r.url() === `${base}/login`);
        await settle(() =>
            Promise.all([page.waitForNavigation(), page.click("form button[type=submit], form [type=submit]")]),
        );
        if (!page.url().startsWith("chrome-error:")) return posted;
        const text = String(await page.evaluate("document.body ? document.body.innerText : ''").catch(() => ""));
        if (attempt >= 4 || !/ERR_NETWORK_CHANGED/.test(text)) {
            throw new Error(`the login form's POST ended on Chromium's error page: ${text.slice(0, 300)}`);
        }
    }
}

/** A local Command's stdout alone, as @pulumi/command hands it on (stderr apart). */
function stdoutOf(reg: Registration): string {
    const [program, ...args] = (reg.inputs.interpreter as string[] | undefined) ?? ["/bin/sh", "-c"];
    return execFileSync(program, [...args, reg.inputs.create], {
        env: { ...process.env, ...(reg.inputs.environment ?? {}) },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
    });
}

const heading = (page: Page) => page.$eval("h1", (h) => (h.textContent ?? "").trim()).catch(() => "");

describe("a student on a school PC, over HTTPS on a port other than 443", () => {
    let page: Page;
    beforeAll(async () => {
        page = await pc.newPage();
    });

    test("the school CA from the install page is trusted: the site opens by its name without a warning", async () => {
        const res = await open(page, `${base}/login`);
        expect(res?.status()).toBe(200);
        expect(res?.securityDetails()?.subjectName()).toBe(DOMAIN);
        expect(await page.$("#username")).not.toBeNull();
    });

    test("logs in through the form (the browser sends Referer and Origin with the port), browses, logs out", async () => {
        const posted = await logIn(page, "student01", "lernen");
        expect(posted.headers()["referer"]).toBe(`${base}/login`);
        expect(posted.headers()["origin"]).toBe(base);
        expect(new URL(page.url()).pathname).toBe("/dashboard");
        expect(await heading(page)).toBe("Hallo student01!");
        const topic = await open(page, `${base}/topics/1`);
        expect(topic?.status()).toBe(200);
        expect(new URL(page.url()).pathname).toBe("/topics/1");
        await settle(() => Promise.all([page.waitForNavigation(), page.click("a[href='/logout']")]));
        expect(new URL(page.url()).pathname).toBe("/login");
    });

    test("the next student presses Back and sees none of the first student's pages", async () => {
        // The same profile, right after the first student logged out (the previous test).
        // History: login, dashboard, topic, login again. Back twice: the topic, then the dashboard
        // that greeted the first student by name.
        for (let i = 0; i < 2; i++) {
            await settle(() => page.goBack({ waitUntil: "load" })).catch(() => undefined);
            expect(await heading(page)).not.toBe("Hallo student01!");
            const text = String(await page.evaluate("document.body ? document.body.innerText : ''"));
            expect(text).not.toContain("Hallo student01");
        }
    });
});

describe("a student behind the school's TLS proxy (another port), the stack plain HTTP behind it", () => {
    const PROXIED = "lernen-proxy.schule.test";
    let proxied: LiveStack;
    let proxy: https.Server;
    let proxyBase: string;
    let proxyPc: SchoolPc;
    const proxyCa = testCa("Schultraeger CA");
    beforeAll(async () => {
        proxied = await liveStack(`${STACK}-proxy`, {
            // The published port's gateway (any private range Docker picks) is where the proxy's requests come from.
            "lernmanager:trustedProxies": '["172.16.0.0/12", "192.168.0.0/16", "10.0.0.0/8"]',
        });
        // A TLS proxy as a Schulträger runs one: it terminates HTTPS and forwards with X-Forwarded-*.
        const pair = proxyCa.issue([PROXIED]);
        const port = await freePort();
        proxyBase = `https://${PROXIED}:${port}`;
        proxy = https.createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
            const upstream = http.request(
                {
                    host: "127.0.0.1",
                    port: proxied.port,
                    path: req.url,
                    method: req.method,
                    headers: {
                        ...req.headers,
                        "x-forwarded-for": req.socket.remoteAddress ?? "127.0.0.1",
                        "x-forwarded-proto": "https",
                        "x-forwarded-host": req.headers.host ?? PROXIED,
                    },
                },
                (up) => {
                    res.writeHead(up.statusCode ?? 502, up.headers);
                    up.pipe(res);
                },
            );
            upstream.on("error", () => res.destroy());
            req.pipe(upstream);
        });
        await new Promise<void>((resolve) => proxy.listen(port, "127.0.0.1", resolve));
        proxyPc = await schoolPc({ caPem: proxyCa.caCert, hosts: [PROXIED] });
    });
    afterAll(async () => {
        proxy?.close();
        await proxyPc?.close();
        proxyCa.remove();
        await proxied?.realization.teardown();
    });

    test("logs in through the form, browses, logs out", async () => {
        const page = await proxyPc.newPage();
        const res = await open(page, `${proxyBase}/login`);
        expect(res?.status()).toBe(200);
        await page.type("#username", "student03");
        await page.type("#password", "lernen");
        const posted = page.waitForRequest((r) => r.method() === "POST" && r.url() === `${proxyBase}/login`);
        await settle(() =>
            Promise.all([page.waitForNavigation(), page.click("form button[type=submit], form [type=submit]")]),
        );
        expect((await posted).headers()["referer"]).toBe(`${proxyBase}/login`);
        expect(page.url()).toBe(`${proxyBase}/dashboard`);
        expect(await heading(page)).toBe("Hallo student03!");
        expect((await open(page, `${proxyBase}/topics/1`))?.status()).toBe(200);
        await settle(() => Promise.all([page.waitForNavigation(), page.click("a[href='/logout']")]));
        expect(page.url()).toBe(`${proxyBase}/login`);
        pc.consoleErrors.push(...proxyPc.consoleErrors);
        pc.cspViolations.push(...proxyPc.cspViolations);
        await page.close();
    });
});

describe("what the browser enforces", () => {
    test("after one HTTPS visit, an http:// link is upgraded by the browser itself (HSTS)", async () => {
        const page = await pc.newPage();
        await open(page, `${base}/login`);
        // http:// on the HTTPS port: only the browser's own upgrade can make that load.
        const res = await open(page, `http://${DOMAIN}:${httpsPort}/login`);
        expect(page.url()).toBe(`${base}/login`);
        expect(res?.status()).toBe(200);
        await page.close();
    });

    test("a page of another origin that frames the app shows nothing of it", async () => {
        const port = await freePort();
        const server = http.createServer((_req, res) => {
            res.writeHead(200, { "content-type": "text/html" });
            res.end(`<html><body><iframe id="f" src="${base}/login" width="600" height="400"></iframe></body></html>`);
        });
        await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
        const page = await pc.newPage();
        try {
            await open(page, `http://${OTHER}:${port}/`);
            const frame = page.frames().find((f) => f !== page.mainFrame());
            expect(frame).toBeDefined();
            const inside = await frame!.evaluate("document.querySelector('#username') !== null").catch(() => false);
            expect(inside).toBe(false);
        } finally {
            await page.close();
            server.close();
        }
    });
});

describe("the pages nginx shows itself", () => {
    test("a new PC opens the CA install page over plain HTTP; it shows the fingerprint the stack reports", async () => {
        // Another PC: no CA installed yet and no HSTS remembered, as before its first visit.
        const fresh = await schoolPc({ hosts: [DOMAIN] });
        try {
            const page = await fresh.newPage();
            const res = await open(page, `http://${DOMAIN}:${s.port}/schul-ca`);
            expect(res?.status()).toBe(200);
            const text = String(await page.evaluate("document.body.innerText"));
            expect(text).toContain("Schul-Zertifikat installieren");
            // The Linux steps are what this test's school PC ran (test/support/browser.ts).
            expect(text).toContain(`certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n Schul-CA -i schul-ca.crt`);
            // Windows: the current user's store first, which needs no administrator.
            expect(text).toMatch(/„Zertifikat installieren“ → „Aktueller Benutzer“/);
            // The stack output schoolCaFingerprint comes from the smoke step's stdout; run it once more.
            const fingerprint = caFingerprintIn(stdoutOf(s.run.named(`${STACK}-smoke`)));
            expect(fingerprint).toBe(new X509Certificate(caPem).fingerprint256);
            expect(text).toContain(fingerprint);
            await page.screenshot({ path: path.join(SHOTS, "schul-ca.png"), fullPage: true });
            pc.consoleErrors.push(...fresh.consoleErrors);
            pc.cspViolations.push(...fresh.cspViolations);
        } finally {
            await fresh.close();
        }
    });

    test("a burst of logins from one PC gets the German 429 page", async () => {
        const page = await pc.newPage();
        await open(page, `${base}/login`);
        const firstError = pc.consoleErrors.length;
        // More login POSTs at once than a class needs: the ones beyond the burst are refused.
        // A fetch Chromium gives up (its network changed: see settle) counts 0; the burst is sent
        // again, up to three times, until the limit answers.
        let statuses: number[] = [];
        for (let attempt = 0; attempt < 3 && !statuses.includes(429); attempt++)
            statuses = (await page.evaluate(`Promise.all(Array.from({ length: ${LOGIN_RATE * 3} }, () =>
                fetch("/login", { method: "POST", body: new URLSearchParams({ username: "x", password: "y" }) })
                    .then((r) => r.status, () => 0)))`)) as number[];
        expect(statuses).toContain(429);
        expectedErrorPages.push(/\/login/);
        const posted = await logIn(page, "student02", "lernen").catch(() => undefined);
        expect(posted).toBeDefined();
        expect(await titleOf(page)).toBe("Zu viele Anmeldeversuche");
        // The burst's own refusals (its POSTs carry no form token; those beyond the limit get 429).
        burstErrors.push(...pc.consoleErrors.slice(firstError));
        await page.screenshot({ path: path.join(SHOTS, "too-many-logins.png"), fullPage: true });
        await page.close();
    });

    test("while the app is down, the German maintenance page (503)", async () => {
        const apps = execFileSync(
            "docker",
            [
                "ps",
                "-q",
                "--filter",
                `label=dev.lernmanager.stack=${STACK}`,
                "--filter",
                "label=dev.lernmanager.role=app",
            ],
            { encoding: "utf8" },
        )
            .split("\n")
            .filter(Boolean);
        expect(apps.length).toBeGreaterThan(0);
        execFileSync("docker", ["stop", "-t", "1", ...apps]);
        const page = await pc.newPage();
        expectedErrorPages.push(/\/dashboard/);
        const res = await open(page, `${base}/dashboard`);
        expect(res?.status()).toBe(503);
        expect(await titleOf(page)).toMatch(/Wartung|nicht erreichbar|gleich wieder/i);
        await page.screenshot({ path: path.join(SHOTS, "unavailable.png"), fullPage: true });
        await page.close();
    });
});

describe("the console of every page visited", () => {
    test("no console error and no CSP violation beyond the error pages' own status lines (the numbers are reported)", () => {
        // The app's own pages; the foreign page that framed it logs the refusal, which is the point.
        const own = pc.consoleErrors.filter(
            (e) => e.startsWith(`https://${DOMAIN}`) || e.startsWith(`http://${DOMAIN}`),
        );
        expect(pc.consoleErrors.filter((e) => e.startsWith(`http://${OTHER}`)).join("\n")).toMatch(
            /Refused to display/,
        );
        const unexpected = own.filter(
            (e) =>
                !burstErrors.includes(e) &&
                !(expectedErrorPages.some((re) => re.test(e)) && /status of (429|503)/.test(e)),
        );
        process.stdout.write(
            `    [browser] console errors: ${pc.consoleErrors.length} (${unexpected.length} unexpected), CSP report-only violations: ${pc.cspViolations.length}\n`,
        );
        if (process.env.LM_SCREENSHOTS) process.stdout.write(`    [browser] screenshots in ${SHOTS}\n`);
        // The foreign page that framed the app reports frame-ancestors (report-only) too: expected there.
        const csp = pc.cspViolations.filter((v) => !(v.startsWith(`http://${OTHER}`) && /frame-ancestors/.test(v)));
        expect({ unexpected, csp }).toEqual({ unexpected: [], csp: [] });
    });
});
