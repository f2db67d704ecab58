import { averageValueProposal } from "../policy/hpa.ts";
import {
  behaviorNormalize,
  type HpaBehavior,
  legacyNormalize,
  type PodSample,
  podMetricProposal,
  type TimedReplicas,
} from "./hpa.ts";

/** One metric as the HPA sees it. */
export type MetricVote =
  /** An External metric with an AverageValue target (what every KEDA trigger becomes). */
  | { readonly kind: "averageValue"; readonly value: number; readonly target: number }
  /** A plain HPA's Pods metric with an AverageValue target (GPU utilisation per pod, 0–1). */
  | { readonly kind: "podsAverage"; readonly target: number; readonly pods: readonly PodSample[] };

export interface TriggerEvaluation {
  /** Absent when the metric cannot be read: the HPA treats it as invalid. */
  readonly metric?: MetricVote;
  readonly error?: string;
  /** KEDA's activity for this trigger (scale from zero, cooldown to zero). */
  readonly active: boolean;
}

export interface Trigger {
  readonly name: string;
  evaluate(nowMs: number): TriggerEvaluation;
}

export interface ScalingSetup {
  readonly maxReplicas: number;
  /** The ScaledObject's minReplicaCount (or the plain HPA's minReplicas), possibly on a schedule. */
  readonly minReplicasAt: (nowMs: number) => number;
  /** KEDA's loop; absent for a plain HPA (which never goes below 1). */
  readonly keda?: {
    readonly pollingIntervalMs: number;
    readonly cooldownMs: number;
    /** The ScaledObject's `fallback` (static behaviour): after more than this many failed reads, hold `replicas`. */
    readonly fallback?: KedaFallback;
  };
  /** The HPA; absent for a fixed fleet. */
  readonly hpa?: {
    readonly syncPeriodMs: number;
    readonly tolerance: number;
    /** Absent: the legacy normalisation (5 min downscale window, scale-up ≤ max(2·C, 4)). */
    readonly behavior?: HpaBehavior;
  };
  readonly triggers: readonly Trigger[];
}

export interface KedaFallback {
  readonly failureThreshold: number;
  readonly replicas: number;
}

export const HPA_SYNC_PERIOD_MS = 15_000;

/**
 * KEDA's polling loop and the HPA it manages, over one Deployment's `spec.replicas`:
 * - KEDA (every pollingInterval, kedacore/keda pkg/scaling/executor/scale_scaledobjects.go
 *   RequestScale): activates 0 → max(minReplicaCount, 1); with every trigger inactive and none in
 *   error, raises to minReplicaCount when below it and scales to 0 after cooldownPeriod.
 * - HPA (every 15 s, skipped at 0): the maximum of the metrics' proposals; no scale-down
 *   while any metric is invalid; then stabilisation and rate policies (src/sim/hpa.ts).
 * - KEDA's fallback (pkg/fallback/fallback.go GetMetricsWithFallback) runs on every read of a
 *   trigger, and both the polling loop (scale_handler.go getScalerState) and the HPA's metric
 *   request (scale_handler.go GetScaledObjectMetrics, through the metrics adapter) read it: each
 *   failed read counts, a good read resets the count.
 */
export class ScaleController {
  replicas: number;
  scaleEvents = 0;
  private lastActiveMs: number;
  /** Periods count from here (the simulation's first tick), whatever the epoch alignment. */
  private readonly originMs: number;
  private readonly recommendations: TimedReplicas[] = [];
  private readonly scaleUpEvents: TimedReplicas[] = [];
  private readonly scaleDownEvents: TimedReplicas[] = [];
  private cache: { atMs: number; results: TriggerEvaluation[] } | undefined;
  /** Whether the HPA has synced once (its first sync records an initial recommendation). */
  private synced = false;
  /** KEDA's `status.health[metric].numberOfFailures`, per trigger. */
  private readonly failures: number[];
  /** How far back the HPA ever looks: its longest stabilisation window or policy period. */
  private readonly historyMs: number;

  constructor(
    private readonly setup: ScalingSetup,
    initialReplicas: number,
    startMs: number,
  ) {
    this.replicas = initialReplicas;
    this.lastActiveMs = startMs;
    this.originMs = startMs;
    this.failures = setup.triggers.map(() => 0);
    const behavior = setup.hpa?.behavior;
    const seconds = behavior
      ? [behavior.scaleUp, behavior.scaleDown].flatMap((r) => [
          r.stabilizationWindowSeconds,
          ...r.policies.map((p) => p.periodSeconds),
        ])
      : [300];
    this.historyMs = (Math.max(...seconds) + 15) * 1000;
  }

  /**
   * The triggers' raw answers at `nowMs`, computed once per instant: the scaler answers the polling
   * loop and the HPA's request of one instant alike (our server reuses one decision for both).
   */
  private evaluate(nowMs: number): TriggerEvaluation[] {
    if (this.cache?.atMs !== nowMs)
      this.cache = { atMs: nowMs, results: this.setup.triggers.map((t) => t.evaluate(nowMs)) };
    return this.cache.results;
  }

  /**
   * One read of every trigger by the polling loop or by the HPA, through KEDA's fallback: a
   * failed read counts one failure; past the threshold the trigger answers `fallback.replicas`
   * (as an AverageValue metric proposing exactly that many) and counts as active, not in error.
   */
  private read(nowMs: number): TriggerEvaluation[] {
    const raw = this.evaluate(nowMs);
    const fallback = this.setup.keda?.fallback;
    if (!fallback) return raw;
    return raw.map((r, i) => {
      if (r.metric) {
        this.failures[i] = 0;
        return r;
      }
      const failures = (this.failures[i] as number) + 1;
      this.failures[i] = failures;
      if (failures <= fallback.failureThreshold) return r;
      return { metric: { kind: "averageValue", value: fallback.replicas, target: 1 }, active: true };
    });
  }

