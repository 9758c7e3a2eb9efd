// What the TLS agent is given (components/tls.ts), from the TLS config alone or with the component
// declared under Pulumi's mocks, without running the program: what `bash scripts/mutate.sh
// components/tls.ts` runs against each mutant. The same seen through the whole program, the school
// CA and the agent's script: test/unit/tls.test.ts.
import * as path from "path";
import type { TlsConfig } from "../../config/tls";
import { LETS_ENCRYPT_STAGING } from "../../config/tls";
import {
    TLS_AGENT_HEALTHCHECK,
    TLS_PIDS_LIMIT,
    TlsAgent,
    tlsAgentEnvs,
    tlsAgentFields,
    tlsAgentImage,
} from "../../components/tls";
import { REPLACE_ON_CHANGES } from "../../components/web";
import { hashStrings } from "../../core/contentHash";
import { stagedContext } from "../../core/buildContext";
import { CONTAINERS_DIR, projectRelative } from "../../core/paths";
import { load } from "../support/config";
import { declareUnderMocks } from "../support/componentMocks";

const LEGO = "goacme/lego:v4.35.2";
/** An internal-mode TlsConfig as loadConfig gives it; each test changes what it is about. */
const internal: TlsConfig = {
    mode: "internal",
    domain: "lernen.schule.test",
    names: ["lernen.schule.test", "lm.schule.local"],
    addresses: ["10.0.0.7", "192.168.1.20"],
    httpsPort: 8443,
    renewDays: 21,
    checkHours: 5,
    hstsMaxAge: 300,
    hstsIncludeSubdomains: false,
    agentImage: LEGO,
};
const files: TlsConfig = {
    ...internal,
    mode: "files",
    files: { certificate: "CERT-PEM", key: "KEY-PEM", notAfter: "2027-01-01T00:00:00Z" },
};
const acme: TlsConfig = {
    ...internal,
    mode: "acme",
    acme: { server: LETS_ENCRYPT_STAGING, email: "it@schule.test", caCertificate: "CA-PEM" },
};

describe("the agent's environment (containers/tls/lm-tls.sh)", () => {
    test("internal: mode, names and addresses space-separated, renewal days, check interval in seconds, nginx's URL; nothing else", () => {
        expect(tlsAgentEnvs(internal)).toEqual([
            "LM_TLS_MODE=internal",
            "LM_TLS_NAMES=lernen.schule.test lm.schule.local",
            "LM_TLS_ADDRESSES=10.0.0.7 192.168.1.20",
            "LM_TLS_RENEW_DAYS=21",
            "LM_TLS_CHECK_SECONDS=18000",
            "LM_NGINX_URL=http://nginx:8080",
        ]);
        expect(tlsAgentEnvs({ ...internal, renewDays: 30, checkHours: 12, addresses: [] })).toEqual(
            expect.arrayContaining(["LM_TLS_RENEW_DAYS=30", "LM_TLS_CHECK_SECONDS=43200", "LM_TLS_ADDRESSES="]),
        );
    });

    test("acme: the server, the e-mail and the server's CA besides; files: the certificate and its key", () => {
        expect(tlsAgentEnvs(acme)).toEqual([
            "LM_TLS_MODE=acme",
            "LM_TLS_NAMES=lernen.schule.test lm.schule.local",
            "LM_TLS_ADDRESSES=10.0.0.7 192.168.1.20",
            "LM_TLS_RENEW_DAYS=21",
            "LM_TLS_CHECK_SECONDS=18000",
            "LM_NGINX_URL=http://nginx:8080",
            `LM_ACME_SERVER=${LETS_ENCRYPT_STAGING}`,
            "LM_ACME_EMAIL=it@schule.test",
            "LM_ACME_CA_PEM=CA-PEM",
        ]);
        expect(tlsAgentEnvs(files).slice(-2)).toEqual(["LM_TLS_CERT_PEM=CERT-PEM", "LM_TLS_KEY_PEM=KEY-PEM"]);
        expect(tlsAgentEnvs(files).join("\n")).not.toMatch(/LM_ACME/);
    });

    test("from the stack's config: the domain first, then extraNames; tlsRenewDays and tlsCheckHours as set", () => {
        const tls = load({
            tls: "internal",
            domain: "lernen.schule.test",
            extraNames: '["lm.schule.local"]',
            tlsRenewDays: "14",
            tlsCheckHours: "3",
        }).tls;
        expect(tlsAgentEnvs(tls)).toEqual(
            expect.arrayContaining([
                "LM_TLS_NAMES=lernen.schule.test lm.schule.local",
                "LM_TLS_RENEW_DAYS=14",
                "LM_TLS_CHECK_SECONDS=10800",
            ]),
        );
    });
});

