import { averageValueProposal } from "../policy/hpa.ts";
import {
  behaviorNormalize,
  type HpaBehavior,
  legacyNormalize,
  type TimedReplicas,
  utilisationProposal,
} from "./hpa.ts";

/** One metric as the HPA sees it. */
export type MetricVote =
  /** An External metric with an AverageValue target (what every KEDA trigger becomes). */
  | { readonly kind: "averageValue"; readonly value: number; readonly target: number }
  /** A plain HPA's per-pod utilisation target (Resource/Pods style), 0–1. */
  | {
      readonly kind: "utilisation";
      readonly average: number;
      readonly target: number;
      readonly readyPods: number;
      readonly unreadyPods: number;
    };

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
  readonly keda?: { readonly pollingIntervalMs: number; readonly cooldownMs: number };
  /** The HPA; absent for a fixed fleet. */
  readonly hpa?: {
    readonly syncPeriodMs: number;
    readonly tolerance: number;
    /** Absent: the legacy normalisation (5 min downscale window, scale-up ≤ max(2·C, 4)). */
    readonly behavior?: HpaBehavior;
  };
  readonly triggers: readonly Trigger[];
}

export const HPA_SYNC_PERIOD_MS = 15_000;

/**
 * KEDA's polling loop and the HPA it manages, over one Deployment's `spec.replicas`:
 * - KEDA (every pollingInterval): activates 0 → max(minReplicaCount, 1); raises to
 *   minReplicaCount when below it; scales to 0 after cooldownPeriod with every trigger inactive
 *   and none in error (KEDA's scale-to-zero rule).
 * - HPA (every 15 s, skipped at 0): the maximum of the metrics' proposals; no scale-down
 *   while any metric is invalid; then stabilisation and rate policies (src/sim/hpa.ts).
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
    const behavior = setup.hpa?.behavior;
    const seconds = behavior
      ? [behavior.scaleUp, behavior.scaleDown].flatMap((r) => [
          r.stabilizationWindowSeconds,
          ...r.policies.map((p) => p.periodSeconds),
        ])
      : [300];
    this.historyMs = (Math.max(...seconds) + 15) * 1000;
  }

  private evaluate(nowMs: number): TriggerEvaluation[] {
    if (this.cache?.atMs !== nowMs)
      this.cache = { atMs: nowMs, results: this.setup.triggers.map((t) => t.evaluate(nowMs)) };
    return this.cache.results;
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
    const results = this.evaluate(nowMs);
    const active = results.some((r) => r.active);
    const anyError = results.some((r) => r.metric === undefined);
    const min = this.setup.minReplicasAt(nowMs);
    // KEDA (pkg/scaling/executor/scale_scaledobjects.go) refreshes "last active" when the triggers
    // are active and none errs, or when it scales up from zero; an erring trigger beside an active
    // one leaves the cooldown clock where it was.
    if (active && (!anyError || this.replicas === 0)) this.lastActiveMs = nowMs;
    if (this.replicas === 0 && active) this.setReplicas(Math.max(min, 1), nowMs);
    else if (this.replicas < min) this.setReplicas(min, nowMs);
    else if (
      !active &&
      !anyError &&
      min === 0 &&
      this.replicas > 0 &&
      nowMs - this.lastActiveMs >= keda.cooldownMs
    )
      // KEDA's scale to zero goes straight to 0, bypassing the HPA's stabilisation.
      this.setReplicas(0, nowMs);
  }

  private syncHpa(nowMs: number): void {
    const hpa = this.setup.hpa as NonNullable<ScalingSetup["hpa"]>;
    const current = this.replicas;
    if (current === 0) return;
    const minReplicas = Math.max(1, this.setup.minReplicasAt(nowMs));
    const max = this.setup.maxReplicas;
    const results = this.evaluate(nowMs);
    let proposal = -1;
    let invalid = 0;
    for (const r of results) {
      if (!r.metric) {
        invalid++;
        continue;
      }
      const m = r.metric;
      const p =
        m.kind === "averageValue"
          ? averageValueProposal(current, m.value, m.target, hpa.tolerance)
          : utilisationProposal(current, m.readyPods, m.unreadyPods, m.average, m.target, hpa.tolerance);
      proposal = Math.max(proposal, p);
    }
    if (proposal < 0) return; // every metric invalid: the HPA does not scale
    if (invalid > 0 && proposal < current) proposal = current; // no scale-down on partial data
    this.recommendations.push({ atMs: nowMs, replicas: proposal });
    const horizonMs = this.historyMs;
    while (
      this.recommendations.length > 0 &&
      (this.recommendations[0] as TimedReplicas).atMs < nowMs - horizonMs
    )
      this.recommendations.shift();
    for (const events of [this.scaleUpEvents, this.scaleDownEvents])
      while (events.length > 0 && (events[0] as TimedReplicas).atMs < nowMs - horizonMs) events.shift();
    let next: number;
    if (current > max) next = max;
    else if (current < minReplicas) next = minReplicas;
    else
      next = hpa.behavior
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
}
