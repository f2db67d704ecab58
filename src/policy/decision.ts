import type { ScaledObjectIdentity } from "../config/spec.ts";
import type { SignalKey } from "../readings/signal-table.ts";

/** The signals that can vote on demand (replica units at 100 % utilisation). */
export type DemandSignal =
  | "queue"
  | "ttft"
  | "kvCache"
  | "gpu"
  | "tokens"
  | "concurrency"
  | "e2e"
  | "gpuMemory";

export type VerdictStatus =
  /** The signal produced a demand figure from a fresh reading. */
  | "voted"
  /** The signal produced a demand figure from its last good reading (fail-static hold). */
  | "held"
  /** The signal has data but no opinion (e.g. TTFT over too few samples, throughput with no backlog). */
  | "abstained"
  /** Switched off in the spec, or no source configured. */
  | "disabled"
  /** Its source failed and there is no usable last good reading. */
  | "failed";

export interface SignalVerdict {
  readonly signal: DemandSignal;
  readonly status: VerdictStatus;
  /** The raw reading(s) this verdict is based on, by reading name. */
  readonly readings: Partial<Record<SignalKey, number>>;
  /** Replicas needed to carry the load this signal sees, at 100 % utilisation. */
  readonly demandReplicas?: number;
  /** Why, in words: "12 messages + 3 waiting drain in 60 s at 2 req/s per replica → 0.6". */
  readonly note: string;
}

/** A rule that changed or qualified the answer: a clamp, a hold, a safety rule, the HPA band. */
export interface RuleFired {
  readonly rule: string;
  readonly note: string;
}

export interface Decision {
  readonly scaledObject: ScaledObjectIdentity;
  readonly atMs: number;
  readonly role: "serving" | "headroom";
  readonly mode: "active" | "advisory";
  /** False when the value cannot be determined: the server answers UNAVAILABLE (KEDA's fallback counts it). */
  readonly available: boolean;
  /** What the policy wants (in advisory mode: wants, but does not ask for). */
  readonly desiredReplicas: number;
  /** What is sent to KEDA as metricValueFloat (target 1): an integer. */
  readonly metricValue: number;
  /** The scale-to-zero gate sent as IsActive. Consistent with metricValue > 0. */
  readonly active: boolean;
  /** Fused load in replica units at 100 % utilisation, before headroom. */
  readonly loadReplicas: number;
  /** The warm floor at this instant. */
  readonly floorReplicas: number;
  /** Why the floor is what it is (window, override, outside), when a schedule is configured. */
  readonly floorReason?: string;
  /** The serving Deployment's replicas as kube-state-metrics sees them, when known. */
  readonly currentReplicas?: number;
  readonly readyReplicas?: number;
  /** Replicas that exist but are not ready yet (Pending, loading the model): capacity on its way. */
  readonly inFlightReplicas?: number;
  /** role=headroom: what the serving Deployment should run (the placeholders are sized from it). */
  readonly servingReplicas?: number;
  /** Which figure set the answer: a signal, the warm floor, a clamp or a hold. */
  readonly drivingFactor:
    | DemandSignal
    | "forecast"
    | "floor"
    | "minReplicas"
    | "maxReplicas"
    | "hold"
    | "none";
  readonly signals: readonly SignalVerdict[];
  readonly rules: readonly RuleFired[];
  /** One sentence a person can read. */
  readonly summary: string;
}
