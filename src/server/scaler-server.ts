import type { RawInputs } from "../config/resolve.ts";
import type { ServiceConfig } from "../config/service-config.ts";
import type { SignalSource } from "../sources/signal-source.ts";
import { type AnswerThread, startAnswerThread } from "./answer-thread/host.ts";
import type { TransportSecurity } from "./credentials.ts";
import { DecisionBook } from "./decision-book.ts";
import { decisionSeriesSlices } from "./decision-series.ts";
import { ExternalScalerService } from "./external-scaler.ts";
import { EXTERNAL_SCALER_SERVICE_NAME, type GrpcServer, startGrpcServer } from "./grpc-server.ts";
import { createHttpEndpoints, listenHttp } from "./http.ts";
import { listenError } from "./listen-error.ts";
import type { Logger } from "./logger.ts";
import { ScalerMetrics } from "./metrics.ts";
import { startPeerSharing } from "./peers/sharing.ts";

export interface ScalerServerOptions {
  readonly config: ServiceConfig;
  /** The environment that supplies per-ScaledObject defaults (normally process.env). */
  readonly env: RawInputs["env"];
  readonly source: SignalSource & { close?: () => Promise<void> };
  readonly logger: Logger;
  readonly metrics?: ScalerMetrics;
  /**
   * The book's clock (tests). With one, KEDA is answered on the main thread: the answer thread
   * reads the wall clock, and would disagree with a clock the test moves.
   */
  readonly clock?: () => number;
  /** Prometheus exposition of the sources' own counters, appended to /metrics. */
  readonly sourceMetrics?: () => Promise<string>;
  /** The answer thread stopped without being asked to (serve.ts shuts the process down). */
  readonly onAnswerThreadLost?: (reason: string) => void;
}

export interface RunningScaler {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly security: TransportSecurity;
  readonly book: DecisionBook;
  /** Whether KEDA is answered on a thread of its own (ANSWER_THREAD) or on the main thread. */
  readonly answerThread: boolean;
  /** Open StreamIsActive / StreamMetricSpec streams. */
  readonly openStreamCount: number;
  readonly metrics: ScalerMetrics;
  /** Health NOT_SERVING, streams end with OK, in-flight calls finish within the grace period. */
  shutdown(): Promise<void>;
}

/** Starts the gRPC services (ExternalScaler, health, reflection) and the HTTP endpoints. */
export async function startScalerServer(options: ScalerServerOptions): Promise<RunningScaler> {
  const { config, logger } = options;
  const metrics = options.metrics ?? new ScalerMetrics();
  const peers = startPeerSharing({ config, registry: metrics.registry, logger });
  const onThread = config.server.answerThread && options.clock === undefined;
  let thread: AnswerThread | undefined;
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
    onKept: (entry, kept, stamp) => thread?.kept(entry, kept, stamp),
    onForget: (_identity, entry) => thread?.forgotten(entry),
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
  let service: ExternalScalerService | undefined;
  let ownServer: GrpcServer | undefined;
  if (onThread) {
    thread = await startAnswerThread({
      config,
      env: options.env,
      book,
      metrics,
      logger,
      startsNotServing: peers !== undefined,
      // The peers' memory service shares the gRPC port; its calls are relayed to the store here.
      addRelayedServices: (server) => peers?.sync.addToServer(server),
      onLost: (reason) => {
        logger.error({ reason }, "the answer thread stopped: KEDA's gRPC port is closed");
        options.onAnswerThreadLost?.(reason);
      },
    });
  } else {
    service = new ExternalScalerService({
      book,
      metrics,
      logger,
      streamRefreshMs: config.server.streamRefreshSeconds * 1000,
    });
    ownServer = await startGrpcServer({
      config,
      externalScaler: service.implementation,
      addServices: (server) => peers?.sync.addToServer(server),
    });
  }
  const grpcPort = thread?.grpcPort ?? (ownServer as GrpcServer).port;
  const security = thread?.security ?? (ownServer as GrpcServer).security;
  const setHealth = (name: string, status: "SERVING" | "NOT_SERVING") =>
    thread ? thread.setHealth(name, status) : ownServer?.health.setStatus(name, status);
  const stopGrpc = (graceMs: number) => {
    if (thread) return thread.stop(graceMs);
    service?.endAllStreams();
    return (ownServer as GrpcServer).stop(graceMs, () =>
      logger.warn("in-flight calls outlived the shutdown grace period; closing them"),
    );
  };

  let serving = true;
  // With peers, KEDA is told "not ready" until this replica holds their memory (bounded wait).
  let ready = peers === undefined;
  if (!ready) setHealth(EXTERNAL_SCALER_SERVICE_NAME, "NOT_SERVING");
  const http = createHttpEndpoints({
    metrics,
    logger,
    decisions: () => book.latestDecisions(),
    decisionSeries: () => decisionSeriesSlices(book.records()),
    exposeDecisions: config.debug.exposeDecisions,
    isServing: () => serving && ready,
    extraMetrics: options.sourceMetrics,
    beforeScrape: thread ? () => (thread as AnswerThread).flushMetrics() : undefined,
  });
  let httpPort: number;
  try {
    httpPort = await listenHttp(http, config.server.httpPort, config.server.listenHost);
  } catch (error) {
    await stopGrpc(0);
    throw listenError("HTTP_PORT", config.server.httpPort, config.server.listenHost, error);
  }

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () => {
    shuttingDown ??= (async () => {
      serving = false;
      peers?.sync.close();
      book.close();
      setHealth("", "NOT_SERVING");
      setHealth(EXTERNAL_SCALER_SERVICE_NAME, "NOT_SERVING");
      await stopGrpc(config.server.shutdownGraceSeconds * 1000);
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
      setHealth(EXTERNAL_SCALER_SERVICE_NAME, "SERVING");
    }
  }

  logger.info({ grpcPort, httpPort, security, host: config.server.listenHost }, "keda-llm-scaler serving");
  return {
    grpcPort,
    httpPort,
    security,
    book,
    answerThread: thread !== undefined,
    get openStreamCount() {
      return thread?.openStreamCount ?? service?.openStreamCount ?? 0;
    },
    metrics,
    shutdown,
  };
}
