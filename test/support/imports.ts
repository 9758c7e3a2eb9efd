import * as fs from "fs";
import * as path from "path";
import { PROJECT_DIR } from "../../core/paths";

/** The product's TypeScript files (relative to the project folder), tests and benchmarks aside. */
export function productFiles(): string[] {
    const out: string[] = [];
    const walk = (rel: string) => {
        for (const e of fs.readdirSync(path.join(PROJECT_DIR, rel), { withFileTypes: true })) {
            const child = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory()) walk(child);
            else if (e.name.endsWith(".ts")) out.push(child);
        }
    };
    for (const f of ["index.ts", "program.ts"]) out.push(f);
    for (const dir of ["core", "config", "render", "components", "cli", "school"]) walk(dir);
    return out.sort();
}

/**
 * Each file's imports of other project files, `import type` included (a cycle of types is still a
 * cycle a reader has to untangle): static imports, re-exports, dynamic `import()` and `require`.
 */
export function importGraph(files: readonly string[]): Map<string, string[]> {
    const graph = new Map<string, string[]>();
    for (const file of files) {
        const text = fs.readFileSync(path.join(PROJECT_DIR, file), "utf8");
        const deps = new Set<string>();
        const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["'](\.{1,2}\/[^"']*)["']/g;
        for (let m = re.exec(text); m; m = re.exec(text)) {
            const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]));
            const target = [`${base}.ts`, `${base}/index.ts`].find((c) => fs.existsSync(path.join(PROJECT_DIR, c)));
            if (!target) throw new Error(`${file}: cannot resolve ${m[1]}`);
            deps.add(target);
        }
        graph.set(file, [...deps].sort());
    }
    return graph;
}

/** Every import cycle, each as the path of files that closes it (Tarjan's strongly connected components). */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
    let index = 0;
    const stack: string[] = [];
    const on = new Set<string>();
    const idx = new Map<string, number>();
    const low = new Map<string, number>();
    const cycles: string[][] = [];
    const visit = (v: string) => {
        idx.set(v, index);
        low.set(v, index++);
        stack.push(v);
        on.add(v);
        for (const w of graph.get(v) ?? []) {
            if (!idx.has(w)) {
                visit(w);
                low.set(v, Math.min(low.get(v)!, low.get(w)!));
            } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
        }
        if (low.get(v) === idx.get(v)) {
            const scc: string[] = [];
            let w: string;
            do {
                w = stack.pop()!;
                on.delete(w);
                scc.push(w);
            } while (w !== v);
            if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
        }
    };
    for (const v of graph.keys()) if (!idx.has(v)) visit(v);
    return cycles;
}
