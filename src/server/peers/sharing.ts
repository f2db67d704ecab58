import type { Registry } from "prom-client";
import type { ServiceConfig } from "../../config/service-config.ts";
import type { Logger } from "../logger.ts";
import { PeerMemoryStore } from "./peer-memory-store.ts";
import { PeerSync } from "./peer-sync.ts";

/**
 * The shared policy memory when PEERS_DNS is set (undefined otherwise: one replica keeps its
 * memory in the process, exactly as before). With TLS, replicas reach each other with the gRPC
 * port's own certificate and CA.
 */
export function startPeerSharing(options: {
  config: ServiceConfig;
  registry: Registry;
  logger: Logger;
}): { store: PeerMemoryStore; sync: PeerSync } | undefined {
  const { config } = options;
  const peersDns = config.peers.dns;
  if (peersDns === undefined) return undefined;
  const store = new PeerMemoryStore(config.server.maxScaledObjects);
  const { certFile, keyFile, clientCaFile } = config.tls;
  const sync = new PeerSync({
    store,
    peersDns,
    tls: certFile && keyFile && clientCaFile ? { certFile, keyFile, caFile: clientCaFile } : undefined,
    pushIntervalMs: config.peers.pushIntervalSeconds * 1000,
    callTimeoutMs: config.peers.timeoutSeconds * 1000,
    registry: options.registry,
    logger: options.logger,
  });
  return { store, sync };
}
