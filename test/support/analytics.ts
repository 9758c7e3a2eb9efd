import { request } from "./http";

/** The demo app's analytics events in the database (GET /api/analytics/count, itself not counted). */
export const analyticsEvents = async (port: number): Promise<number> =>
    (await request(port, "/api/analytics/count")).json().count;

/** Waits until no event is pending (the count stands still for 1.2 s: the writers flush every 0.5 s). */
export async function settledEvents(port: number): Promise<number> {
    let last = await analyticsEvents(port);
    for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 1200));
        const now = await analyticsEvents(port);
        if (now === last) return now;
        last = now;
    }
    throw new Error("the analytics count never settled");
}
