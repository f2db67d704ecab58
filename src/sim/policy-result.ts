import type { DecisionChangesResult } from "./decision-changes.ts";
import type { TimelinePoint } from "./stats.ts";

/** Stable, documented result fields (README "simulator"; `--json`). */
export interface PolicyResult {
  readonly name: string;
  readonly description: string;
  /** Requests that arrived (in intervals with data). */
  readonly requests: number;
  /** Share of requests whose time to first token was within the SLA. */
  readonly withinSlaFraction: number;
  readonly ttftP50Seconds: number;
  readonly ttftP95Seconds: number;
  readonly ttftP99Seconds: number;
  readonly worstQueueWaitSeconds: number;
  /** Requests still without a first token when the drain limit ran out (counted as misses). */
  readonly unservedRequests: number;
  /**
   * GPU-hours of every node from request to removal, over the trace's span with data and the drain
   * after it (until the backlog is served and no more nodes run than when the trace ended).
   */
  readonly gpuHours: number;
  /** The part of gpuHours spent after the trace ended, serving its backlog and scaling back. */
  readonly drainGpuHours: number;
  /** The unbilled warm-up this policy needed to settle at the opening rate. */
  readonly warmupMinutes: number;
  /** False when it had not settled even after the longest warm-up (replicas or nodes still moving). */
  readonly settledBeforeTrace: boolean;
  readonly costDollars: number;
  /** gpuHours / workBoundGpuHours (≥ 1: no policy does the work with less). */
  readonly workBoundRatio: number;
  /**
   * gpuHours / the oracle's (the clairvoyant policy, see oracle.ts): how far a policy is from the
   * cheapest way to keep the SLA with the same replicas, nodes and start-up delays.
   */
  readonly oracleRatio: number;
  /** Changes of the Deployment's replica count. */
  readonly scaleEvents: number;
  /** Pods that loaded the model (cold starts). */
  readonly coldStarts: number;
  readonly nodesProvisioned: number;
  readonly peakReplicas: number;
  readonly peakNodes: number;
  /** How often each factor drove our decision (ours only). */
  readonly drivingFactors?: Readonly<Record<string, number>>;
  /** Each change of ours' desired replicas during the trace, with its reason (ours only; the first 2,000). */
  readonly decisionChanges?: DecisionChangesResult;
  readonly wallSeconds: number;
  readonly simulatedMinutesPerWallSecond: number;
  readonly timeline: readonly TimelinePoint[];
}
