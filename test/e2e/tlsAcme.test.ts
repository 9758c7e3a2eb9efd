/**
 * tls: acme against Debian's pebble (an RFC 8555 test ACME server) on the stack's network, offline:
 * the first certificate is ordered by HTTP-01 through nginx's port 80; an early renewal under load
 * loses no request; redeploying the app (and restarting the agent) orders nothing new.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Docker from "dockerode";
import { eventually, freePort } from "../support/http";
import { httpsRequest } from "../support/https";
import { copyOfDemoApp, containerLogs, liveStack, LiveStack, redeclare } from "../support/stack";
import { docker } from "../support/realize";
import { recordFigure } from "../support/figures";
import { testCa, TestCa } from "../support/certs";
import { TEST_IMAGES } from "../support/baseImages";
import { expectedBasics, renewUnderLoad, tlsBasics } from "../support/tlsChecks";
import { stackNames } from "../../core/names";

jest.setTimeout(600000);

const STACK = "e2e-tls-acme";
const DOMAIN = "lernen.schule.test";
const NETWORK = stackNames("lernmanager", STACK).network;

let pebbleCa: TestCa;
let pebble: Docker.Container;
let pebbleDir: string;
let managementPort: number;
let s: LiveStack;
let httpsPort: number;
let root: string;
let app: { dir: string; remove(): void };

const issued = async () => ((await containerLogs(pebble)).match(/Issued certificate serial/g) ?? []).length;
const get = (p: string) => httpsRequest(httpsPort, p, { ca: root, servername: DOMAIN });

beforeAll(async () => {
    // pebble: its own HTTPS certificate from a throwaway CA (given to the agent as acmeCaCertificate).
    pebbleCa = testCa("Pebble TLS CA");
    const pair = pebbleCa.issue(["pebble"]);
    pebbleDir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-pebble-"));
    fs.writeFileSync(path.join(pebbleDir, "cert.pem"), pair.cert);
    fs.writeFileSync(path.join(pebbleDir, "key.pem"), pair.key);
    fs.chmodSync(pebbleDir, 0o755);
    fs.chmodSync(path.join(pebbleDir, "key.pem"), 0o644);
    fs.writeFileSync(
        path.join(pebbleDir, "pebble.json"),
        JSON.stringify({
            pebble: {
                listenAddress: "0.0.0.0:14000",
                managementListenAddress: "0.0.0.0:15000",
                certificate: "/pebble/cert.pem",
                privateKey: "/pebble/key.pem",
                // HTTP-01 goes to nginx's plain-HTTP port inside the network (published as port 80 in prod).
                httpPort: 8080,
                tlsPort: 8443,
                ocspResponderURL: "",
                externalAccountBindingRequired: false,
            },
        }),
    );
    managementPort = await freePort();
    const old = docker.getContainer(`${STACK}-pebble`);
    await old.remove({ force: true }).catch(() => undefined);
    pebble = await docker.createContainer({
        name: `${STACK}-pebble`,
        Image: TEST_IMAGES.tls,
        Cmd: ["pebble", "-config", "/pebble/pebble.json"],
        Env: ["PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"],
        Labels: { "dev.lernmanager.stack": STACK },
        ExposedPorts: { "15000/tcp": {} },
        HostConfig: {
            Binds: [`${pebbleDir}:/pebble:ro`],
            PortBindings: { "15000/tcp": [{ HostIp: "127.0.0.1", HostPort: String(managementPort) }] },
        },
    });
    await pebble.start();

    httpsPort = await freePort();
    app = copyOfDemoApp();
    const deployed = liveStack(STACK, {
        "lernmanager:appSource": app.dir,
        "lernmanager:tls": "acme",
        "lernmanager:domain": DOMAIN,
        "lernmanager:acmeServer": "https://pebble:14000/dir",
        "lernmanager:acmeEmail": "it@schule.test",
        "lernmanager:acmeCaCertificate": pebbleCa.caCert,
        "lernmanager:httpsPort": String(httpsPort),
        "lernmanager:tlsImage": TEST_IMAGES.tls,
    });
    // pebble joins the stack's network as soon as it exists (long before the agent orders).
    await eventually(
        120,
        async () => {
            const nets = await docker.listNetworks({ filters: { name: [NETWORK] } });
            if (!nets.some((n) => n.Name === NETWORK)) return false;
            await docker.getNetwork(NETWORK).connect({ Container: pebble.id, EndpointConfig: { Aliases: ["pebble"] } });
            return true;
        },
        "the stack's network to appear",
    );
    s = await deployed;
    // The client trusts only pebble's root (made at pebble's start), from its management API.
    root = await new Promise<string>((resolve, reject) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const req = require("https").get(
            // (pebble's management listener has a certificate of its own: not what is tested here)
            { host: "127.0.0.1", port: managementPort, path: "/roots/0", rejectUnauthorized: false },
            (res: import("http").IncomingMessage) => {
                let body = "";
                res.on("data", (c) => (body += c));
                res.on("end", () => resolve(body));
            },
        );
        req.on("error", reject);
    });
});
afterAll(async () => {
    // pebble first: the stack's network cannot go while pebble is attached to it.
    await pebble?.remove({ force: true }).catch(() => undefined);
    await s?.realization.teardown();
    if (pebbleDir) fs.rmSync(pebbleDir, { recursive: true, force: true });
    pebbleCa?.remove();
    app?.remove();
});

test("the first certificate comes from the ACME server by HTTP-01 through nginx, and is served", async () => {
    expect(await issued()).toBe(1);
    const res = await get("/healthz");
    expect(res.status).toBe(200);
    const status = await s.exec(s.realization.container(`${STACK}-tls`), ["/usr/local/bin/lm-tls", "status"]);
    expect(status.output).toMatch(/^ok .*acme certificate for lernen\.schule\.test valid until/);
});

test("port 80 redirects, HSTS, Secure cookies and login over HTTPS, TLS 1.2/1.3 only, resumption, HTTP/2", async () => {
    const t = { httpPort: s.port, httpsPort, ca: root, servername: DOMAIN, hsts: "max-age=300" };
    expect(await tlsBasics(t)).toEqual(expectedBasics(t));
});

test("an early renewal under load: 0 failed requests, nginx serves the new certificate", async () => {
    const agent = s.realization.container(`${STACK}-tls`);
    const { load, servedNewAt, renewal } = await renewUnderLoad({ httpsPort, ca: root, servername: DOMAIN, agent });
    expect(servedNewAt > 0 ? "served" : renewal).toBe("served");
    expect(await issued()).toBe(2);
    expect(load.failures).toEqual({});
    recordFigure("tlsAcmeRenewalUnderLoad", {
        requests: load.requests,
        failed: load.failed,
        resentOnNewConnection: load.resent,
        servedNewAfterSeconds: servedNewAt,
    });
    console.log(
        `ACME renewal under load: ${load.requests} requests, ${load.failed} failed, ${load.resent} resent on a new connection; new certificate served after ${servedNewAt} s`,
    );
});

test("redeploying the app, and restarting the agent, orders no new certificate", async () => {
    const before = (await get("/healthz")).fingerprint;
    fs.appendFileSync(path.join(app.dir, "app.py"), "\n# a new version\n");
    const next = await redeclare(s, {});
    await s.realization.update(next.registrations);
    await s.realization.container(`${STACK}-tls`).restart();
    await new Promise((r) => setTimeout(r, 5000));
    const status = await s.exec(s.realization.container(`${STACK}-tls`), ["/usr/local/bin/lm-tls", "status"]);
    expect(status.output).toMatch(/^ok /);
    expect(await issued()).toBe(2);
    expect((await get("/healthz")).fingerprint).toBe(before);
});
