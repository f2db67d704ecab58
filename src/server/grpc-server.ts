import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { ServiceConfig } from "../config/service-config.ts";
import { serverCredentials, type TransportSecurity, transportSecurity } from "./credentials.ts";
import { listenError } from "./listen-error.ts";
import { externalScalerService, loadPackageDefinition } from "./proto.ts";

export const EXTERNAL_SCALER_SERVICE_NAME = "externalscaler.ExternalScaler";

function serverOptions(config: ServiceConfig): grpc.ServerOptions {
  const server = config.server;
  return {
    // KEDA configures no keepalive on its side; our pings keep idle push streams alive through proxies.
    "grpc.keepalive_time_ms": server.keepaliveSeconds * 1000,
    "grpc.keepalive_timeout_ms": 20_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.max_connection_age_ms": server.maxConnectionAgeSeconds * 1000,
    "grpc.max_connection_age_grace_ms": server.shutdownGraceSeconds * 1000,
    "grpc.max_concurrent_streams": server.maxConcurrentStreams,
    "grpc.max_receive_message_length": server.maxMessageBytes,
    "grpc.max_send_message_length": server.maxMessageBytes,
    // Channelz (gRPC's introspection service) is never served here, yet tracking it costs every
    // call a few per cent of the CPU under KEDA's load.
    "grpc.enable_channelz": 0,
  };
}

function bindGrpc(
  server: grpc.Server,
  address: string,
  credentials: grpc.ServerCredentials,
): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port))),
  );
}

export interface GrpcServer {
  readonly port: number;
  readonly security: TransportSecurity;
  /** grpc.health.v1, for the whole server ("") and for the ExternalScaler service. */
  readonly health: HealthImplementation;
  /**
   * Lets in-flight calls finish for up to `graceMs`, then closes what is left; `onForced` is told
   * when the grace period ran out.
   */
  stop(graceMs: number, onForced: () => void): Promise<void>;
}

/**
 * The gRPC server KEDA talks to: the ExternalScaler service, health and reflection (and whatever
 * `addServices` adds), bound with the configured transport security. Throws a ListenError when
 * the port cannot be bound.
 */
export async function startGrpcServer(options: {
  readonly config: ServiceConfig;
  readonly externalScaler: grpc.UntypedServiceImplementation;
  readonly addServices?: (server: grpc.Server) => void;
  /** The ExternalScaler service starts NOT_SERVING (a replica still copying its peers' memory). */
  readonly startsNotServing?: boolean;
}): Promise<GrpcServer> {
  const { config } = options;
  const packageDefinition = loadPackageDefinition();
  const server = new grpc.Server(serverOptions(config));
  server.addService(externalScalerService(packageDefinition), options.externalScaler);
  const health = new HealthImplementation({
    "": "SERVING",
    [EXTERNAL_SCALER_SERVICE_NAME]: options.startsNotServing ? "NOT_SERVING" : "SERVING",
  });
  health.addToServer(server);
  options.addServices?.(server);
  new ReflectionService(packageDefinition).addToServer(server);

  const tlsFiles = {
    certFile: config.tls.certFile,
    keyFile: config.tls.keyFile,
    clientCaFile: config.tls.clientCaFile,
    reloadCheckMs: config.tls.reloadCheckSeconds * 1000,
  };
  const security = transportSecurity(tlsFiles);
  const { listenHost } = config.server;
  const host = listenHost.includes(":") ? `[${listenHost}]` : listenHost;
  let credentials: grpc.ServerCredentials;
  try {
    credentials = await serverCredentials(tlsFiles);
  } catch (error) {
    server.forceShutdown();
    throw error;
  }
  const port = await bindGrpc(server, `${host}:${config.server.grpcPort}`, credentials).catch(
    (error: unknown) => {
      server.forceShutdown();
      throw listenError("GRPC_PORT", config.server.grpcPort, listenHost, error);
    },
  );
  const stop = (graceMs: number, onForced: () => void) =>
    new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        onForced();
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  return { port, security, health, stop };
}
