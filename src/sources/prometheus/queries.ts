import type { CustomQueryKey } from "../../config/groups/sources.ts";
import type { ScalerSpec } from "../../config/spec.ts";
import { HISTORY_RATE_WINDOW_SECONDS } from "../../readings/history-window.ts";
import {
  LEAD_LADDER,
  type LeadFactor,
  NODE_WAIT_SECONDS,
  PEAK_AHEAD_KEYS,
} from "../../readings/lead-time.ts";
import { type FailedReading, failureOf } from "../../readings/reading.ts";
import type { SignalKeyFrom } from "../../readings/signal-table.ts";
import { namespaceViolation } from "./guard.ts";
import { type LabelMatcher, NAMESPACE_NAME, regexLiteral, selector } from "./promql.ts";

/** The readings Prometheus can produce (the signal table's rows that list it as a source). */
export type PrometheusSignal = SignalKeyFrom<"prometheus">;

export interface PrometheusQuery {
  readonly signal: PrometheusSignal;
  /** The exact text sent to Prometheus: also the cache key's main part. */
  readonly expr: string;
  /**
   * Built queries return two series: `scaler_part="value"` and `scaler_part="freshness"` (the
   * oldest newest-sample time of the series behind the value), so staleness is judged from the
   * samples themselves in the same request. Custom queries are read as they are.
   */
  readonly custom: boolean;
  /** For messages: what this query reads, e.g. "vllmWaiting in namespace team-a". */
  readonly what: string;
  /** Why an empty answer may happen, for the `empty` failure's message. */
  readonly whenEmpty: string;
}

/** Label that tells the value series from the freshness series of a built query. */
export const PART_LABEL = "scaler_part";

const CUSTOM_QUERY_OF: Partial<Record<PrometheusSignal, CustomQueryKey>> = {
  vllmWaiting: "waitingQuery",
  vllmRunning: "runningQuery",
  ttftP95Seconds: "ttftP95Query",
  ttftRequestsPerSecond: "ttftRateQuery",
  kvCacheUsage: "kvCacheQuery",
  gpuUtilisation: "gpuQuery",
  tokensPerSecondPerPod: "tokensPerSecondQuery",
};

export function customQueryKeyOf(signal: PrometheusSignal): CustomQueryKey | undefined {
  return CUSTOM_QUERY_OF[signal];
}

/**
 * `value` and its freshness in one request. label_replace with an empty source label just adds
 * the marker label; `or` keeps both because their label sets differ.
 */
/** The history's rate window (see history-window.ts for why 10 minutes), in PromQL. */
export const HISTORY_RATE_WINDOW = `${HISTORY_RATE_WINDOW_SECONDS / 60}m`;

interface HistoryQuery {
  readonly periodSeconds: number;
  /** Undefined: the rate at the window's start; else the peak over this × leadTimeSeconds. */
  readonly leadFactor?: LeadFactor;
}

const DAY_SECONDS = 86_400;
const WEEK_SECONDS = 604_800;

function peaksOf(season: "day" | "week", periodSeconds: number): Record<string, HistoryQuery> {
  return Object.fromEntries(
    LEAD_LADDER.map((leadFactor) => [PEAK_AHEAD_KEYS[season][leadFactor], { periodSeconds, leadFactor }]),
  );
}

/**
 * The seasons the forecast reads, by history reading: the period and, for a peak, its window on
 * the lead-time ladder (readings/lead-time.ts).
 */
export const HISTORY_QUERIES: Readonly<Partial<Record<PrometheusSignal, HistoryQuery>>> = {
  inflowDayAgo: { periodSeconds: DAY_SECONDS },
  inflowWeekAgo: { periodSeconds: WEEK_SECONDS },
  ...peaksOf("day", DAY_SECONDS),
  ...peaksOf("week", WEEK_SECONDS),
};

/** The measured lead time's two readings (one query over the pods' timestamps). */
export function measuresLeadTime(signal: PrometheusSignal): boolean {
  return signal === "leadTimeObserved" || signal === "leadTimePods";
}

/** The readings that describe the past: refreshed slowly, never judged by the freshness of a scrape. */
export function readsThePast(signal: PrometheusSignal): boolean {
  return signal in HISTORY_QUERIES || measuresLeadTime(signal);
}

/**
 * Each pod's created → Ready time, for the target's pods created within the window that waited
 * for a node (scheduled more than NODE_WAIT_SECONDS after creation): the first Ready time
 * Prometheus saw (a pod that later turns unready and ready again keeps its first), minus its
 * creation. Range functions, so pods deleted since (scaled down) still count. Aggregated by uid
 * before the arithmetic: an HA kube-state-metrics exports every series twice.
 */
