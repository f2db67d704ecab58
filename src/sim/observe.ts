import { failureOf, type Reading, readingOf } from "../readings/reading.ts";
import type { SignalReadings } from "../readings/signal-table.ts";
import type { Cluster } from "./cluster.ts";
import type { ObservationModel } from "./model.ts";

/** vLLM's `vllm:time_to_first_token_seconds` bucket bounds, as vLLM declares them. */
export const VLLM_TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640,
  2560,
] as const;

/**
 * The GPU series a GPU signal reads: the scaler's `gpuMetric` values, both shares of time the GPU
 * is busy (DCGM_FI_DEV_GPU_UTIL: any kernel running; DCGM_FI_PROF_GR_ENGINE_ACTIVE: the
 * graphics/compute engine active, which it is whenever a kernel runs), and `throughputShare`, the
 * share of the replica's token throughput in use: a what-if for the baselines
 * (`--gpu-utilisation throughput`) that no DCGM field measures.
 */
export type GpuMetric = "util" | "grEngineActive" | "throughputShare";

function measuresTime(metric: GpuMetric): boolean {
  return metric !== "throughputShare";
}

/** The average the named metric would show, 0–1. */
export function gpuAverage(snapshot: ScrapeSnapshot, metric: GpuMetric): number {
  return measuresTime(metric) ? snapshot.gpuBusyAverage : snapshot.gpuActiveAverage;
}

/** What Prometheus holds after one scrape of the vLLM pods, DCGM and kube-state-metrics. */
export interface ScrapeSnapshot {
  readonly atMs: number;
  /** Pods exposing vLLM metrics (ready or draining). */
  readonly servingPods: number;
  readonly waiting: number;
  readonly running: number;
  readonly kvUsageAverage: number;
  /** DCGM_FI_DEV_GPU_UTIL and DCGM_FI_PROF_GR_ENGINE_ACTIVE: share of time a kernel ran, 0–1. */
  readonly gpuBusyAverage: number;
  /** Share of the replica's token throughput in use, 0–1 (the `throughputShare` what-if). */
  readonly gpuActiveAverage: number;
  readonly ttftP95Seconds: number | undefined;
  readonly ttftRequestsPerSecond: number;
  readonly tokensPerSecondPerPod: number;
  /** vLLM's prompt and generation token counters, rate over the window, all pods. */
  readonly promptTokensPerSecond: number;
  readonly generationTokensPerSecond: number;
  readonly replicasDesired: number;
  readonly replicasReady: number;
  readonly replicasUnavailable: number;
  /** All pods of the Deployment (kube_pod_info), for a "waiting per pod" Prometheus trigger. */
  readonly podsListed: number;
  /**
   * DCGM's series per pod: every serving pod holding a GPU (on a node: loading, ready or draining)
   * is reported under its pod label, for an HPA reading GPU utilisation per pod.
   */
  readonly gpuByPod: readonly PodGpuSample[];
}

export interface PodGpuSample {
  readonly podId: number;
  /** Share of time a kernel ran (DCGM_FI_DEV_GPU_UTIL, DCGM_FI_PROF_GR_ENGINE_ACTIVE), 0–1. */
  readonly busy: number;
  /** Share of the replica's token throughput in use (no DCGM field measures it), 0–1. */
  readonly active: number;
}

/** One pod's value of the named metric, 0–1. */
export function podGpuValue(sample: PodGpuSample, metric: GpuMetric): number {
  return measuresTime(metric) ? sample.busy : sample.active;
}

/**
 * Prometheus-quantile over cumulative-free bucket counts (histogram_quantile: linear inside the
 * bucket; the +Inf bucket answers with the highest finite bound).
 */
export function histogramQuantile(
  q: number,
  bounds: readonly number[],
  counts: ArrayLike<number>,
): number | undefined {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] as number;
  if (total === 0) return undefined;
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < counts.length; i++) {
    const inBucket = counts[i] as number;
    if (cumulative + inBucket >= rank && inBucket > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      const upper = bounds[i] as number;
      return lower + ((upper - lower) * (rank - cumulative)) / inBucket;
    }
    cumulative += inBucket;
  }
  return bounds[bounds.length - 1];
}

/**
 * The monitoring pipeline as the scaler sees it: per-tick TTFT histograms and token counts
 * rolled over the rate window, a snapshot every scrape interval that becomes queryable after the
 * ingestion delay, and the Service Bus count read (almost) live.
 */
export class Observer {
  private readonly windowTicks: number;
  private readonly ttftRing: Float64Array[];
  private readonly tokensRing: Float64Array;
  private readonly promptTokensRing: Float64Array;
  /** Running sum of the TTFT ring (kept in step with it, so a scrape does not re-add the window). */
  private readonly ttftWindow: Float64Array;
  private ringIndex = 0;
  private readonly snapshots: ScrapeSnapshot[] = [];
  private readonly queueHistory: { atMs: number; length: number }[] = [];

