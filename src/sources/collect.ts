import { readFileSync } from "node:fs";
import type { TokenCredential } from "@azure/core-auth";
import { ConfigError } from "../config/resolve.ts";
import type { ServiceConfig } from "../config/service-config.ts";
import type { ScalerSpec } from "../config/spec.ts";
import { failureOf, type Reading, type SourceName } from "../readings/reading.ts";
import type { SignalKey, SignalReadings } from "../readings/signal-table.ts";
import {
  type AzureMonitorGpuQuery,
  AzureMonitorGpuReader,
  type GpuAnswer,
  gpuReading,
} from "./azure-monitor.ts";
import { SharedCache } from "./cache.ts";
import { unlessAborted } from "./failures.ts";
import { planReadings, type SignalTask } from "./plan.ts";
import { PrometheusClient, type QueryAnswer } from "./prometheus/client.ts";
import { readingFromAnswer } from "./prometheus/interpret.ts";
import { type PrometheusSignal, prometheusQuery } from "./prometheus/queries.ts";
import { describeEntity, ServiceBusBacklogReader, type ServiceBusEntity } from "./servicebus.ts";
import type { SignalSource } from "./signal-source.ts";
import { type SourceCounts, SourceMetrics } from "./source-metrics.ts";

/** Upstream traffic so far: what the load benchmark reports as "upstream requests per poll". */
export interface SourceStats {
  /** Requests sent upstream, all sources together (cache misses). */
  readonly upstreamRequests: number;
  /** Reads answered by the shared cache or by joining an in-flight request. */
  readonly cacheHits: number;
  /** Upstream failures of any kind. */
  readonly upstreamErrors: number;
  readonly bySource: Readonly<Record<SourceName, SourceCounts>>;
}

/** The process's one source of readings, as the server uses it. */
export interface ScalerSignalSource extends SignalSource {
  /** One line per source saying whether it is configured, for the startup log. Never a secret. */
  describe(): string[];
  stats(): SourceStats;
  /** Prometheus exposition of the sources' counters (ScalerServerOptions.sourceMetrics). */
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

export interface SignalSourceOptions {
  /** Entra ID credential for PROMETHEUS_AUTH=azure, SERVICEBUS_NAMESPACE and Azure Monitor. */
  readonly credential?: () => TokenCredential;
  readonly clock?: () => number;
}

function readCa(env: string, file: string | undefined): Buffer | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as { code?: string }).code ?? "unreadable";
    throw new ConfigError([{ where: `env ${env}`, message: `env ${env}: cannot read ${file} (${code})` }]);
  }
}

/** The URL without any user:password part, for the startup log. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = "redacted";
      parsed.password = "";
    }
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}

/**
 * One DefaultAzureCredential for the whole process, made on the first token request: it probes
 * the environment, and loading @azure/identity costs most of a second that a scaler using no
 * Entra ID should not pay at startup.
 */
function lazyDefaultCredential(): () => TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  const onFirstUse: TokenCredential = {
    getToken: async (scopes, options) => {
      credential ??= import("@azure/identity").then(
        ({ DefaultAzureCredential }) => new DefaultAzureCredential(),
      );
      return (await credential).getToken(scopes, options);
    },
  };
  return () => onFirstUse;
}

/**
 * Builds the sources from the process configuration: Prometheus, Service Bus and Azure Monitor
 * behind one shared cache (TTL + single-flight), each upstream call bounded by SOURCE_TIMEOUT_MS
 * (or the ScaledObject's queryTimeoutMs), and KEDA's cancellation honoured. Throws ConfigError
 * when a configured CA file cannot be read.
 */
