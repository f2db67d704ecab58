import type { Reading, SourceName } from "./reading.ts";

/**
 * What a reading is for:
 * - demand: a demand signal votes on it (how many replicas the load needs);
 * - qualifier: it qualifies another reading (the request rate behind a TTFT percentile, also the
 *   queue's inflow), and a fresh one proves the source alive like a demand reading;
 * - replica-count: the Deployment's replicas, which ready-relative demand scales from;
 * - history: the past, read by the forecast only (the inflow one period ago, the lead time of the
 *   pods started lately). Old by design and absent on a cold start: a missing one is no failure
 *   of anything (no fail-static hold, no "missing data").
 */
export type SignalRole = "demand" | "qualifier" | "replica-count" | "history";

export type SignalUnit =
  | "requests"
  | "requests/s"
  | "seconds"
  | "fraction"
  | "tokens/s"
  | "replicas"
  | "pods";

export interface SignalAttributes {
  readonly role: SignalRole;
  readonly unit: SignalUnit;
  /** The sources that can produce it (gpuUtilisation: DCGM through Prometheus, or Azure Monitor). */
  readonly sources: readonly SourceName[];
  /**
   * Exported by the serving pods themselves: with no pod ready, an empty answer means there is no
   * pod to report it (a Deployment at zero), not a broken source.
   */
  readonly fromPods: boolean;
  /**
   * An instantaneous gauge that swings between two scrapes of a lightly loaded replica: the
   * policy averages it over time before scaling the ready count by it.
   */
  readonly instantaneousGauge: boolean;
  readonly meaning: string;
}

/** A peak of the TTFT request rate one period ago over a window of the lead-time ladder. */
function peakAhead<const M extends string>(meaning: M) {
  return {
    role: "history",
    unit: "requests/s",
    sources: ["prometheus"],
    fromPods: false,
    instantaneousGauge: false,
    meaning,
  } as const;
}

/**
 * The one list of signal readings and what they are. Every other list (the readings demand is
 * computed from, the pod-exported ones, the smoothed gauges, the Prometheus signals, the names
 * `explain` accepts) is derived from this table: adding a reading is adding a row.
 */