  constructor(
    private readonly model: ObservationModel,
    tickMs: number,
    /** Scrapes happen every scrape interval from here. */
    private readonly originMs = 0,
  ) {
    this.windowTicks = Math.max(1, Math.round(model.rateWindowMs / tickMs));
    this.ttftRing = Array.from(
      { length: this.windowTicks },
      () => new Float64Array(VLLM_TTFT_BUCKETS.length + 1),
    );
    this.tokensRing = new Float64Array(this.windowTicks);
    this.promptTokensRing = new Float64Array(this.windowTicks);
    this.ttftWindow = new Float64Array(VLLM_TTFT_BUCKETS.length + 1);
  }

  /** Called by the serving sink for each first-token batch (the vLLM histogram observes it). */
  observeTtft(count: number, firstSeconds: number, lastSeconds: number): void {
    const buckets = this.ttftRing[this.ringIndex] as Float64Array;
    const points = Math.min(count, 4);
    for (let k = 0; k < points; k++) {
      const ttft =
        points === 1
          ? (firstSeconds + lastSeconds) / 2
          : firstSeconds + ((lastSeconds - firstSeconds) * k) / (points - 1);
      let b = 0;
      while (b < VLLM_TTFT_BUCKETS.length && ttft > (VLLM_TTFT_BUCKETS[b] as number)) b++;
      buckets[b] = (buckets[b] as number) + count / points;
      this.ttftWindow[b] = (this.ttftWindow[b] as number) + count / points;
    }
  }

  /** Closes one tick: records tokens, Service Bus' active messages, and scrapes on scrape instants. */
  endTick(tickEndMs: number, cluster: Cluster, activeMessages: number, replicasDesired: number): void {
    let generated = 0;
    let prompt = 0;
    for (const pod of cluster.pods) {
      if (pod.placeholder) continue;
      generated += pod.serving.generatedTokensLastTick;
      prompt += pod.serving.promptTokensLastTick;
    }
    this.tokensRing[this.ringIndex] = generated;
    this.promptTokensRing[this.ringIndex] = prompt;
    this.queueHistory.push({ atMs: tickEndMs, length: activeMessages });
    const keepQueueMs = this.model.serviceBusDelayMs + 60_000;
    while (
      this.queueHistory.length > 2 &&
      (this.queueHistory[0] as { atMs: number }).atMs < tickEndMs - keepQueueMs
    )
      this.queueHistory.shift();
    if ((tickEndMs - this.originMs) % this.model.scrapeIntervalMs === 0)
      this.scrape(tickEndMs, cluster, replicasDesired);
    this.ringIndex = (this.ringIndex + 1) % this.windowTicks;
    const leaving = this.ttftRing[this.ringIndex] as Float64Array;
    for (let b = 0; b < leaving.length; b++) {
      // Clamp: subtracting floating-point sums can leave -1e-13 behind.
      this.ttftWindow[b] = Math.max(0, (this.ttftWindow[b] as number) - (leaving[b] as number));
      leaving[b] = 0;
    }
  }

  private scrape(atMs: number, cluster: Cluster, replicasDesired: number): void {
    let servingPods = 0;
    let waiting = 0;
    let running = 0;
    let kv = 0;
    let gpuBusy = 0;
    let gpuActive = 0;
    let notReady = 0;
    let listed = 0;
    const gpuByPod: PodGpuSample[] = [];
    for (const pod of cluster.pods) {
      if (pod.placeholder) continue;
      if (pod.phase !== "terminating") listed++;
      if (pod.nodeId >= 0)
        gpuByPod.push({ podId: pod.id, busy: pod.serving.busyFraction, active: pod.serving.utilisation });
      if (pod.phase === "pending" || pod.phase === "starting") notReady++;
      if (pod.phase !== "ready" && pod.phase !== "terminating") continue;
      servingPods++;
      waiting += pod.serving.waitingCount;
      running += pod.serving.runningCount;
      kv += pod.serving.kvUsage;
      gpuBusy += pod.serving.busyFraction;
      gpuActive += pod.serving.utilisation;
    }
    const summed = this.ttftWindow;
    let requests = 0;
    for (let b = 0; b < summed.length; b++) requests += summed[b] as number;
    let tokens = 0;
    for (const t of this.tokensRing) tokens += t;
    let promptTokens = 0;
    for (const t of this.promptTokensRing) promptTokens += t;
    const windowSeconds = this.model.rateWindowMs / 1000;
    this.snapshots.push({
      atMs,
      servingPods,
      waiting,
      running,
      kvUsageAverage: servingPods > 0 ? kv / servingPods : 0,
      gpuBusyAverage: servingPods > 0 ? gpuBusy / servingPods : 0,
      gpuActiveAverage: servingPods > 0 ? gpuActive / servingPods : 0,
      ttftP95Seconds: histogramQuantile(0.95, VLLM_TTFT_BUCKETS, summed),
      ttftRequestsPerSecond: requests / windowSeconds,
      tokensPerSecondPerPod: servingPods > 0 ? tokens / windowSeconds / servingPods : 0,
      promptTokensPerSecond: promptTokens / windowSeconds,
      generationTokensPerSecond: tokens / windowSeconds,
      replicasDesired,
      replicasReady: cluster.readyServingCount(),
      replicasUnavailable: notReady,
      podsListed: listed,
      gpuByPod,
    });
    // Older snapshots than the ingestion delay needs are never read again.
    const horizon = atMs - this.model.prometheusDelayMs - 2 * this.model.scrapeIntervalMs;
    while (this.snapshots.length > 2 && (this.snapshots[1] as ScrapeSnapshot).atMs <= horizon)
      this.snapshots.shift();
  }

