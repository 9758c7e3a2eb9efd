import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/load";
import type { StackNames } from "../core/names";
import { nginxConfArgs } from "../render/web";
import type { Storage } from "./storage";
import { TlsAgent } from "./tls";
import { WebServer } from "./web";

export interface FrontArgs {
    readonly config: StackConfig;
    readonly names: StackNames;
    readonly storage: Storage;
    /** The app container: nginx starts once it is healthy. */
    readonly app: docker.Container;
    readonly labels: pulumi.Input<docker.types.input.ContainerLabel>[];
    /** The stack component: both resources are its children (their URNs stay as they were). */
    readonly parent: pulumi.ComponentResource;
}

/**
 * What faces the students: nginx (the only published container) and, with TLS on, the TLS agent it
 * takes its certificate from. A function, not a component, so the resources keep their parent.
 */
export function declareFront(name: string, args: FrontArgs): { tls?: TlsAgent; web: WebServer } {
    const { config, names, storage } = args;
    const tlsVolume = storage.tls;
    const tls = tlsVolume
        ? new TlsAgent(
              `${name}-tls`,
              {
                  repository: names.images.tls,
                  containerName: names.tlsContainer,
                  platform: config.platform,
                  tls: config.tls,
                  hostSwapLimit: config.hostSwapLimit,
                  network: storage.network.name,
                  volume: tlsVolume.name,
                  labels: args.labels,
              },
              { parent: args.parent },
          )
        : undefined;
    const web = new WebServer(
        `${name}-nginx`,
        {
            repository: names.images.nginx,
            containerName: names.nginxContainer,
            baseImage: config.nginxImage,
            platform: config.platform,
            ...nginxConfArgs(config),
            network: storage.network.name,
            volumes: { static: storage.static.name, uploads: storage.uploads.name, spool: storage.spool.name },
            bindAddress: config.bindAddress,
            port: config.port,
            app: args.app,
            memoryMb: config.nginxMemoryMb,
            hostSwapLimit: config.hostSwapLimit,
            labels: args.labels,
            gradingToken: config.gradingServiceUrl ? config.appSecrets.GRADING_SERVICE_TOKEN : undefined,
            tls:
                tls && tlsVolume
                    ? {
                          volume: tlsVolume.name,
                          port: config.tls.httpsPort,
                          aliases: [...config.tls.names],
                          agent: tls.container,
                      }
                    : undefined,
        },
        { parent: args.parent },
    );
    return { tls, web };
}
