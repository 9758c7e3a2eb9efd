/**
 * Transfer size through the stack per content type: the body bytes nginx sends with and without
 * `Accept-Encoding: gzip` (headers not counted), and that the gzipped body unpacks to the same size.
 */
import * as zlib from "zlib";
import { request } from "../../test/support/http";
import { GzipFigure } from "./results";

export const GZIP_PAGES: { type: string; path: string; cookie: boolean; inTarget: boolean }[] = [
    { type: "HTML (dashboard)", path: "/dashboard", cookie: true, inTarget: true },
    { type: "HTML (login)", path: "/login", cookie: false, inTarget: true },
    { type: "HTML (topic)", path: "/topics/1", cookie: true, inTarget: true },
    { type: "CSS", path: "/static/css/app.css", cookie: false, inTarget: true },
    { type: "JS", path: "/static/js/app.js", cookie: false, inTarget: true },
    { type: "JSON", path: "/api/progress", cookie: true, inTarget: false },
    { type: "SVG", path: "/static/img/logo.svg", cookie: false, inTarget: false },
];

export async function measureGzip(port: number, cookie: string): Promise<GzipFigure[]> {
    const out: GzipFigure[] = [];
    for (const page of GZIP_PAGES) {
        const headers: Record<string, string> = page.cookie ? { Cookie: cookie } : {};
        const plain = await request(port, page.path, { headers });
        const zipped = await request(port, page.path, { headers: { ...headers, "Accept-Encoding": "gzip" } });
        if (plain.status !== 200 || zipped.status !== 200) {
            throw new Error(`gzip: ${page.path} answered ${plain.status} / ${zipped.status}`);
        }
        const encoded = zipped.headers["content-encoding"] === "gzip";
        const unpacked = encoded ? zlib.gunzipSync(zipped.body).length : zipped.body.length;
        // Dynamic pages may differ a little between two requests; a large difference is a wrong page.
        if (Math.abs(unpacked - plain.body.length) > plain.body.length * 0.05) {
            throw new Error(`gzip: ${page.path} unpacks to ${unpacked} bytes, plain is ${plain.body.length}`);
        }
        out.push({
            type: page.type,
            path: page.path,
            plainBytes: plain.body.length,
            gzipBytes: zipped.body.length,
            ratio: Math.round((zipped.body.length / plain.body.length) * 1000) / 1000,
            compressed: encoded,
            inTarget: page.inTarget,
        });
    }
    return out;
}
