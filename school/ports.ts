import * as net from "net";

/**
 * True when nothing listens on 127.0.0.1:`port` (and nothing on 0.0.0.0:`port` either, which
 * blocks the loopback address too): the port can be bound right now. Docker usually holds a
 * published port with docker-proxy, so running containers count as busy; with the userland proxy
 * turned off it does not, which is why the port picker also skips every port another school's
 * config names.
 */
export function isPortFreeOnLoopback(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.unref();
        server.once("error", () => resolve(false));
        server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
            server.close(() => resolve(true));
        });
    });
}
