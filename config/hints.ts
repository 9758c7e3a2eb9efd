// "Did you mean ...?" for a mistyped config key, and why a key that is gone went.
import { CONFIG_KEYS } from "./keys";
import { APP_DOWNLOADS_PREFIX } from "./web";

/** Keys a stack may still set from before they went, and why they went (the problem line says it). */
export const RETIRED_KEYS: Readonly<Record<string, string>> = {
    downloadsPrefix:
        `the app answers downloads with X-Accel-Redirect to ${APP_DOWNLOADS_PREFIX}, fixed in its code (it reads no setting), ` +
        "so nginx serves exactly that prefix and nothing else would work",
};

/** The known key closest to `key`, when it is close enough to be a typo of it. */
export function closestKey(key: string): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of Object.keys(CONFIG_KEYS)) {
        const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
        if (d < bestDistance) {
            bestDistance = d;
            best = candidate;
        }
    }
    return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        let prev = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const tmp = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
            prev = tmp;
        }
    }
    return row[b.length];
}
