import { DEFAULT_MODEL_PROFILE } from "./profiles.ts";

/**
 * The simulated world's parameters. Every default is justified in docs/simulator.md (the replica
 * rates by published vLLM benchmarks, see profiles.ts; the cluster by the realtime example and the
 * Cluster Autoscaler's defaults); every one is a `simulate` flag.
 */
export interface ReplicaModel {
  /** Prompt tokens per second one replica prefills (GPU time is shared with decoding). */
  readonly prefillTokensPerSecond: number;
  /** Generated tokens per second of one replica with a full batch (continuous batching). */
  readonly decodeTokensPerSecond: number;
  /** Generated tokens per second of one sequence: a small batch cannot use the whole GPU. */
  readonly decodeTokensPerSecondPerSequence: number;
  /** vLLM max_num_seqs: sequences in the running batch. */
  readonly maxNumSeqs: number;
  /** KV-cache capacity in tokens; a running sequence holds context + generated tokens. */
  readonly kvCacheTokens: number;
  /** Messages a pod's queue consumer holds beyond its batch (they show as vLLM `waiting`). */
  readonly consumerPrefetch: number;
}

export interface ClusterModel {
  readonly gpusPerNode: number;
  readonly gpusPerPod: number;
  readonly minNodes: number;
  readonly maxNodes: number;
  readonly caScanIntervalMs: number;
  /** New GPU node: VM allocation to Ready, drawn uniformly from [min, max]. */
  readonly provisionDelayMs: readonly [number, number];
  readonly scaleDownUnneededMs: number;
  /** After adding a node the Cluster Autoscaler evaluates no scale-down for this long. */
  readonly scaleDownDelayAfterAddMs: number;
  /** Image pull + model load + warm-up, drawn uniformly from [min, max]. */
  readonly podStartupMs: readonly [number, number];
  /** Low-priority placeholder pods that keep spare GPU nodes warm (preempted by real pods). */
  readonly placeholderPods: number;
}

export interface ObservationModel {
  /** Prometheus scrape interval of vLLM, DCGM and kube-state-metrics. */
  readonly scrapeIntervalMs: number;
  /** Extra lag before a scrape is queryable (remote write, rule evaluation). */
  readonly prometheusDelayMs: number;
  /** Lag of the Service Bus management API's active message count. */
  readonly serviceBusDelayMs: number;
  /** rate()/histogram window for TTFT P95 and tokens/s. */
  readonly rateWindowMs: number;
  /**
   * What the baselines' GPU utilisation reads. `busy`: the share of time any kernel runs,
   * `DCGM_FI_DEV_GPU_UTIL` as a typical KEDA Prometheus trigger and a plain GPU HPA read it, near 100 % as soon as
   * one sequence decodes (`DCGM_FI_PROF_GR_ENGINE_ACTIVE` is a share of time too, and reads the same).
   * `throughput`: the share of the replica's token throughput in use, a what-if that no DCGM field
   * measures (the profiling ratios count cycles of SMs, tensor pipe or memory interface). Ours reads
   * the busy time of the field its `gpuMetric` names.
   */
  readonly gpuUtilisation: "throughput" | "busy";
}

/**
 * How requests reach vLLM. `queue`: a Service Bus queue with competing consumers; each pod's
 * consumer holds at most max_num_seqs + prefetch messages. `http`: a load balancer sends each
 * request to the ready pod with the fewest outstanding requests, and vLLM's waiting queue has no cap.
 */
export type FrontEnd = "queue" | "http";

export interface SimModel {
  readonly frontEnd: FrontEnd;
  readonly replica: ReplicaModel;
  readonly cluster: ClusterModel;
  readonly observation: ObservationModel;
  /** The simulation step; every controller period must be a multiple of it. */
  readonly tickMs: number;
  readonly slaSeconds: number;
  readonly dollarsPerGpuHour: number;
  readonly seed: number;
  /** After the trace ends, keep serving (unaccounted) until every request had its first token, at most this long. */
  readonly drainLimitMs: number;
  /**
   * Before the trace starts, every policy serves the trace's opening traffic (its first 10
   * minutes, replayed in a loop) for this long, unaccounted: each starts from its own steady state
   * instead of from a cold, empty cluster that no real deployment would be in.
   */
  readonly warmupMs: number;
}

