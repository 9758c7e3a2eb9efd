/**
 * Headless Chromium (Debian's chromium-headless-shell, driven by puppeteer-core: no browser
 * download) as a school PC would run it: a profile of its own whose NSS database trusts the school
 * CA (installed the way the German install page tells a Linux/ChromeOS user: certutil into
 * ~/.pki/nssdb), the school's server name mapped to this machine, and every console error and CSP
 * violation of every page counted.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** Where Debian puts the browser (scripts/test-env.sh installs chromium-headless-shell). */
export const CHROMIUM_CANDIDATES = [
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/bin/chromium-headless-shell",
    "/usr/bin/chromium",
];

export function chromiumPath(): string {
    const found = CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p));
    if (!found)
        throw new Error(
            `no Chromium at ${CHROMIUM_CANDIDATES.join(", ")}: run scripts/test-env.sh (it installs chromium-headless-shell)`,
        );
    return found;
}

export interface SchoolPc {
    readonly browser: Browser;
    /** The profile's home (its NSS database is `<home>/.pki/nssdb`). */
    readonly home: string;
    /** Console errors and CSP violations seen on every page opened so far, with the page's URL. */
    readonly consoleErrors: string[];
    readonly cspViolations: string[];
    /** A new tab, watched for console errors and CSP violations. */
    newPage(): Promise<Page>;
    close(): Promise<void>;
}

export interface SchoolPcOptions {
    /** PEM of the school CA to trust (the page's Linux steps: certutil -A -t "C,,"). */
    readonly caPem?: string;
    /** Host names that resolve to 127.0.0.1 (the school server's name). */
    readonly hosts?: readonly string[];
}

/** The install page's Linux steps (certutil into the NSS database Chrome reads), run in the profile's home. */
export function installCaLikeTheInstallPage(home: string, caPem: string): void {
    const db = path.join(home, ".pki", "nssdb");
    fs.mkdirSync(db, { recursive: true });
    const file = path.join(home, "schul-ca.crt");
    fs.writeFileSync(file, caPem);
    execFileSync("certutil", ["-d", `sql:${db}`, "-N", "--empty-password"]);
    execFileSync("certutil", ["-d", `sql:${db}`, "-A", "-t", "C,,", "-n", "Schul-CA", "-i", file]);
}

export async function schoolPc(options: SchoolPcOptions = {}): Promise<SchoolPc> {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "lm-browser-"));
    if (options.caPem) installCaLikeTheInstallPage(home, options.caPem);
    const rules = (options.hosts ?? []).map((h) => `MAP ${h} 127.0.0.1`).join(",");
    const browser = await puppeteer.launch({
        executablePath: chromiumPath(),
        headless: true,
        // Chromium reads the NSS database from $HOME; root needs --no-sandbox.
        env: { ...process.env, HOME: home },
        userDataDir: path.join(home, "profile"),
        args: ["--no-sandbox", "--disable-gpu", ...(rules ? [`--host-resolver-rules=${rules}`] : [])],
    });
    const consoleErrors: string[] = [];
    const cspViolations: string[] = [];
    return {
        browser,
        home,
        consoleErrors,
        cspViolations,
        async newPage() {
            const page = await browser.newPage();
            // A classroom PC's screen: the site's full navigation, not its narrow-screen menu.
            await page.setViewport({ width: 1280, height: 900 });
            page.on("console", (m) => {
                const text = m.text();
                if (/Content[- ]Security[- ]Policy|\[Report Only\]/i.test(text))
                    cspViolations.push(`${page.url()}: ${text}`);
                else if (m.type() === "error") consoleErrors.push(`${page.url()}: ${text}`);
            });
            page.on("pageerror", (e) => consoleErrors.push(`${page.url()}: ${(e as Error).message}`));
            // A report-only violation raises this event in the page even where nothing reaches the console.
            await page.evaluateOnNewDocument(
                'document.addEventListener("securitypolicyviolation", (e) => ' +
                    'console.warn("[Report Only] CSP " + e.violatedDirective + " blocked " + e.blockedURI));',
            );
            return page;
        },
        async close() {
            await browser.close().catch(() => undefined);
            fs.rmSync(home, { recursive: true, force: true });
        },
    };
}
