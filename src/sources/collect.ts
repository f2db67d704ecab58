import type { ScalerSpec } from "../config/spec.ts";
import type { ServiceConfig } from "../config/service-config.ts";
import type { SignalReadings } from "../policy/readings.ts";
import { failureOf } from "./reading.ts";
import type { SignalSource } from "./signal-source.ts";

/** Upstream traffic so far: what the load benchmark reports as "upstream requests per poll". */
export interface SourceStats {
  readonly upstreamRequests: number;
  readonly cacheHits: number;
}

/** The process's one source of readings, as the server uses it. */
export interface ScalerSignalSource extends SignalSource {
  /** One line per source saying whether it is configured, for the startup log. */
  describe(): string[];
  stats(): SourceStats;
  close(): Promise<void>;
}

/**
 * Builds the source from the process configuration. Until a source is configured every signal a
 * spec uses is a `not_configured` failure naming the setting to add, so the policy answers
 * UNAVAILABLE (KEDA's fallback) instead of a made-up zero.
 */
export function createSignalSource(config: ServiceConfig): ScalerSignalSource {
  const prometheusMissing = "PROMETHEUS_URL is not set";
  return {
    describe: () => [
      config.prometheus.url ? `prometheus: ${config.prometheus.url}` : `prometheus: off (${prometheusMissing})`,
      "serviceBus: off (SERVICEBUS_CONNECTION_STRING / SERVICEBUS_NAMESPACE not set)",
      "azureMonitor: off (AZURE_MONITOR_METRICS_ENDPOINT not set)",
    ],
    stats: () => ({ upstreamRequests: 0, cacheHits: 0 }),
    close: async () => {},
    read: async (spec: ScalerSpec): Promise<SignalReadings> => {
      if (!spec.queue.enabled) return {};
      return {
        queueBacklog: failureOf(
          "serviceBus",
          "not_configured",
          "no queue source: set SERVICEBUS_CONNECTION_STRING or SERVICEBUS_NAMESPACE and scalerMetadata.serviceBusQueue",
        ),
      };
    },
  };
}