export const DEFAULT_MODEL: SimModel = {
  // LLM API traffic (the Azure and ServeGen traces) reaches vLLM over HTTP, as the realtime
  // example serves it; `--front-end queue` replays it through a Service Bus queue instead.
  frontEnd: "http",
  replica: {
    ...DEFAULT_MODEL_PROFILE.replica,
    // The queue front end's consumer holds a few messages beyond the batch (they show as vLLM `waiting`).
    consumerPrefetch: 8,
  },
  cluster: {
    // Standard_NC24ads_A100_v4: one A100 per node, one pod per GPU (the realtime example's pool).
    gpusPerNode: DEFAULT_MODEL_PROFILE.gpusPerNode,
    gpusPerPod: DEFAULT_MODEL_PROFILE.gpusPerPod,
    minNodes: 0,
    maxNodes: 8,
    // The Cluster Autoscaler's default --scan-interval.
    caScanIntervalMs: 10_000,
    // A GPU VM from request to Ready: 5–8 minutes is what AKS GPU pools typically show.
    provisionDelayMs: [5 * 60_000, 8 * 60_000],
    // The Cluster Autoscaler's default --scale-down-unneeded-time.
    scaleDownUnneededMs: 10 * 60_000,
    // The Cluster Autoscaler's default --scale-down-delay-after-add (its FAQ's parameter table).
    scaleDownDelayAfterAddMs: 10 * 60_000,
    // Image pull (cached) + model load + CUDA graph capture of an 8B model: 30–120 s.
    podStartupMs: [30_000, 120_000],
    placeholderPods: 0,
  },
  observation: {
    scrapeIntervalMs: 15_000,
    prometheusDelayMs: 15_000,
    serviceBusDelayMs: 0,
    rateWindowMs: 120_000,
    gpuUtilisation: "busy",
  },
  tickMs: 5_000,
  // The realtime example's latencySlaSeconds.
  slaSeconds: 60,
  // About $2,450 a month per always-on A100 VM: ≈ $3.40 per GPU-hour.
  dollarsPerGpuHour: 3.4,
  seed: 1,
  drainLimitMs: 2 * 3_600_000,
  warmupMs: 30 * 60_000,
};

/** GPU-seconds one request costs on one replica at 100 % utilisation (prefill + full-batch decode). */
export function workSecondsPerRequest(
  replica: ReplicaModel,
  contextTokens: number,
  generatedTokens: number,
): number {
  return contextTokens / replica.prefillTokensPerSecond + generatedTokens / replica.decodeTokensPerSecond;
}

export function podsPerNode(cluster: ClusterModel): number {
  return Math.floor(cluster.gpusPerNode / cluster.gpusPerPod);
}

/** Checks the combinations a flag parser cannot: names the flag to change. */
export function validateModel(model: SimModel): void {
  const problems: string[] = [];
  const { cluster, replica } = model;
  if (cluster.gpusPerPod > cluster.gpusPerNode)
    problems.push(
      `--gpus-per-pod (${cluster.gpusPerPod}) must not exceed --gpus-per-node (${cluster.gpusPerNode})`,
    );
  if (cluster.maxNodes < cluster.minNodes)
    problems.push(`--max-nodes (${cluster.maxNodes}) must be at least --min-nodes (${cluster.minNodes})`);
  for (const [flag, [low, high]] of [
    ["--provision-minutes", cluster.provisionDelayMs],
    ["--startup-seconds", cluster.podStartupMs],
  ] as const)
    if (low > high || low < 0) problems.push(`${flag} must be "min-max" with 0 ≤ min ≤ max`);
  for (const [flag, period] of [
    ["--ca-scan-seconds", cluster.caScanIntervalMs],
    ["--scrape-seconds", model.observation.scrapeIntervalMs],
  ] as const)
    if (period % model.tickMs !== 0 || period <= 0)
      problems.push(`${flag} must be a positive multiple of --tick-seconds (${model.tickMs / 1000})`);
  if (model.warmupMs % model.tickMs !== 0 || model.warmupMs < 0)
    problems.push(`--warmup-minutes must be a whole number of ticks (${model.tickMs / 1000} s)`);
  if (replica.kvCacheTokens < 1) problems.push("--kv-cache-tokens must be at least 1");
  if (problems.length > 0) throw new Error(problems.join("; "));
}