export const SIGNAL_TABLE = {
  queueBacklog: {
    role: "demand",
    unit: "requests",
    sources: ["serviceBus"],
    fromPods: false,
    instantaneousGauge: false,
    meaning: "Azure Service Bus active messages of the queue or subscription.",
  },
  vllmWaiting: {
    role: "demand",
    unit: "requests",
    sources: ["prometheus"],
    fromPods: true,
    instantaneousGauge: false,
    meaning: "vLLM num_requests_waiting, summed over the target's pods.",
  },
  vllmRunning: {
    role: "demand",
    unit: "requests",
    sources: ["prometheus"],
    fromPods: true,
    instantaneousGauge: false,
    meaning: "vLLM num_requests_running, summed over the target's pods.",
  },
  ttftP95Seconds: {
    role: "demand",
    unit: "seconds",
    sources: ["prometheus"],
    fromPods: true,
    instantaneousGauge: false,
    meaning: "Time to first token, 95th percentile over the rate window.",
  },
  ttftRequestsPerSecond: {
    role: "qualifier",
    unit: "requests/s",
    sources: ["prometheus"],
    fromPods: true,
    instantaneousGauge: false,
    meaning: "Requests per second behind the TTFT histogram: a percentile over too few samples abstains.",
  },
  kvCacheUsage: {
    role: "demand",
    unit: "fraction",
    sources: ["prometheus"],
    fromPods: true,
    instantaneousGauge: true,
    meaning: "KV-cache usage, 0–1 (average over the target's pods).",
  },
  gpuUtilisation: {
    role: "demand",
    unit: "fraction",
    sources: ["prometheus", "azureMonitor"],
    fromPods: true,
    instantaneousGauge: true,
    meaning: "GPU utilisation, 0–1 (DCGM or Azure Monitor, normalised from percent).",
  },
  tokensPerSecondPerPod: {
    role: "demand",
    unit: "tokens/s",
    sources: ["prometheus"],
    fromPods: true,
    instantaneousGauge: false,
    meaning: "Generated tokens per second per pod.",
  },
  promptTokensPerSecond: {
    role: "qualifier",
    unit: "tokens/s",
    sources: ["prometheus"],
    fromPods: true,
    instantaneousGauge: false,
    meaning:
      "Prompt tokens per second over the rate window, all pods: with the request rate, the traffic's prompt tokens per request (learned capacity).",
  },
  generationTokensPerSecond: {
    role: "qualifier",
    unit: "tokens/s",
    sources: ["prometheus"],
    fromPods: true,
    instantaneousGauge: false,
    meaning:
      "Generated tokens per second over the rate window, all pods: with the request rate, the traffic's generated tokens per request (learned capacity).",
  },
  e2eP95Seconds: {
    role: "demand",
    unit: "seconds",
    sources: ["prometheus"],
    fromPods: true,
    instantaneousGauge: false,
    meaning:
      "End-to-end request latency (queue, prefill and generation), 95th percentile over the rate window.",
  },
  e2eRequestsPerSecond: {
    role: "qualifier",
    unit: "requests/s",
    sources: ["prometheus"],
    fromPods: true,
    instantaneousGauge: false,
    meaning:
      "Finished requests per second behind the end-to-end latency histogram: a percentile over too few samples abstains.",
  },
  gpuMemoryUsage: {
    role: "demand",
    unit: "fraction",
    sources: ["prometheus"],
    fromPods: true,
    instantaneousGauge: false,
    meaning:
      "GPU framebuffer in use, 0–1: DCGM FB_USED / (FB_USED + FB_FREE), averaged over the target's GPUs.",
  },
  replicasDesired: {
    role: "replica-count",
    unit: "replicas",
    sources: ["prometheus"],
    fromPods: false,
    instantaneousGauge: false,
    meaning: "kube-state-metrics: the Deployment's spec replicas.",
  },
  replicasReady: {
    role: "replica-count",
    unit: "replicas",
    sources: ["prometheus"],
    fromPods: false,
    instantaneousGauge: false,
    meaning: "kube-state-metrics: the Deployment's ready replicas.",
  },
  replicasUnavailable: {
    role: "replica-count",
    unit: "replicas",
    sources: ["prometheus"],
    fromPods: false,
    instantaneousGauge: false,
    meaning:
      "kube-state-metrics: replicas that exist but are not available yet (Pending, loading the model).",
  },
  inflowDayAgo: {
    role: "history",
    unit: "requests/s",
    sources: ["prometheus"],
    fromPods: false,
    instantaneousGauge: false,
    meaning: "The TTFT request rate (the inflow) one day ago: rate(...[rateWindow] offset 1d).",
  },
  inflowPeakAheadDayAgo: {
    role: "history",
    unit: "requests/s",
    sources: ["prometheus"],
    fromPods: false,
    instantaneousGauge: false,
    meaning:
      "The highest TTFT request rate over the lead time that followed one day ago (a max_over_time subquery).",
  },
  inflowWeekAgo: {
    role: "history",
    unit: "requests/s",
    sources: ["prometheus"],
    fromPods: false,
    instantaneousGauge: false,
    meaning: "The TTFT request rate (the inflow) one week ago: rate(...[rateWindow] offset 7d).",
  },
  inflowPeakAheadWeekAgo: {
    role: "history",
    unit: "requests/s",
    sources: ["prometheus"],
    fromPods: false,
    instantaneousGauge: false,
    meaning: "The highest TTFT request rate over the lead time that followed one week ago.",
  },
  inflowPeakAhead50DayAgo: peakAhead(
    "As inflowPeakAheadDayAgo, over 0.5 × leadTimeSeconds (the lead-time ladder).",
  ),
  inflowPeakAhead75DayAgo: peakAhead("As inflowPeakAheadDayAgo, over 0.75 × leadTimeSeconds."),
  inflowPeakAhead125DayAgo: peakAhead("As inflowPeakAheadDayAgo, over 1.25 × leadTimeSeconds."),
  inflowPeakAhead150DayAgo: peakAhead("As inflowPeakAheadDayAgo, over 1.5 × leadTimeSeconds."),
  inflowPeakAhead200DayAgo: peakAhead("As inflowPeakAheadDayAgo, over 2 × leadTimeSeconds."),
  inflowPeakAhead50WeekAgo: peakAhead("As inflowPeakAheadWeekAgo, over 0.5 × leadTimeSeconds."),
  inflowPeakAhead75WeekAgo: peakAhead("As inflowPeakAheadWeekAgo, over 0.75 × leadTimeSeconds."),
  inflowPeakAhead125WeekAgo: peakAhead("As inflowPeakAheadWeekAgo, over 1.25 × leadTimeSeconds."),
  inflowPeakAhead150WeekAgo: peakAhead("As inflowPeakAheadWeekAgo, over 1.5 × leadTimeSeconds."),
  inflowPeakAhead200WeekAgo: peakAhead("As inflowPeakAheadWeekAgo, over 2 × leadTimeSeconds."),
  leadTimeObserved: {
    role: "history",
    unit: "seconds",
    sources: ["prometheus"],
    fromPods: false,
    instantaneousGauge: false,
    meaning:
      "kube-state-metrics: the median created → Ready time (node provisioning plus model load) of the target's pods created within leadTimeWindowHours that waited for a node.",
  },
  leadTimePods: {
    role: "history",
    unit: "pods",
    sources: ["prometheus"],
    fromPods: false,
    instantaneousGauge: false,
    meaning: "kube-state-metrics: how many pods leadTimeObserved is the median of.",
  },
} as const satisfies Record<string, SignalAttributes>;

export type SignalKey = keyof typeof SIGNAL_TABLE;

/**
 * Everything one decision looks at. A missing entry means the spec does not use that signal
 * (switched off, or no source configured for it); a present entry is a value or a typed failure.
 */
export type SignalReadings = { readonly [K in SignalKey]?: Reading };

/** Every reading name, in table order (the `explain` command accepts readings by these names). */
export const SIGNAL_KEYS = Object.keys(SIGNAL_TABLE) as readonly SignalKey[];

/** The reading names whose attributes satisfy `where`, in table order. */
export function signalKeysWhere(where: (attributes: SignalAttributes) => boolean): readonly SignalKey[] {
  return SIGNAL_KEYS.filter((key) => where(SIGNAL_TABLE[key]));
}

/**
 * Whether a reading is history (role "history"): old by design and absent on a cold start, read by
 * the forecast only. The stages that judge live readings (screening, fail-static) pass them by.
 */
export const isHistory: (key: SignalKey) => boolean = (() => {
  const history: ReadonlySet<SignalKey> = new Set(signalKeysWhere((a) => a.role === "history"));
  return (key) => history.has(key);
})();

/** The readings a source can produce, as a type (e.g. the Prometheus queries' signal names). */
export type SignalKeyFrom<S extends SourceName> = {
  [K in SignalKey]: S extends (typeof SIGNAL_TABLE)[K]["sources"][number] ? K : never;
}[SignalKey];

/** The readings with instantaneousGauge set, as a type. */
export type InstantaneousGaugeKey = {
  [K in SignalKey]: (typeof SIGNAL_TABLE)[K]["instantaneousGauge"] extends true ? K : never;
}[SignalKey];
