import { DEFAULT_HPA_TOLERANCE } from "../policy/hpa.ts";

/**
 * The parts of the Kubernetes HPA (k8s replica_calculator.go and horizontal.go) that only the
 * simulator plays: the per-pod metric proposal, behaviours, stabilisation and rate policies. The tolerance arithmetic the scaler itself needs lives in src/policy/hpa.ts.
 */

/** A pod as the HPA's pod lister shows it, with its sample from the metrics API when there is one. */
export interface PodSample {
  /** Pending: not scheduled, or its containers not started. Running: its containers run (ready or not). */
  readonly phase: "Pending" | "Running";
  /** Being deleted (draining its requests): the HPA ignores it. */
  readonly deleting: boolean;
  /** The pod's value of the metric; absent when the metrics API returned none for it. */
  readonly value?: number;
}

function withinTolerance(ratio: number, tolerance: number): boolean {
  return Math.abs(ratio - 1) <= tolerance;
}

/**
 * A Pods metric with an AverageValue target (what an HPA on DCGM GPU utilisation is: the custom
 * metrics API serves it per pod; the resource metrics API knows only CPU and memory), as
 * kubernetes/kubernetes pkg/controller/podautoscaler/replica_calculator.go `calcPlainMetricReplicas`
 * and `groupPods` compute it:
 * - pods being deleted (or failed) are ignored; Pending pods are "unready"; Running pods without a
 *   sample are "missing"; every other Running pod counts with its sample, ready or not (only a
 *   CPU resource metric looks at readiness);
 * - without unready pods on a scale-up and without missing pods: ceil(ratio × counted pods),
 *   unless the ratio is within the tolerance;
 * - otherwise missing pods count at the target on a scale-down and at 0 on a scale-up, unready pods
 *   at 0 on a scale-up; the ratio is recomputed, and if it is within the tolerance or flips the
 *   direction the count stands, else ceil(new ratio × pods counted).
 * Undefined when the HPA finds the metric invalid: no pods, or no sample from any counted pod.
 */
export function podMetricProposal(
  currentReplicas: number,
  pods: readonly PodSample[],
  target: number,
  tolerance = DEFAULT_HPA_TOLERANCE,
): number | undefined {
  if (pods.length === 0) return undefined;
  let sum = 0;
  let counted = 0;
  let unready = 0;
  let missing = 0;
  for (const pod of pods) {
    if (pod.deleting) continue;
    if (pod.phase === "Pending") unready++;
    else if (pod.value === undefined) missing++;
    else {
      sum += pod.value;
      counted++;
    }
  }
  if (counted === 0) return undefined;
  const ratio = sum / counted / target;
  const scaleUpWithUnready = unready > 0 && ratio > 1;
  if (!scaleUpWithUnready && missing === 0) {
    if (withinTolerance(ratio, tolerance)) return currentReplicas;
    return Math.ceil(ratio * counted);
  }
  let newSum = sum;
  let newCount = counted;
  if (missing > 0 && ratio < 1) {
    newSum += missing * target;
    newCount += missing;
  } else if (missing > 0 && ratio > 1) newCount += missing;
  if (scaleUpWithUnready) newCount += unready;
  const newRatio = newSum / newCount / target;
  if (withinTolerance(newRatio, tolerance) || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1))
    return currentReplicas;
  return Math.ceil(newRatio * newCount);
}

/** One `behavior.scaleUp/scaleDown.policies` entry. */
export interface HpaScalingPolicy {
  readonly type: "Pods" | "Percent";
  readonly value: number;
  readonly periodSeconds: number;
}

export interface HpaScalingRules {
  readonly stabilizationWindowSeconds: number;
  readonly selectPolicy: "Max" | "Min" | "Disabled";
  readonly policies: readonly HpaScalingPolicy[];
}

export interface HpaBehavior {
  readonly scaleUp: HpaScalingRules;
  readonly scaleDown: HpaScalingRules;
}

/**
 * The API defaults (autoscaling/v2 defaults.go) that fill any unset field of a behaviour block:
 * scale-up without a window at +4 pods or +100 % per 15 s, whichever is more; scale-down after
 * a 300 s window (the controller flag's default) at up to 100 % per 15 s.
 */
export const DEFAULT_HPA_BEHAVIOR: HpaBehavior = {
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: "Max",
    policies: [
      { type: "Pods", value: 4, periodSeconds: 15 },
      { type: "Percent", value: 100, periodSeconds: 15 },
    ],
  },
  scaleDown: {
    stabilizationWindowSeconds: 300,
    selectPolicy: "Max",
    policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
  },
};

/** A past recommendation (stabilisation) or rescale (rate policies), by time. */
export interface TimedReplicas {
  readonly atMs: number;
  readonly replicas: number;
}

/**
 * Stabilisation with behaviour (k8s `stabilizeRecommendationWithBehaviors`): scale up no further
 * than the lowest recommendation within the scale-up window, and down no further than the
 * highest within the scale-down window. `recommendations` must already include `proposal`.
 */
