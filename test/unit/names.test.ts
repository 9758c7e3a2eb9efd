import { stackNames, stackPrefix } from "../../core/names";

describe("physical names", () => {
    test("are derived from project and stack", () => {
        const n = stackNames("lernmanager", "dev");
        expect(n.prefix).toBe("lernmanager-dev");
        expect(n.network).toBe("lernmanager-dev-net");
        expect(Object.values(n.volumes)).toEqual([
            "lernmanager-dev-data",
            "lernmanager-dev-uploads",
            "lernmanager-dev-static",
            "lernmanager-dev-cache",
            "lernmanager-dev-backups",
            "lernmanager-dev-tls",
            "lernmanager-dev-spool",
        ]);
        expect(n.nginxContainer).toBe("lernmanager-dev-nginx");
    });

    test("stack names Docker would reject are made safe, and distinct spellings stay distinct", () => {
        const upper = stackPrefix("lernmanager", "Prod");
        const lower = stackPrefix("lernmanager", "prod");
        expect(upper).toMatch(/^lernmanager-prod-[0-9a-f]{6}$/);
        expect(lower).toBe("lernmanager-prod");
        expect(stackPrefix("lernmanager", "school_a.v2")).toMatch(/^lernmanager-school-a-v2-[0-9a-f]{6}$/);
    });
});
