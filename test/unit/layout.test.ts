/**
 * The layout docs/architecture.md draws: layer folders whose files depend downward only, and no
 * import cycle anywhere in the product code.
 */
import * as fs from "fs";
import * as path from "path";
import { CONTAINERS_DIR } from "../../core/paths";
import { importCycles, importGraph, productFiles } from "../support/imports";
import { runtimeCopies } from "../support/runtimeImage";

/** A layer may import its own and lower ones: core → config → render → components → program → commands. */
const RANK: Record<string, number> = { core: 0, config: 1, render: 2, components: 3, "": 4, cli: 5, school: 5 };
const layerOf = (file: string) => (file.includes("/") ? file.slice(0, file.indexOf("/")) : "");

describe("the product's imports", () => {
    const graph = importGraph(productFiles());

    test("the files are read: every layer has some, and imports are found", () => {
        const layers = new Set([...graph.keys()].map(layerOf));
        expect([...layers].sort()).toEqual(["", "cli", "components", "config", "core", "render", "school"]);
        expect([...graph.values()].flat().length).toBeGreaterThan(100);
    });

    test("no import cycle", () => {
        expect(importCycles(graph)).toEqual([]);
    });

    test("each layer imports only its own and the layers below it", () => {
        const upward = [...graph].flatMap(([file, deps]) =>
            deps.filter((d) => RANK[layerOf(d)] > RANK[layerOf(file)]).map((d) => `${file} -> ${d}`),
        );
        expect(upward).toEqual([]);
    });
});

describe("the cycle finder", () => {
    test("finds a cycle through three files and a file importing itself, and nothing in a chain", () => {
        const g = new Map([
            ["a", ["b"]],
            ["b", ["c"]],
            ["c", ["a"]],
            ["d", ["d"]],
            ["e", ["f"]],
            ["f", []],
        ]);
        expect(importCycles(g)).toEqual([["a", "b", "c"], ["d"]]);
    });
});

describe("containers/: a folder per image, the runtime image's helpers a folder per role", () => {
    test("the runtime Dockerfile copies every role folder of its context, and nothing else lies beside them", () => {
        const context = path.join(CONTAINERS_DIR, "runtime");
        const entries = fs.readdirSync(context, { withFileTypes: true }).filter((e) => e.name !== "__pycache__");
        const roles = entries.filter((e) => e.isDirectory()).map((e) => e.name);
        expect(roles.sort()).toEqual(["app", "backups", "deploy", "jobs"]);
        expect(runtimeCopies().sort()).toEqual(roles.sort());
        expect(entries.filter((e) => !e.isDirectory()).map((e) => e.name)).toEqual(["Dockerfile"]);
    });
});