export function podLeadTimesExpr(pods: readonly LabelMatcher[], windowSeconds: number): string {
  const window = `${windowSeconds}s`;
  const first = (metric: string) => `min by (uid) (min_over_time(${selector(metric, pods)}[${window}]))`;
  const created = `(max by (uid) (max_over_time(${selector("kube_pod_created", pods)}[${window}])) > time() - ${windowSeconds})`;
  const waited = `(${first("kube_pod_status_scheduled_time")} - ${created} > ${NODE_WAIT_SECONDS})`;
  return `((${first("kube_pod_status_ready_time")} - ${created}) and ${waited})`;
}

/**
 * The TTFT request rate one period ago (`offset`), or its highest value over the lead time that
 * followed: a subquery of lead-time length (1-minute steps for leads of minutes), shifted so that it ends one period
 * minus the lead time ago. History samples are old by design: only the marker label is added,
 * no freshness series. With no history at all (a cold start) both read 0, and the forecast adds
 * nothing.
 */
export function historyExpr(
  counter: string,
  window: string,
  periodSeconds: number,
  leadSeconds: number,
  peak: boolean,
): string {
  const lead = Math.max(1, Math.round(leadSeconds));
  // One point a minute over a lead time of minutes; finer for the short leads of tests.
  const step = Math.max(1, Math.min(60, Math.round(lead / 8)));
  // Prometheus refuses "offset 0s": a window that ends now has none.
  const shift = Math.max(0, periodSeconds - lead);
  // `or vector(0)`: no series then (no pod was serving, or Prometheus holds no history yet) is
  // no inflow then, and a rise from nothing is a rise.
  const value = peak
    ? `max_over_time((sum(rate(${counter}[${window}])) or vector(0))[${lead}s:${step}s]${shift > 0 ? ` offset ${shift}s` : ""})`
    : `(sum(rate(${counter}[${window}] offset ${periodSeconds}s)) or vector(0))`;
  return `label_replace(${value}, "${PART_LABEL}", "value", "", "")`;
}

function withFreshness(value: string, freshnessSelector: string): string {
  return (
    `label_replace(${value}, "${PART_LABEL}", "value", "", "")` +
    ` or label_replace(min(timestamp(${freshnessSelector})), "${PART_LABEL}", "freshness", "", "")`
  );
}

export function targetDeployment(spec: ScalerSpec): string {
  return spec.target.deployment ?? spec.scaledObject.name;
}

/**
 * The target's pods. With an explicit podPrefix: every pod whose name starts with it. Otherwise
 * the Deployment's own naming, `<deployment>-<pod-template-hash>-<suffix>`, which does not
 * match a sibling Deployment such as `<deployment>-guard`.
 */
function podMatcher(spec: ScalerSpec): LabelMatcher {
  if (spec.target.podPrefix)
    return { label: "pod", op: "=~", value: `${regexLiteral(spec.target.podPrefix)}.*` };
  return { label: "pod", op: "=~", value: `${regexLiteral(targetDeployment(spec))}-[a-z0-9]+-[a-z0-9]+` };
}

function describePods(spec: ScalerSpec): string {
  return spec.target.podPrefix
    ? `pods named ${spec.target.podPrefix}*`
    : `pods of Deployment ${targetDeployment(spec)}`;
}

