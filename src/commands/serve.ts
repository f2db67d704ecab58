import * as grpc from "@grpc/grpc-js";
import { collectProblems } from "../config/resolve.ts";
import { loadServiceConfig, type ServiceConfig } from "../config/service-config.ts";
import { parseScalerSpec } from "../config/spec.ts";
import { ListenError } from "../server/listen-error.ts";
import { createLogger } from "../server/logger.ts";
import { startScalerServer } from "../server/scaler-server.ts";
import { createSignalSource } from "../sources/collect.ts";

const USAGE = `usage: keda-llm-scaler serve

Runs the KEDA external scaler: gRPC on GRPC_PORT (default 6000), /metrics, /healthz, /readyz and
/debug/decisions on HTTP_PORT (default 8080). Configured by environment variables; see
'keda-llm-scaler config-docs' or 'keda-llm-scaler check-config'. SIGTERM, SIGINT and SIGHUP shut
down gracefully, within SHUTDOWN_GRACE_SECONDS.
`;

type Env = Readonly<Record<string, string | undefined>>;

/** Refuses to start on a bad environment, naming every problem at once (not one per restart). */
function configOrExplain(env: Env): ServiceConfig | undefined {
  const service = collectProblems(() => loadServiceConfig(env));
  // Every ScaledObject inherits the env defaults: a bad MAX_REPLICAS must stop us here, not
  // fail each ScaledObject's first poll.
  const defaults = collectProblems(() =>
    parseScalerSpec({ name: "defaults", namespace: "default" }, {}, env),
  );
  const problems = [...service.problems, ...defaults.problems].map((p) => p.message);
  if (problems.length === 0 && service.value) return service.value;
  process.stderr.write(
    `keda-llm-scaler: invalid configuration\n${problems.map((p) => `  ✗ ${p}`).join("\n")}\n`,
  );
  return undefined;
}

export async function run(argv: string[], env: Env = process.env): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`unexpected argument ${JSON.stringify(argv[0])}\n\n${USAGE}`);
    return 2;
  }
  const config = configOrExplain(env);
  if (!config) return 1;
  const logger = createLogger(config.server.logLevel);
  const built = collectProblems(() =>
    createSignalSource(config, {
      onQueryThreadStop: ({ reason, restartInMs }) =>
        logger.warn(
          { reason, restartInMs },
          restartInMs === 0
            ? `the Prometheus query thread ${reason}; a new one starts now`
            : `the Prometheus query thread ${reason} again; Prometheus reads fail until a new one starts in ${Math.ceil(restartInMs / 1000)} s`,
        ),
    }),
  );
  if (!built.value) {
    process.stderr.write(
      `keda-llm-scaler: invalid configuration\n${built.problems.map((p) => `  ✗ ${p.message}`).join("\n")}\n`,
    );
    return 1;
  }
  const source = built.value;
  for (const line of source.describe()) logger.info({ source: line }, `source ${line}`);

  // grpc-js writes its own errors straight to stderr ("E No address added ..."); through the logger
  // they become JSON lines like everything else the server says.
  const grpcLog = (level: "error" | "info" | "debug") => (message: unknown) =>
    logger[level]({ component: "grpc-js" }, String(message));
  grpc.setLogger({ error: grpcLog("error"), info: grpcLog("info"), debug: grpcLog("debug") });

  // Without the answer thread nobody answers KEDA: the process stops (with status 1), and
  // Kubernetes starts a new one, rather than staying alive and ready to no one. A loss before the
  // signal handlers below exist is remembered and acted on as soon as they do.
  let lostEarly = false;
  let lost: (reason: string) => void = () => {
    lostEarly = true;
  };
  let scaler: Awaited<ReturnType<typeof startScalerServer>>;
  try {
    scaler = await startScalerServer({
      config,
      env,
      source,
      logger,
      sourceMetrics: () => source.metricsText(),
      onAnswerThreadLost: (reason) => lost(reason),
    });
  } catch (error) {
    await source.close?.();
    if (!(error instanceof ListenError)) throw error;
    process.stderr.write(`keda-llm-scaler: ${error.message}\n`);
    return 1;
  }
  // The "serving" line is what readiness scripts and people wait for: out now, not with the next batch.
  logger.flush();

  return new Promise<number>((resolve) => {
    let status = 0;
    const stop = (signal: NodeJS.Signals | "answer thread lost") => {
      logger.info({ signal }, "shutting down: health NOT_SERVING, streams ending, in-flight calls finishing");
      for (const name of STOP_SIGNALS) process.removeListener(name, stop);
      exitBy(config.server.shutdownGraceSeconds * 1000 + EXIT_MARGIN_MS, logger);
      scaler.shutdown().then(
        () => {
          logger.info("stopped");
          resolve(status);
        },
        (error: unknown) => {
          logger.error({ err: error }, "shutdown failed");
          resolve(1);
        },
      );
    };
    for (const name of STOP_SIGNALS) process.on(name, stop);
    lost = () => {
      status = 1;
      // exitBy() exits with this, should the shutdown itself outlive the grace period.
      process.exitCode = 1;
      stop("answer thread lost");
    };
    if (lostEarly) lost("before serving");
  });
}

/**
 * SIGHUP stops the scaler like SIGTERM rather than reloading it: its configuration is the
 * environment, which a running process cannot re-read, and its certificates already reload when
 * their files change. Stopping gracefully beats the default (killed at once, streams cut).
 */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];

/** After the grace period, the time left for the HTTP server and the sources to close. */
const EXIT_MARGIN_MS = 2000;

/**
 * The last guarantee that shutdown is bounded: whatever handle is still open when the grace
 * period and its margin are over (a socket an upstream SDK keeps, a timer), the process exits.
 * Unreferenced, so it never delays an exit that happens by itself.
 */
function exitBy(deadlineMs: number, logger: { warn: (message: string) => void }): void {
  setTimeout(() => {
    logger.warn("open handles outlived the shutdown grace period; exiting");
    process.exit(process.exitCode ?? 0);
  }, deadlineMs).unref();
}