export function stabilizedRecommendation(
  currentReplicas: number,
  proposal: number,
  recommendations: readonly TimedReplicas[],
  nowMs: number,
  behavior: HpaBehavior,
): number {
  const upCutoff = nowMs - behavior.scaleUp.stabilizationWindowSeconds * 1000;
  const downCutoff = nowMs - behavior.scaleDown.stabilizationWindowSeconds * 1000;
  let up = proposal;
  let down = proposal;
  for (const r of recommendations) {
    if (r.atMs > upCutoff) up = Math.min(up, r.replicas);
    if (r.atMs > downCutoff) down = Math.max(down, r.replicas);
  }
  let recommendation = currentReplicas;
  if (recommendation < up) recommendation = up;
  if (recommendation > down) recommendation = down;
  return recommendation;
}

function changeWithin(events: readonly TimedReplicas[], nowMs: number, periodSeconds: number): number {
  const cutoff = nowMs - periodSeconds * 1000;
  let sum = 0;
  for (const e of events) if (e.atMs > cutoff) sum += e.replicas;
  return sum;
}

/**
 * The highest count the scale-up policies allow now (k8s `calculateScaleUpLimitWithScalingRules`).
 * `scaleUpEvents` holds past increases (replicas added) with their times.
 */
export function scaleUpLimit(
  currentReplicas: number,
  scaleUpEvents: readonly TimedReplicas[],
  rules: HpaScalingRules,
  nowMs: number,
): number {
  if (rules.selectPolicy === "Disabled") return currentReplicas;
  let result = rules.selectPolicy === "Min" ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  for (const policy of rules.policies) {
    const periodStart = currentReplicas - changeWithin(scaleUpEvents, nowMs, policy.periodSeconds);
    const proposed =
      policy.type === "Pods" ? periodStart + policy.value : Math.ceil(periodStart * (1 + policy.value / 100));
    result = rules.selectPolicy === "Min" ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return Number.isFinite(result) ? Math.max(result, currentReplicas) : currentReplicas;
}

/** The lowest count the scale-down policies allow now; `scaleDownEvents` holds replicas removed. */
export function scaleDownLimit(
  currentReplicas: number,
  scaleDownEvents: readonly TimedReplicas[],
  rules: HpaScalingRules,
  nowMs: number,
): number {
  if (rules.selectPolicy === "Disabled") return currentReplicas;
  let result = rules.selectPolicy === "Min" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  for (const policy of rules.policies) {
    const periodStart = currentReplicas + changeWithin(scaleDownEvents, nowMs, policy.periodSeconds);
    const proposed =
      policy.type === "Pods"
        ? periodStart - policy.value
        : Math.trunc(periodStart * (1 - policy.value / 100));
    result = rules.selectPolicy === "Min" ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return Number.isFinite(result) ? Math.min(result, currentReplicas) : currentReplicas;
}

/**
 * Without a behaviour block (k8s `normalizeDesiredReplicas`): the highest recommendation of the
 * last downscale window (5 min), then at most max(2·current, 4), then the min/max clamp.
 */
export function legacyNormalize(
  currentReplicas: number,
  recommendations: readonly TimedReplicas[],
  nowMs: number,
  minReplicas: number,
  maxReplicas: number,
  downscaleWindowSeconds = 300,
): number {
  const cutoff = nowMs - downscaleWindowSeconds * 1000;
  let stabilized = 0;
  for (const r of recommendations) if (r.atMs > cutoff) stabilized = Math.max(stabilized, r.replicas);
  const scaleUpCap = Math.max(2 * currentReplicas, 4);
  const upper = Math.min(maxReplicas, scaleUpCap);
  return Math.max(minReplicas, Math.min(stabilized, upper));
}

/** With a behaviour block: stabilisation, then the rate policies, then the min/max clamp. */
export function behaviorNormalize(
  currentReplicas: number,
  proposal: number,
  history: {
    readonly recommendations: readonly TimedReplicas[];
    readonly scaleUpEvents: readonly TimedReplicas[];
    readonly scaleDownEvents: readonly TimedReplicas[];
  },
  nowMs: number,
  minReplicas: number,
  maxReplicas: number,
  behavior: HpaBehavior,
): number {
  let desired = stabilizedRecommendation(currentReplicas, proposal, history.recommendations, nowMs, behavior);
  if (desired > currentReplicas) {
    const limit = scaleUpLimit(currentReplicas, history.scaleUpEvents, behavior.scaleUp, nowMs);
    desired = Math.min(desired, maxReplicas, limit);
  } else if (desired < currentReplicas) {
    const limit = scaleDownLimit(currentReplicas, history.scaleDownEvents, behavior.scaleDown, nowMs);
    desired = Math.max(desired, minReplicas, limit);
  }
  return Math.max(minReplicas, Math.min(maxReplicas, desired));
}