function builtQuery(spec: ScalerSpec, signal: PrometheusSignal): PrometheusQuery {
  const namespace = spec.scaledObject.namespace;
  const inNamespace: LabelMatcher = { label: "namespace", op: "=", value: namespace };
  const vllmMatchers: LabelMatcher[] = [inNamespace, podMatcher(spec)];
  if (spec.target.modelName)
    vllmMatchers.push({ label: "model_name", op: "=", value: spec.target.modelName });
  const vllm = (metric: string) => selector(metric, vllmMatchers);
  const window = spec.sources.rateWindow;
  // Every series of a vLLM pod comes from the same scrape, so the running gauge (present in every
  // vLLM version) dates them all.
  const vllmFreshness = vllm("vllm:num_requests_running");
  const model = spec.target.modelName ? ` serving ${spec.target.modelName}` : "";
  const what = `${signal} in namespace ${namespace}`;
  const vllmEmpty = (metric: string) =>
    `no ${describePods(spec)}${model} in namespace ${namespace} report ${metric} ` +
    "(scaled to zero, not scraped yet, or the pod/model selector matches nothing)";
  const vllmQuery = (value: string, metric: string): PrometheusQuery => ({
    signal,
    expr: withFreshness(value, vllmFreshness),
    custom: false,
    what,
    whenEmpty: vllmEmpty(metric),
  });

  switch (signal) {
    case "vllmWaiting":
      return vllmQuery(`sum(${vllm("vllm:num_requests_waiting")})`, "vllm:num_requests_waiting");
    case "vllmRunning":
      return vllmQuery(`sum(${vllm("vllm:num_requests_running")})`, "vllm:num_requests_running");
    case "ttftP95Seconds":
      // NaN (not_a_number) when no request finished prefill in the window: 0/0 in every bucket.
      return vllmQuery(
        `histogram_quantile(0.95, sum by (le) (rate(${vllm("vllm:time_to_first_token_seconds_bucket")}[${window}])))`,
        "vllm:time_to_first_token_seconds",
      );
    case "ttftRequestsPerSecond":
      return vllmQuery(
        `sum(rate(${vllm("vllm:time_to_first_token_seconds_count")}[${window}]))`,
        "vllm:time_to_first_token_seconds",
      );
    case "kvCacheUsage":
      // Vector `or` matches on labels without the metric name: a pod exporting both names
      // (v0.9.2–v0.11) counts once, with the new one; pods with only the old name still count.
      return vllmQuery(
        `avg(${vllm("vllm:kv_cache_usage_perc")} or ${vllm("vllm:gpu_cache_usage_perc")})`,
        "vllm:kv_cache_usage_perc (or vllm:gpu_cache_usage_perc)",
      );
    case "tokensPerSecondPerPod":
      return vllmQuery(
        `sum(rate(${vllm("vllm:generation_tokens_total")}[${window}])) / count(count by (pod) (${vllm("vllm:generation_tokens_total")}))`,
        "vllm:generation_tokens_total",
      );
    case "promptTokensPerSecond":
      return vllmQuery(
        `sum(rate(${vllm("vllm:prompt_tokens_total")}[${window}]))`,
        "vllm:prompt_tokens_total",
      );
    case "generationTokensPerSecond":
      return vllmQuery(
        `sum(rate(${vllm("vllm:generation_tokens_total")}[${window}]))`,
        "vllm:generation_tokens_total",
      );
    case "e2eP95Seconds":
      // NaN (not_a_number) when no request finished in the window, as for TTFT.
      return vllmQuery(
        `histogram_quantile(0.95, sum by (le) (rate(${vllm("vllm:e2e_request_latency_seconds_bucket")}[${window}])))`,
        "vllm:e2e_request_latency_seconds",
      );
    case "e2eRequestsPerSecond":
      return vllmQuery(
        `sum(rate(${vllm("vllm:e2e_request_latency_seconds_count")}[${window}]))`,
        "vllm:e2e_request_latency_seconds",
      );
    case "gpuMemoryUsage": {
      // The share of each GPU, then the average over the target's GPUs (as for KV-cache usage):
      // FB_USED and FB_FREE of one GPU carry the same labels, so the division pairs them one to one.
      const gpuMatchers: LabelMatcher[] = [inNamespace, podMatcher(spec)];
      const used = selector("DCGM_FI_DEV_FB_USED", gpuMatchers);
      const free = selector("DCGM_FI_DEV_FB_FREE", gpuMatchers);
      return {
        signal,
        expr: withFreshness(`avg(${used} / (${used} + ${free}))`, used),
        custom: false,
        what,
        whenEmpty:
          `no GPU of ${describePods(spec)} in namespace ${namespace} reports DCGM_FI_DEV_FB_USED and DCGM_FI_DEV_FB_FREE ` +
          "(dcgm-exporter not scraped with honor_labels, pod attribution off, or no pods)",
      };
    }
    case "gpuUtilisation": {
      const percent = spec.sources.gpuMetric === "util";
      const metric = percent ? "DCGM_FI_DEV_GPU_UTIL" : "DCGM_FI_PROF_GR_ENGINE_ACTIVE";
      // dcgm-exporter's pod attribution puts namespace/pod on each GPU it assigned to a pod.
      const gpus = selector(metric, [inNamespace, podMatcher(spec)]);
      return {
        signal,
        expr: withFreshness(percent ? `avg(${gpus}) / 100` : `avg(${gpus})`, gpus),
        custom: false,
        what,
        whenEmpty:
          `no GPU of ${describePods(spec)} in namespace ${namespace} reports ${metric} ` +
          "(dcgm-exporter not scraped with honor_labels, pod attribution off, or no pods)",
      };
    }
    case "leadTimeObserved":
    case "leadTimePods": {
      const windowSeconds = spec.forecast.leadTimeWindowHours * 3600;
      const leads = podLeadTimesExpr([inNamespace, podMatcher(spec)], windowSeconds);
      // Only the value: the pods behind it are hours old by design (no freshness series).
      const value = signal === "leadTimeObserved" ? `quantile(0.5, ${leads})` : `count(${leads})`;
      return {
        signal,
        expr: `label_replace(${value}, "${PART_LABEL}", "value", "", "")`,
        custom: false,
        what,
        whenEmpty:
          `no ${describePods(spec)} in namespace ${namespace} created within ${spec.forecast.leadTimeWindowHours} h waited for a node and became Ready ` +
          "(kube-state-metrics 2.8 or later exports kube_pod_status_ready_time; the forecast uses leadTimeSeconds meanwhile)",
      };
    }
    case "inflowDayAgo":
    case "inflowWeekAgo":
    case "inflowPeakAheadDayAgo":
    case "inflowPeakAheadWeekAgo":
    case "inflowPeakAhead50DayAgo":
    case "inflowPeakAhead75DayAgo":
    case "inflowPeakAhead125DayAgo":
    case "inflowPeakAhead150DayAgo":
    case "inflowPeakAhead200DayAgo":
    case "inflowPeakAhead50WeekAgo":
    case "inflowPeakAhead75WeekAgo":
    case "inflowPeakAhead125WeekAgo":
    case "inflowPeakAhead150WeekAgo":
    case "inflowPeakAhead200WeekAgo": {
      const { periodSeconds, leadFactor } = HISTORY_QUERIES[signal] as HistoryQuery;
      const counter = vllm("vllm:time_to_first_token_seconds_count");
      const leadSeconds = spec.forecast.leadTimeSeconds * (leadFactor ?? 1);
      return {
        signal,
        expr: historyExpr(counter, HISTORY_RATE_WINDOW, periodSeconds, leadSeconds, leadFactor !== undefined),
        custom: false,
        what,
        whenEmpty: `Prometheus answered nothing for the inflow of ${describePods(spec)}${model} in namespace ${namespace} ${periodSeconds / 86_400} day(s) ago (the query ends in "or vector(0)", so this is a Prometheus fault)`,
      };
    }
    case "replicasDesired":
    case "replicasReady":
    case "replicasUnavailable": {
      const metric = {
        replicasDesired: "kube_deployment_spec_replicas",
        replicasReady: "kube_deployment_status_replicas_ready",
        replicasUnavailable: "kube_deployment_status_replicas_unavailable",
      }[signal];
      const deployment = selector(metric, [
        inNamespace,
        { label: "deployment", op: "=", value: targetDeployment(spec) },
      ]);
      // max, not sum: kube-state-metrics run with two replicas exports every series twice.
      return {
        signal,
        expr: withFreshness(`max(${deployment})`, deployment),
        custom: false,
        what,
        whenEmpty:
          `kube-state-metrics has no ${metric} for Deployment ${targetDeployment(spec)} in namespace ${namespace} ` +
          "(kube-state-metrics not scraped, or the deployment name is wrong: set scalerMetadata.deployment)",
      };
    }
  }
}