export function createSignalSource(
  config: ServiceConfig,
  options: SignalSourceOptions = {},
): ScalerSignalSource {
  const clock = options.clock ?? Date.now;
  const credential = options.credential ?? lazyDefaultCredential();
  const limits = config.sourceLimits;
  const metrics = new SourceMetrics();
  // Aborted by close(): every upstream request still open ends, so shutdown is not held by one.
  const stopping = new AbortController();

  const prometheusUrl = config.prometheus.url;
  const prometheus = prometheusUrl
    ? new PrometheusClient(
        { ...config.prometheus, url: prometheusUrl },
        {
          caPem: readCa("PROMETHEUS_CA_FILE", config.prometheus.caFile),
          credential,
          stopping: stopping.signal,
        },
      )
    : undefined;
  const serviceBus = new ServiceBusBacklogReader(config.serviceBus, {
    caPem: readCa("SERVICEBUS_CA_FILE", config.serviceBus.caFile),
    credential,
    clock,
    stopping: stopping.signal,
  });
  const azureMonitor = new AzureMonitorGpuReader(config.azureMonitor, {
    caPem: readCa("AZURE_MONITOR_CA_FILE", config.azureMonitor.caFile),
    credential,
    stopping: stopping.signal,
  });

  const prometheusCache = new SharedCache<QueryAnswer>(limits.cacheTtlMs, clock);
  const serviceBusCache = new SharedCache<Reading>(limits.cacheTtlMs, clock);
  const azureMonitorCache = new SharedCache<GpuAnswer>(limits.cacheTtlMs, clock);

  /** Loads through the cache, counting upstream requests and hits. */
  function cached<T extends { ok: boolean }>(
    source: SourceName,
    cache: SharedCache<T>,
    key: string,
    load: () => Promise<T>,
  ): Promise<T> {
    let loaded = false;
    const answer = cache.get(key, async () => {
      loaded = true;
      const started = performance.now();
      const result = await load();
      const outcome = result.ok ? { ok: true as const } : (result as unknown as Reading);
      metrics.upstream(source, outcome, (performance.now() - started) / 1000);
      return result;
    });
    if (!loaded) metrics.cacheHit(source);
    return answer;
  }

  async function readPrometheus(
    spec: ScalerSpec,
    signal: PrometheusSignal,
    nowMs: number,
    timeoutMs: number,
  ) {
    if (!prometheus) return failureOf("prometheus", "not_configured", "set env PROMETHEUS_URL");
    const query = prometheusQuery(spec, signal, { allowCustomQueries: config.prometheus.allowCustomQueries });
    if ("ok" in query) return query;
    // The expression contains the namespace and every selector value: two ScaledObjects share an
    // entry only when they would send the very same query.
    const answer = await cached("prometheus", prometheusCache, `${timeoutMs}|${query.expr}`, () =>
      prometheus.query(query.expr, { timeoutMs, what: query.what }),
    );
    return readingFromAnswer(query, answer, nowMs, limits.staleAfterSeconds * 1000);
  }

  function readServiceBus(entity: ServiceBusEntity, timeoutMs: number): Promise<Reading> {
    return cached("serviceBus", serviceBusCache, `${timeoutMs}|${describeEntity(entity)}`, () =>
      serviceBus.read(entity, timeoutMs),
    );
  }

  async function readAzureMonitor(query: AzureMonitorGpuQuery, nowMs: number, timeoutMs: number) {
    const key = [timeoutMs, query.metricNamespace, query.metric, ...[...query.resourceIds].sort()].join("|");
    const answer = await cached("azureMonitor", azureMonitorCache, key, () =>
      azureMonitor.query(query, nowMs, timeoutMs),
    );
    return gpuReading(answer, nowMs, azureMonitor.staleAfterMs, query.metric);
  }

  function run(task: SignalTask, spec: ScalerSpec, nowMs: number, timeoutMs: number): Promise<Reading> {
    switch (task.source) {
      case "prometheus":
        return readPrometheus(spec, task.signal, nowMs, timeoutMs);
      case "serviceBus":
        return readServiceBus(task.entity, timeoutMs);
      case "azureMonitor":
        return readAzureMonitor(task.query, nowMs, timeoutMs);
      case "failure":
        return Promise.resolve(task.reading);
    }
  }

  const sourceOf = (task: SignalTask): SourceName =>
    task.source === "failure" ? task.reading.failure.source : task.source;

  return {
    describe: () => [
      prometheus
        ? `prometheus: ${safeUrl(config.prometheus.url ?? "")} (auth ${config.prometheus.auth}${
            config.prometheus.caFile ? ", custom CA" : ""
          }${config.prometheus.allowCustomQueries ? ", custom queries allowed" : ""})${
            prometheus.misconfiguration ? ` MISCONFIGURED: ${prometheus.misconfiguration}` : ""
          }`
        : "prometheus: off (PROMETHEUS_URL is not set): vLLM, DCGM and replica signals are not read",
      serviceBus.configured
        ? `serviceBus: ${config.serviceBus.connectionString ? "connection string" : `Entra ID, namespace ${config.serviceBus.namespace}`}`
        : `serviceBus: off (${serviceBus.problem})`,
      azureMonitor.configured
        ? `azureMonitor: ${config.azureMonitor.endpoint} (Entra ID)`
        : `azureMonitor: off (${azureMonitor.problem})`,
      `cache: ${limits.cacheTtlMs} ms TTL, single-flight; upstream timeout ${limits.timeoutMs} ms; stale after ${limits.staleAfterSeconds} s`,
    ],
    stats: () => {
      const bySource = metrics.snapshot();
      const all = Object.values(bySource);
      return {
        upstreamRequests: all.reduce((n, s) => n + s.requests, 0),
        cacheHits: all.reduce((n, s) => n + s.cacheHits, 0),
        upstreamErrors: all.reduce((n, s) => n + s.errors, 0),
        bySource,
      };
    },
    metricsText: () => metrics.text(),
    close: async () => {
      stopping.abort(new Error("the scaler is shutting down"));
      prometheus?.close();
      prometheusCache.clear();
      serviceBusCache.clear();
      azureMonitorCache.clear();
    },
    read: async (spec, { signal, nowMs }) => {
      const timeoutMs = spec.sources.queryTimeoutMs ?? limits.timeoutMs;
      const plan = [
        ...planReadings(spec, {
          prometheus: prometheus !== undefined,
          serviceBus,
          azureMonitor,
        }),
      ];
      const readings = await Promise.all(
        plan.map(([key, task]): Promise<[SignalKey, Reading]> => {
          const reading = unlessAborted(run(task, spec, nowMs, timeoutMs), signal, () =>
            failureOf(
              sourceOf(task),
              "timeout",
              `${key}: the caller (KEDA) cancelled before the source answered`,
            ),
          );
          return reading.then((r) => [key, r]);
        }),
      );
      return Object.fromEntries(readings) as SignalReadings;
    },
  };
}
