import type { Reading } from "./reading.ts";

/**
 * Everything one decision looks at. A missing entry means the spec does not use that signal
 * (switched off, or no source configured for it); a present entry is a value or a typed failure.
 */
export interface SignalReadings {
  /** Azure Service Bus active messages of the queue or subscription. */
  readonly queueBacklog?: Reading;
  /** vLLM `num_requests_waiting`, summed over the target's pods. */
  readonly vllmWaiting?: Reading;
  /** vLLM `num_requests_running`, summed over the target's pods. */
  readonly vllmRunning?: Reading;
  readonly ttftP95Seconds?: Reading;
  /** Requests per second behind the TTFT histogram: a percentile over too few samples abstains. */
  readonly ttftRequestsPerSecond?: Reading;
  /** KV-cache usage, 0–1 (average over the target's pods). */
  readonly kvCacheUsage?: Reading;
  /** GPU utilisation, 0–1 (DCGM or Azure Monitor, normalised from percent). */
  readonly gpuUtilisation?: Reading;
  /** Generated tokens per second per pod. */
  readonly tokensPerSecondPerPod?: Reading;
  /** kube-state-metrics: the Deployment's spec, ready and not-yet-available replicas. */
  readonly replicasDesired?: Reading;
  readonly replicasReady?: Reading;
  readonly replicasUnavailable?: Reading;
}

export type SignalKey = keyof SignalReadings;

/** Every reading name, for tools that accept readings by name (the `explain` command). */
export const SIGNAL_KEYS = [
  "queueBacklog",
  "vllmWaiting",
  "vllmRunning",
  "ttftP95Seconds",
  "ttftRequestsPerSecond",
  "kvCacheUsage",
  "gpuUtilisation",
  "tokensPerSecondPerPod",
  "replicasDesired",
  "replicasReady",
  "replicasUnavailable",
] as const satisfies readonly SignalKey[];

/** Fails to compile when a reading is added to SignalReadings but not to SIGNAL_KEYS. */
export const SIGNAL_KEYS_ARE_COMPLETE: [Exclude<SignalKey, (typeof SIGNAL_KEYS)[number]>] extends [never]
  ? true
  : never = true;
