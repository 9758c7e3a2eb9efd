/**
 * What happens across starts and deploys: first start on empty volumes, a replace of the
 * app container by a rebuilt image, and what must survive it.
 */
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { csrfHeaders, eventually, login, request } from "../support/http";
import { containerCreateBody, docker, waitHealthy } from "../support/realize";
import { containerLogs, copyOfDemoApp, execIn, liveStack, LiveStack, redeclare } from "../support/stack";

jest.setTimeout(300000);

const COUNT_SQL = [
    "import sqlite3",
    "c = sqlite3.connect('/app/data/lernmanager.db')",
    "print(c.execute(\"select count(*) from users where role = 'admin'\").fetchone()[0], c.execute('select count(*) from init_log').fetchone()[0])",
].join("\n");

describe("first start on empty volumes", () => {
    let s: LiveStack;
    const extra: string[] = [];
    beforeAll(async () => {
        s = await liveStack("e2e-init");
    });
    afterAll(async () => {
        for (const id of extra)
            await docker
                .getContainer(id)
                .remove({ force: true })
                .catch(() => undefined);
        await s?.realization.teardown();
    });

    test("the init hook ran in the migrate step; the app container's start skipped it (marker for its version)", async () => {
        const logs = await s.logs(s.app());
        expect(logs).toMatch(/init hook app:init_app already ran for version \w+ on this database: skipped/);
        // Not before the fork (the migrate step ran it), but in each of the 4 workers after it (initInWorkers).
        expect(logs).not.toMatch(/init hook app:init_app ran in [\d.]+ s/);
        expect(logs.match(/init hook app:init_app ran in worker \d+/g)).toHaveLength(4);
        const version = (await s.exec(s.app(), ["sh", "-c", "echo $LM_APP_VERSION"])).output.trim();
        const marker = await s.exec(s.app(), ["cat", "/app/data/.lernmanager-init"]);
        expect(marker.output.trim()).toBe(version);
    });

    test("creates the schema and the first admin exactly once, 5 times in a row, 0 failures", async () => {
        const reg = s.run.named("e2e-init-app");
        const imageId = (await docker.getImage(reg.inputs.image).inspect()).Id;
        const dataVolume = "lernmanager-e2e-init-data";
        await s.app().stop({ t: 40 });
        await s.app().remove();
        // The backup container mounts the data volume too.
        await s.realization.container("-backups").remove({ force: true });
        const results: string[] = [];
        for (let i = 1; i <= 5; i++) {
            await docker.getVolume(dataVolume).remove();
            await docker.createVolume({ Name: dataVolume, Labels: { "dev.lernmanager.stack": "e2e-init" } });
            const c = await docker.createContainer(
                containerCreateBody(reg, imageId, `e2e-init-start-${i}-${randomBytes(3).toString("hex")}`),
            );
            extra.push(c.id);
            await c.start();
            await waitHealthy(c, 120);
            const [admins, inits] = (await execIn(c, ["python3", "-c", COUNT_SQL])).output
                .trim()
                .split(" ")
                .map(Number);
            const info = await c.inspect();
            const logs = await containerLogs(c);
            results.push(`start ${i}: admins=${admins} init_runs=${inits} restarts=${info.RestartCount}`);
            // One run alone before the fork (schema, first admin), then one in each of the 4 workers.
            expect({ i, admins, inits, restarts: info.RestartCount }).toEqual({ i, admins: 1, inits: 5, restarts: 0 });
            expect(logs).not.toMatch(/Traceback|IntegrityError|database is locked|Worker failed to boot/);
            expect(logs.match(/init hook app:init_app ran in [\d.]+ s/g)).toHaveLength(1);
            expect(logs.match(/init hook app:init_app ran in worker/g)).toHaveLength(4);
            await c.stop({ t: 40 });
            if (i === 5) {
                // Started again on the same database, the same version: the hook is not run again.
                await c.start();
                await waitHealthy(c, 120);
                const again = await containerLogs(c);
                expect(again.match(/init hook app:init_app ran in [\d.]+ s/g)).toHaveLength(1);
                expect(again.match(/init hook app:init_app ran in worker/g)).toHaveLength(8);
                expect(again).toMatch(/init hook app:init_app already ran for version \w+ on this database: skipped/);
                expect(again).toMatch(/static files already synced for version \w+: skipped/);
                await c.stop({ t: 40 });
            }
            await c.remove();
            extra.pop();
        }
        console.log(results.join("\n"));
    });
});

