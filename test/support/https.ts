import { execFile } from "child_process";
import { createHash } from "crypto";
import * as https from "https";
import * as tls from "tls";
import { readResponse, type Response } from "./http";

export interface HttpsOptions {
    /** The only CA the client trusts (PEM). */
    readonly ca: string;
    /** The name the client asks for (SNI) and checks the certificate against. */
    readonly servername: string;
    readonly method?: string;
    readonly headers?: Record<string, string | number>;
    readonly body?: string;
}

/** One HTTPS request to 127.0.0.1 that trusts only `ca` and checks the certificate for `servername`. */
export function httpsRequest(
    port: number,
    path: string,
    opts: HttpsOptions,
): Promise<Response & { fingerprint: string; protocol: string }> {
    return new Promise((resolve, reject) => {
        const req = https.request(
            {
                host: "127.0.0.1",
                port,
                path,
                method: opts.method ?? "GET",
                headers: { Host: opts.servername, ...opts.headers },
                ca: opts.ca,
                servername: opts.servername,
                agent: false,
                timeout: 30000,
            },
            (res) => {
                const socket = res.socket as tls.TLSSocket;
                const cert = socket.getPeerCertificate();
                const protocol = socket.getProtocol() ?? "";
                readResponse(res).then(
                    (r) =>
                        resolve({ ...r, fingerprint: createHash("sha256").update(cert.raw).digest("hex"), protocol }),
                    reject,
                );
            },
        );
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
        if (opts.body !== undefined) req.write(opts.body);
        req.end();
    });
}

/** Runs a command on the host (openssl, curl) and returns its exit code and output. */
export function hostCommand(cmd: string, args: string[], input = ""): Promise<{ code: number; output: string }> {
    return new Promise((resolve) => {
        const child = execFile(cmd, args, { timeout: 30000 }, (err, stdout, stderr) => {
            const raw: unknown = err ? (err as unknown as { code?: unknown }).code : 0;
            resolve({ code: typeof raw === "number" ? raw : 1, output: `${stdout}${stderr}` });
        });
        child.stdin?.end(input);
    });
}