/**
 * The query for one signal of a ScaledObject, or the failure that stands in for it: a custom
 * query that the operator has not allowed, or that reaches outside the ScaledObject's namespace,
 * is `forbidden_query` (never silently replaced by the built query).
 */
export function prometheusQuery(
  spec: ScalerSpec,
  signal: PrometheusSignal,
  options: { allowCustomQueries: boolean },
): PrometheusQuery | FailedReading {
  const namespace = spec.scaledObject.namespace;
  if (!NAMESPACE_NAME.test(namespace))
    return failureOf(
      "prometheus",
      "forbidden_query",
      `${signal}: ${JSON.stringify(namespace.slice(0, 80))} is not a Kubernetes namespace name`,
    );
  const customKey = customQueryKeyOf(signal);
  const custom = customKey ? spec.sources[customKey] : undefined;
  if (customKey === undefined || custom === undefined) return builtQuery(spec, signal);
  if (!options.allowCustomQueries)
    return failureOf(
      "prometheus",
      "forbidden_query",
      `scalerMetadata.${customKey} is set but custom queries are off (the operator enables them with env ALLOW_CUSTOM_QUERIES=true)`,
    );
  const violation = namespaceViolation(custom, namespace);
  if (violation)
    return failureOf("prometheus", "forbidden_query", `scalerMetadata.${customKey}: ${violation}`);
  return {
    signal,
    expr: custom,
    custom: true,
    what: `${signal} (custom query) in namespace ${namespace}`,
    whenEmpty: `scalerMetadata.${customKey} returned no series`,
  };
}