  private setReplicas(next: number, nowMs: number): void {
    if (next === this.replicas) return;
    const change = next - this.replicas;
    if (change > 0) this.scaleUpEvents.push({ atMs: nowMs, replicas: change });
    else this.scaleDownEvents.push({ atMs: nowMs, replicas: -change });
    this.replicas = next;
    this.scaleEvents++;
  }

  /** The periods (ms) this controller runs on: each must be a whole number of simulation ticks. */
  periodsMs(): { name: string; ms: number }[] {
    const periods: { name: string; ms: number }[] = [];
    if (this.setup.keda)
      periods.push({ name: "KEDA pollingInterval", ms: this.setup.keda.pollingIntervalMs });
    if (this.setup.hpa) periods.push({ name: "HPA sync period", ms: this.setup.hpa.syncPeriodMs });
    return periods;
  }

  /** Runs whatever is due at `nowMs` (a whole number of ticks after the first). */
  step(nowMs: number): void {
    const { keda, hpa } = this.setup;
    const sinceOrigin = nowMs - this.originMs;
    if (keda && sinceOrigin % keda.pollingIntervalMs === 0) this.pollKeda(nowMs);
    if (hpa && sinceOrigin % hpa.syncPeriodMs === 0) this.syncHpa(nowMs);
    if (!keda && !hpa) this.setReplicas(this.setup.maxReplicas, nowMs);
  }

  private pollKeda(nowMs: number): void {
    const keda = this.setup.keda as NonNullable<ScalingSetup["keda"]>;
    const results = this.read(nowMs);
    // A trigger in error is never active (getScalerState sets IsActive only on a good read).
    const active = results.some((r) => r.metric !== undefined && r.active);
    const anyError = results.some((r) => r.metric === undefined);
    const min = this.setup.minReplicasAt(nowMs);
    if (active) {
      // Scale from zero refreshes "last active"; otherwise only a poll with no trigger in error does,
      // so an erring trigger beside an active one leaves the cooldown clock where it was. Below
      // minReplicaCount with replicas running, KEDA leaves the raise to the HPA's minReplicas.
      if (this.replicas === 0) {
        this.setReplicas(Math.max(min, 1), nowMs);
        this.lastActiveMs = nowMs;
      } else if (!anyError) this.lastActiveMs = nowMs;
      return;
    }
    // Inactive. A trigger in error holds everything unless a fallback of 0 replicas is configured,
    // in which case KEDA goes on to the scale-to-zero case below.
    if (anyError && keda.fallback?.replicas !== 0) return;
    if (this.replicas > 0 && min === 0) {
      // KEDA's scale to zero goes straight to 0, bypassing the HPA's stabilisation.
      if (nowMs - this.lastActiveMs >= keda.cooldownMs) this.setReplicas(0, nowMs);
    } else if (this.replicas < min) this.setReplicas(min, nowMs);
  }

  private syncHpa(nowMs: number): void {
    const hpa = this.setup.hpa as NonNullable<ScalingSetup["hpa"]>;
    const current = this.replicas;
    // At 0 the HPA is disabled (ScalingDisabled); KEDA alone wakes the Deployment.
    if (current === 0) return;
    const minReplicas = Math.max(1, this.setup.minReplicasAt(nowMs));
    const max = this.setup.maxReplicas;
    // kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go reconcileAutoscaler: the
    // first sync records the current count as a recommendation (recordInitialRecommendation).
    if (!this.synced) this.recommendations.push({ atMs: nowMs, replicas: current });
    this.synced = true;
    this.forgetBefore(nowMs - this.historyMs);
    // Out of bounds, the HPA moves to the bound without reading a metric or recording anything.
    if (current > max || current < minReplicas) {
      this.setReplicas(Math.min(max, Math.max(minReplicas, current)), nowMs);
      return;
    }
    const results = this.read(nowMs);
    let proposal = 0;
    let invalid = 0;
    for (const r of results) {
      const m = r.metric;
      const p =
        m === undefined
          ? undefined
          : m.kind === "averageValue"
            ? averageValueProposal(current, m.value, m.target, hpa.tolerance)
            : podMetricProposal(current, m.pods, m.target, hpa.tolerance);
      if (p === undefined) invalid++;
      else proposal = Math.max(proposal, p);
    }
    // computeReplicasForMetrics: every metric invalid, or some invalid and the valid ones would
    // scale down, is an error; reconcileAutoscaler then returns before normalising, so no
    // recommendation is recorded and nothing moves.
    if (invalid === results.length || (invalid > 0 && proposal < current)) return;
    this.recommendations.push({ atMs: nowMs, replicas: proposal });
    const next = hpa.behavior
      ? behaviorNormalize(
          current,
          proposal,
          {
            recommendations: this.recommendations,
            scaleUpEvents: this.scaleUpEvents,
            scaleDownEvents: this.scaleDownEvents,
          },
          nowMs,
          minReplicas,
          max,
          hpa.behavior,
        )
      : legacyNormalize(current, this.recommendations, nowMs, minReplicas, max);
    this.setReplicas(next, nowMs);
  }

  private forgetBefore(cutoffMs: number): void {
    for (const list of [this.recommendations, this.scaleUpEvents, this.scaleDownEvents])
      while (list.length > 0 && (list[0] as TimedReplicas).atMs < cutoffMs) list.shift();
  }
}
