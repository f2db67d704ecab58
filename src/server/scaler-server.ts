import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { RawInputs } from "../config/resolve.ts";
import type { ServiceConfig } from "../config/service-config.ts";
import type { SignalSource } from "../sources/signal-source.ts";
import { serverCredentials, type TransportSecurity, transportSecurity } from "./credentials.ts";
import { DecisionBook } from "./decision-book.ts";
import { decisionSeriesSlices } from "./decision-series.ts";
import { ExternalScalerService } from "./external-scaler.ts";
import { createHttpEndpoints, listenHttp } from "./http.ts";
import { listenError } from "./listen-error.ts";
import type { Logger } from "./logger.ts";
import { ScalerMetrics } from "./metrics.ts";
import { startPeerSharing } from "./peers/sharing.ts";
import { externalScalerService, loadPackageDefinition } from "./proto.ts";

const EXTERNAL_SCALER_SERVICE_NAME = "externalscaler.ExternalScaler";

export interface ScalerServerOptions {
  readonly config: ServiceConfig;
  /** The environment that supplies per-ScaledObject defaults (normally process.env). */
  readonly env: RawInputs["env"];
  readonly source: SignalSource & { close?: () => Promise<void> };
  readonly logger: Logger;
  readonly metrics?: ScalerMetrics;
  readonly clock?: () => number;
  /** Prometheus exposition of the sources' own counters, appended to /metrics. */
  readonly sourceMetrics?: () => Promise<string>;
}

export interface RunningScaler {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly security: TransportSecurity;
  readonly book: DecisionBook;
  readonly service: ExternalScalerService;
  readonly metrics: ScalerMetrics;
  /** Health NOT_SERVING, streams end with OK, in-flight calls finish within the grace period. */
  shutdown(): Promise<void>;
}

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

/** Starts the gRPC services (ExternalScaler, health, reflection) and the HTTP endpoints. */
export async function startScalerServer(options: ScalerServerOptions): Promise<RunningScaler> {
  const { config, logger } = options;
  const metrics = options.metrics ?? new ScalerMetrics();
  const peers = startPeerSharing({ config, registry: metrics.registry, logger });
  // The decision line's keys are fixed below, and none is a redacted path: it goes without the
  // redaction pass, which parses every path and copies the object on every line (~4 KB of
  // garbage each), and this line is written for every changed decision of every ScaledObject.
  const decisionLog = logger.child({}, { redact: { paths: [] } });
  const book = new DecisionBook({
    memoryStore: peers?.store,
    source: options.source,
    env: options.env,
    clock: options.clock ?? Date.now,
    decisionTtlMs: config.server.decisionTtlSeconds * 1000,
    maxEntries: config.server.maxScaledObjects,
    onError: (error) => logger.error({ err: error }, "a decision made ahead of KEDA's next poll failed"),
    onDecision: (decision, changed) => {
      if (!changed) return;
      decisionLog.info(
        {
          scaledObject: decision.scaledObject,
          desiredReplicas: decision.desiredReplicas,
          metricValue: decision.metricValue,
          active: decision.active,
          available: decision.available,
          drivingFactor: decision.drivingFactor,
        },
        decision.summary,
      );
    },
  });
  const service = new ExternalScalerService({
    book,
    metrics,
    logger,
    streamRefreshMs: config.server.streamRefreshSeconds * 1000,
  });

  const packageDefinition = loadPackageDefinition();
  const grpcServer = new grpc.Server(serverOptions(config));
  grpcServer.addService(externalScalerService(packageDefinition), service.implementation);
  const health = new HealthImplementation({ "": "SERVING", [EXTERNAL_SCALER_SERVICE_NAME]: "SERVING" });
  health.addToServer(grpcServer);
  peers?.sync.addToServer(grpcServer);
  new ReflectionService(packageDefinition).addToServer(grpcServer);

  const tlsFiles = {
    certFile: config.tls.certFile,
    keyFile: config.tls.keyFile,
    clientCaFile: config.tls.clientCaFile,
    reloadCheckMs: config.tls.reloadCheckSeconds * 1000,
  };
  const security = transportSecurity(tlsFiles);
  const host = config.server.listenHost.includes(":")
    ? `[${config.server.listenHost}]`
    : config.server.listenHost;
  let credentials: grpc.ServerCredentials;
  try {
    credentials = await serverCredentials(tlsFiles);
  } catch (error) {
    grpcServer.forceShutdown();
    throw error;
  }
  const grpcPort = await bindGrpc(grpcServer, `${host}:${config.server.grpcPort}`, credentials).catch(
    (error: unknown) => {
      grpcServer.forceShutdown();
      throw listenError("GRPC_PORT", config.server.grpcPort, config.server.listenHost, error);
    },
  );

  let serving = true;
  // With peers, KEDA is told "not ready" until this replica holds their memory (bounded wait).
  let ready = peers === undefined;
  if (!ready) health.setStatus(EXTERNAL_SCALER_SERVICE_NAME, "NOT_SERVING");
  const http = createHttpEndpoints({
    metrics,
    logger,
    decisions: () => book.latestDecisions(),
    decisionSeries: () => decisionSeriesSlices(book.records()),
    exposeDecisions: config.debug.exposeDecisions,
    isServing: () => serving && ready,
    extraMetrics: options.sourceMetrics,
  });
  let httpPort: number;
  try {
    httpPort = await listenHttp(http, config.server.httpPort, config.server.listenHost);
  } catch (error) {
    grpcServer.forceShutdown();
    throw listenError("HTTP_PORT", config.server.httpPort, config.server.listenHost, error);
  }

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () => {
    shuttingDown ??= (async () => {
      serving = false;
      peers?.sync.close();
      book.close();
      health.setStatus("", "NOT_SERVING");
      health.setStatus(EXTERNAL_SCALER_SERVICE_NAME, "NOT_SERVING");
      service.endAllStreams();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          logger.warn("in-flight calls outlived the shutdown grace period; closing them");
          grpcServer.forceShutdown();
          resolve();
        }, config.server.shutdownGraceSeconds * 1000);
        grpcServer.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      await options.source.close?.();
    })();
    return shuttingDown;
  };

  if (peers) {
    peers.sync.start(grpcPort);
    const filled = await peers.sync.fill(config.peers.startupSeconds * 1000);
    logger.info(
      filled,
      filled.from ? "policy memory copied from a peer" : "no peer answered; starting with empty memory",
    );
    if (serving) {
      ready = true;
      health.setStatus(EXTERNAL_SCALER_SERVICE_NAME, "SERVING");
    }
  }

  logger.info({ grpcPort, httpPort, security, host: config.server.listenHost }, "keda-llm-scaler serving");
  return { grpcPort, httpPort, security, book, service, metrics, shutdown };
}
