import type { ScalerSpec } from "../config/spec.ts";
import { LEAD_LADDER, PEAK_AHEAD_KEYS } from "../readings/lead-time.ts";
import { type FailedReading, failureOf } from "../readings/reading.ts";
import type { SignalKey } from "../readings/signal-table.ts";
import type { AzureMonitorGpuQuery } from "./azure-monitor.ts";
import { customQueryKeyOf, type PrometheusSignal } from "./prometheus/queries.ts";
import type { ServiceBusEntity } from "./servicebus.ts";

/**
 * Which readings a ScaledObject gets, and from where. The rule (the policy depends on it):
 *
 * - **absent**: the signal is switched off, or nothing at all points at a source for it (no
 *   PROMETHEUS_URL for the Prometheus signals; no queue or topic named for the backlog). The
 *   policy reads absence as "signal not in use".
 * - **`not_configured` failure**: the ScaledObject asked for the signal explicitly (named a
 *   queue, chose gpuSource=azureMonitor, supplied a custom query) but the process lacks the
 *   endpoint or credentials. The message names the key to set. The policy reads it as "signal
 *   broken" (fail-static), because a forgotten secret must not look like an idle queue.
 * - **nothing at all**: when a ScaledObject has signals switched on but no source could serve
 *   any of them, its primary signal (the backlog, else the first one on) is a `not_configured`
 *   failure listing the ways to configure one. An unconfigured scaler must answer UNAVAILABLE,
 *   not "no demand, 0 replicas".
 */
export type SignalTask =
  | { readonly source: "prometheus"; readonly signal: PrometheusSignal }
  | { readonly source: "serviceBus"; readonly entity: ServiceBusEntity }
  | { readonly source: "azureMonitor"; readonly query: AzureMonitorGpuQuery }
  | { readonly source: "failure"; readonly reading: FailedReading };

export interface ConfiguredSources {
  readonly prometheus: boolean;
  readonly serviceBus: { readonly configured: boolean; readonly problem?: string | undefined };
  readonly azureMonitor: { readonly configured: boolean; readonly problem?: string | undefined };
}

/** The Prometheus signals a spec uses. Replicas are always read: capacity already on its way. */
export function prometheusSignalsOf(spec: ScalerSpec): PrometheusSignal[] {
  const signals: PrometheusSignal[] = [];
  if (spec.queue.enabled) signals.push("vllmWaiting");
  signals.push("vllmRunning");
  if (spec.ttft.enabled) signals.push("ttftP95Seconds", "ttftRequestsPerSecond");
  if (spec.kvCache.enabled) signals.push("kvCacheUsage");
  if (spec.gpu.enabled && spec.sources.gpuSource === "dcgm") signals.push("gpuUtilisation");
  if (spec.tokens.enabled) signals.push("tokensPerSecondPerPod");
  if (learnsFromTokens(spec)) signals.push("promptTokensPerSecond", "generationTokensPerSecond");
  if (spec.e2eLatency.targetSeconds !== undefined) signals.push("e2eP95Seconds", "e2eRequestsPerSecond");
  if (spec.gpuMemory.target !== undefined) signals.push("gpuMemoryUsage");
  signals.push("replicasDesired", "replicasReady", "replicasUnavailable");
  signals.push(...historySignalsOf(spec));
  return signals;
}

/**
 * The token counters capacity learning reads: only when it converts token rates into requests per
 * second (both token rates set) for the drain rule, which divides the TTFT request rate by it.
 */
export function learnsFromTokens(spec: ScalerSpec): boolean {
  const { learning, prefillTokensPerSecond, decodeTokensPerSecond } = spec.capacity;
  return (
    learning &&
    prefillTokensPerSecond > 0 &&
    decodeTokensPerSecond > 0 &&
    spec.ttft.enabled &&
    spec.queue.enabled &&
    spec.queue.mode === "drain"
  );
}

/**
 * The forecast's history: the TTFT request rate a day and/or a week ago (the inflow the drain rule
 * reads) and its peak over the lead time that followed — over every window of the lead-time ladder
 * when the lead time is measured — and the measured lead time itself.
 */
export function historySignalsOf(spec: ScalerSpec): PrometheusSignal[] {
  if (!spec.ttft.enabled || !spec.queue.enabled || spec.queue.mode !== "drain") return [];
  const { seasons, leadTimeMeasured, trend } = spec.forecast;
  const factors = leadTimeMeasured ? LEAD_LADDER : ([1] as const);
  const signals: PrometheusSignal[] = [];
  if (seasons === "day" || seasons === "day+week")
    signals.push("inflowDayAgo", ...factors.map((f) => PEAK_AHEAD_KEYS.day[f]));
  if (seasons === "week" || seasons === "day+week")
    signals.push("inflowWeekAgo", ...factors.map((f) => PEAK_AHEAD_KEYS.week[f]));
  if (leadTimeMeasured && (seasons !== "none" || trend)) signals.push("leadTimeObserved", "leadTimePods");
  return signals;
}