describe("the agent's image and container fields", () => {
    test("the tag hashes the staged context and the base image, so either one builds a new image", () => {
        const image = tlsAgentImage("lernmanager-prod-tls", "abc123", LEGO);
        expect(image).toEqual({
            imageName: `lernmanager-prod-tls:${hashStrings("abc123", LEGO)}`,
            args: { BASE_IMAGE: LEGO },
        });
        expect(image.imageName).toMatch(/^lernmanager-prod-tls:[0-9a-f]{12}$/);
        expect(tlsAgentImage("lernmanager-prod-tls", "abc124", LEGO).imageName).not.toBe(image.imageName);
        expect(tlsAgentImage("lernmanager-prod-tls", "abc123", "goacme/lego:v4.36").imageName).not.toBe(
            image.imageName,
        );
    });

    test("its own user (TLS uid, nginx's group), a small /tmp, its health check, no waiting, hardened with 128 MiB and small logs", () => {
        expect(tlsAgentFields(undefined)).toEqual({
            user: "10003:10002",
            tmpfs: { "/tmp": "rw,nosuid,nodev,size=16m" },
            healthcheck: TLS_AGENT_HEALTHCHECK,
            wait: false,
            destroyGraceSeconds: 10,
            readOnly: true,
            init: true,
            restart: "unless-stopped",
            capabilities: { drops: ["ALL"] },
            securityOpts: ["no-new-privileges:true"],
            memory: 128,
            memorySwap: 128,
            logDriver: "json-file",
            logOpts: { "max-size": "1m", "max-file": "3" },
        });
        // A host without swap-limit support: -1, as Docker reads it back.
        expect(tlsAgentFields(false).memorySwap).toBe(-1);
        expect(tlsAgentFields(true).memorySwap).toBe(128);
        expect(TLS_AGENT_HEALTHCHECK).toEqual({
            tests: ["CMD", "/usr/local/bin/lm-tls", "health"],
            interval: "30s",
            timeout: "10s",
            retries: 3,
            startPeriod: "2m0s",
        });
        expect(TLS_PIDS_LIMIT).toBe(64);
    });
});

describe("the TlsAgent component, declared under the mocks", () => {
    const declare = (tls: TlsConfig, hostSwapLimit?: boolean) =>
        declareUnderMocks((transformations) => {
            new TlsAgent(
                "lm-tls",
                {
                    repository: "lernmanager-unit-tls",
                    containerName: "lernmanager-unit-tls",
                    platform: "linux/arm64",
                    tls,
                    hostSwapLimit,
                    network: "lm-net",
                    volume: "lm-tls-volume",
                    labels: [{ label: "dev.lernmanager.stack", value: "unit" }],
                },
                { transformations },
            );
        });

    test("an image built from the staged containers/tls, and a container of it on the stack's network with the TLS volume", async () => {
        const declared = await declare(internal);
        expect(declared.map((d) => `${d.type} ${d.name}`).sort()).toEqual([
            "docker:index/container:Container lm-tls",
            "docker:index/image:Image lm-tls-image",
            "lernmanager:web:TlsAgent lm-tls",
        ]);
        const { dir, hash } = stagedContext(path.join(CONTAINERS_DIR, "tls"));
        const image = declared.find((d) => d.name === "lm-tls-image")!;
        expect(image.inputs).toMatchObject({
            imageName: tlsAgentImage("lernmanager-unit-tls", hash, LEGO).imageName,
            skipPush: true,
            build: {
                context: projectRelative(dir),
                dockerfile: projectRelative(path.join(dir, "Dockerfile")),
                args: { BASE_IMAGE: LEGO },
                platform: "linux/arm64",
            },
        });
        const c = declared.find((d) => d.type === "docker:index/container:Container")!;
        expect(c.inputs).toMatchObject({
            name: "lernmanager-unit-tls",
            image: `${image.inputs.imageName}@digest`,
            envs: tlsAgentEnvs(internal),
            networksAdvanced: [{ name: "lm-net" }],
            mounts: [{ type: "volume", source: "lm-tls-volume", target: "/srv/tls" }],
            user: "10003:10002",
            memorySwap: 128,
            wait: false,
            labels: [
                { label: "dev.lernmanager.stack", value: "unit" },
                { label: "dev.lernmanager.role", value: "tls" },
            ],
        });
        // Without the school's key, the environment is plain (readable in a diff).
        expect(c.secretInputs).not.toContain("envs");
        expect(c.opts.replaceOnChanges).toEqual([...REPLACE_ON_CHANGES]);
        expect(c.opts.deleteBeforeReplace).toBe(true);
        expect(c.opts.parent).toBeDefined();
        expect(image.opts.parent).toBe(c.opts.parent);
        // Its state keeps the container's name.
        expect(declared.find((d) => d.type === "lernmanager:web:TlsAgent")!.outputs).toEqual({
            container: "lernmanager-unit-tls",
        });
    });

    test("files: the environment holds the school's key and is secret; a host without swap limits gets -1", async () => {
        const declared = await declare(files, false);
        const c = declared.find((d) => d.type === "docker:index/container:Container")!;
        expect(c.inputs.envs).toContain("LM_TLS_KEY_PEM=KEY-PEM");
        expect(c.secretInputs).toContain("envs");
        expect(c.inputs.memorySwap).toBe(-1);
    });
});