describe("a deploy with a rebuilt app image", () => {
    let s: LiveStack;
    const app = copyOfDemoApp();
    beforeAll(async () => {
        s = await liveStack("e2e-life");
    });
    afterAll(async () => {
        await s?.realization.teardown();
        app.remove();
    });

    test("replaces only the app container; data, uploads and the secret survive; static files are refreshed", async () => {
        const cookie = await login(s.port, "student01", "lernen");
        const write = await request(s.port, "/tasks/3/done", {
            method: "POST",
            headers: { ...csrfHeaders(cookie), "Content-Type": "application/x-www-form-urlencoded" },
            body: "write_id=before-deploy-1",
        });
        // 200 with the write's id: a refused or failed write is a 302 (the app hides its errors).
        expect(write.status).toBe(200);
        expect(write.json().write_id).toBe("before-deploy-1");
        const before = {
            version: (await request(s.port, "/healthz")).json().version,
            fingerprint: (await request(s.port, "/whoami")).json().secret_fingerprint,
            nginx: await s.nginx().inspect(),
            app: (await s.app().inspect()).Id,
        };

        // A one-line change to a stylesheet, deployed with the same stack state (same secret).
        const marker = `lm-rebuilt-${randomBytes(4).toString("hex")}`;
        fs.appendFileSync(path.join(app.dir, "static/css/app.css"), `\n.${marker} { color: #123456; }\n`);
        const next = await redeclare(s, { "lernmanager:appSource": app.dir });
        const replaced = await s.realization.update(next.registrations);
        expect(replaced).toEqual(["lernmanager-e2e-life-app", "lernmanager-e2e-life-backups"]);

        // The old app container is stopped and removed at the end of the update; until nginx's
        // resolver (valid=2s) drops its address, a request may still go there and wait out the
        // 1 s connect timeout. nginx retries it on the new container, /healthz too (a health check
        // must not call that moment an outage): every ask in the first 3 s answers the new version.
        const asked: string[] = [];
        const until = Date.now() + 3000;
        const ask = async () => {
            const answer = await request(s.port, "/healthz");
            asked.push(answer.status === 200 ? String(answer.json().version) : `status ${answer.status}`);
            return answer;
        };
        let after = await ask();
        while (Date.now() < until && asked.length < 200) after = await ask();
        expect(new Set(asked)).toEqual(new Set([next.outputs.appVersion]));
        expect(after.status).toBe(200);
        expect(after.json().version).toBe(next.outputs.appVersion);
        expect(after.json().version).not.toBe(before.version);
        expect((await s.app().inspect()).Id).not.toBe(before.app);

        // nginx untouched.
        const nginxAfter = await s.nginx().inspect();
        expect(nginxAfter.Id).toBe(before.nginx.Id);
        expect(nginxAfter.State.StartedAt).toBe(before.nginx.State.StartedAt);

        // Data written before the deploy is still there; the session cookie is still valid (same SECRET_KEY).
        expect((await request(s.port, "/api/writes/before-deploy-1")).status).toBe(200);
        expect((await request(s.port, "/api/progress", { headers: { Cookie: cookie } })).status).toBe(200);
        expect((await request(s.port, "/whoami")).json().secret_fingerprint).toBe(before.fingerprint);
        expect(before.fingerprint).toBe(createHash("sha256").update(s.secretKey).digest("hex").slice(0, 16));

        // The new stylesheet reaches nginx's static volume.
        const seconds = await eventually(
            15,
            async () => (await request(s.port, "/static/css/app.css")).text().includes(marker),
            "new CSS through nginx",
        );
        console.log(`new CSS served by nginx ${seconds.toFixed(1)} s after the deploy finished`);
        // Its gzip copy was rewritten with it.
        const zipped = await request(s.port, "/static/css/app.css", { headers: { "Accept-Encoding": "gzip" } });
        expect(zipped.headers["content-encoding"]).toBe("gzip");
        expect(zlib.gunzipSync(zipped.body).toString()).toContain(marker);
    });
});