function serviceBusEntityOf(spec: ScalerSpec): ServiceBusEntity | undefined {
  const { serviceBusQueue, serviceBusTopic, serviceBusSubscription } = spec.sources;
  if (serviceBusQueue) return { queue: serviceBusQueue };
  if (serviceBusTopic && serviceBusSubscription)
    return { topic: serviceBusTopic, subscription: serviceBusSubscription };
  return undefined;
}

export function planReadings(spec: ScalerSpec, sources: ConfiguredSources): Map<SignalKey, SignalTask> {
  const plan = new Map<SignalKey, SignalTask>();

  for (const signal of prometheusSignalsOf(spec)) {
    if (sources.prometheus) {
      plan.set(signal, { source: "prometheus", signal });
      continue;
    }
    const customKey = customQueryKeyOf(signal);
    if (customKey && spec.sources[customKey] !== undefined)
      plan.set(signal, {
        source: "failure",
        reading: failureOf(
          "prometheus",
          "not_configured",
          `scalerMetadata.${customKey} is set but the scaler has no Prometheus: set env PROMETHEUS_URL`,
        ),
      });
  }

  const entity = spec.queue.enabled ? serviceBusEntityOf(spec) : undefined;
  if (entity)
    plan.set(
      "queueBacklog",
      sources.serviceBus.configured
        ? { source: "serviceBus", entity }
        : {
            source: "failure",
            reading: failureOf(
              "serviceBus",
              "not_configured",
              `scalerMetadata names a Service Bus entity, but Service Bus is off: ${sources.serviceBus.problem ?? "it is not configured"}`,
            ),
          },
    );

  if (spec.gpu.enabled && spec.sources.gpuSource === "azureMonitor") {
    const resourceIds = spec.sources.azureMonitorResourceIds?.split(",").map((id) => id.trim());
    if (!resourceIds || resourceIds.length === 0)
      plan.set("gpuUtilisation", {
        source: "failure",
        reading: failureOf(
          "azureMonitor",
          "not_configured",
          "gpuSource=azureMonitor needs scalerMetadata.azureMonitorResourceIds (or env AZURE_MONITOR_RESOURCE_IDS)",
        ),
      });
    else if (!sources.azureMonitor.configured)
      plan.set("gpuUtilisation", {
        source: "failure",
        reading: failureOf(
          "azureMonitor",
          "not_configured",
          `gpuSource=azureMonitor, but Azure Monitor is off: ${sources.azureMonitor.problem ?? "it is not configured"}`,
        ),
      });
    else
      plan.set("gpuUtilisation", {
        source: "azureMonitor",
        query: {
          resourceIds,
          metric: spec.sources.azureMonitorMetric,
          metricNamespace: spec.sources.azureMonitorNamespace,
        },
      });
  }
  if (plan.size === 0) {
    const primary = primarySignalOf(spec);
    if (primary)
      plan.set(primary, {
        source: "failure",
        reading: failureOf(
          primary === "queueBacklog" ? "serviceBus" : "prometheus",
          "not_configured",
          "no source is configured for any signal this ScaledObject uses: set env PROMETHEUS_URL (vLLM, DCGM, " +
            "kube-state-metrics), or scalerMetadata.serviceBusQueue with env SERVICEBUS_CONNECTION_STRING or " +
            "SERVICEBUS_NAMESPACE, or gpuSource=azureMonitor with env AZURE_MONITOR_METRICS_ENDPOINT; or switch the signals off",
        ),
      });
  }
  return plan;
}

function primarySignalOf(spec: ScalerSpec): SignalKey | undefined {
  if (spec.queue.enabled) return "queueBacklog";
  if (spec.ttft.enabled) return "ttftP95Seconds";
  if (spec.kvCache.enabled) return "kvCacheUsage";
  if (spec.gpu.enabled) return "gpuUtilisation";
  if (spec.tokens.enabled) return "tokensPerSecondPerPod";
  if (spec.e2eLatency.targetSeconds !== undefined) return "e2eP95Seconds";
  if (spec.gpuMemory.target !== undefined) return "gpuMemoryUsage";
  return undefined;
}