  /** The newest snapshot a query at `nowMs` can see, if any. */
  visibleSnapshot(nowMs: number): ScrapeSnapshot | undefined {
    const cutoff = nowMs - this.model.prometheusDelayMs;
    for (let i = this.snapshots.length - 1; i >= 0; i--) {
      const s = this.snapshots[i] as ScrapeSnapshot;
      if (s.atMs <= cutoff) return s;
    }
    return undefined;
  }

  /** Active messages as the Service Bus management API reports them at `nowMs`. */
  queueBacklogAt(nowMs: number, liveLength: number): { value: number; atMs: number } {
    if (this.model.serviceBusDelayMs === 0) return { value: liveLength, atMs: nowMs };
    const cutoff = nowMs - this.model.serviceBusDelayMs;
    for (let i = this.queueHistory.length - 1; i >= 0; i--) {
      const h = this.queueHistory[i] as { atMs: number; length: number };
      if (h.atMs <= cutoff) return { value: h.length, atMs: h.atMs };
    }
    return { value: liveLength, atMs: nowMs };
  }

  /**
   * Every signal the model can produce, as the sources would hand them to decide(): values with
   * the time they were observed, and typed failures where the real query would come back empty
   * (no pods serving) or NaN (a TTFT percentile with no requests in the window).
   */
  readings(nowMs: number, liveQueueLength: number, gpuMetric: GpuMetric): SignalReadings {
    const backlog = this.queueBacklogAt(nowMs, liveQueueLength);
    const queueBacklog = readingOf(backlog.value, backlog.atMs);
    const s = this.visibleSnapshot(nowMs);
    if (!s) {
      const none = failureOf("prometheus", "empty", "no scrape yet");
      return {
        queueBacklog,
        vllmWaiting: none,
        vllmRunning: none,
        ttftP95Seconds: none,
        ttftRequestsPerSecond: none,
        kvCacheUsage: none,
        gpuUtilisation: none,
        tokensPerSecondPerPod: none,
        promptTokensPerSecond: none,
        generationTokensPerSecond: none,
        replicasDesired: none,
        replicasReady: none,
        replicasUnavailable: none,
      };
    }
    const at = s.atMs;
    // As the Prometheus source reads them: every vLLM and DCGM series comes from the pods, so
    // with no pod serving the query is empty (a typed failure, never a made-up 0).
    const fromPods = (value: number): Reading =>
      s.servingPods > 0
        ? readingOf(value, at)
        : failureOf(
            "prometheus",
            "empty",
            "no pods of the target report vLLM or DCGM metrics (scaled to zero)",
          );
    return {
      queueBacklog,
      vllmWaiting: fromPods(s.waiting),
      vllmRunning: fromPods(s.running),
      ttftP95Seconds:
        s.ttftP95Seconds === undefined && s.servingPods > 0
          ? failureOf("prometheus", "not_a_number", "no request finished prefill in the rate window")
          : fromPods(s.ttftP95Seconds ?? 0),
      ttftRequestsPerSecond: fromPods(s.ttftRequestsPerSecond),
      kvCacheUsage: fromPods(s.kvUsageAverage),
      gpuUtilisation: fromPods(gpuAverage(s, gpuMetric)),
      tokensPerSecondPerPod: fromPods(s.tokensPerSecondPerPod),
      promptTokensPerSecond: fromPods(s.promptTokensPerSecond),
      generationTokensPerSecond: fromPods(s.generationTokensPerSecond),
      replicasDesired: readingOf(s.replicasDesired, at),
      replicasReady: readingOf(s.replicasReady, at),
      replicasUnavailable: readingOf(s.replicasUnavailable, at),
    };
  }
}
