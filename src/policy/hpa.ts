/**
 * The Kubernetes HPA's tolerance arithmetic for one External metric (k8s replica_calculator.go),
 * kept in one place: the policy uses it to choose what it reports (hpa-tolerance.ts), the
 * simulator to play the HPA (src/sim/hpa.ts holds the rest of the HPA: behaviours, stabilisation,
 * rate policies). Units are plain numbers; the HPA's milli-unit rounding is modelled by `toMilli`.
 */

/** Cluster default of --horizontal-pod-autoscaler-tolerance. */
export const DEFAULT_HPA_TOLERANCE = 0.1;

/** KEDA formats values and targets with three decimals; the HPA works in milli-units. */
export function toMilli(value: number): number {
  return Math.round(value * 1000);
}

/**
 * AverageValue proposal: ceil(U / T), unless U / (T·S) lies within [1 − tol, 1 + tol]
 * (inclusive), in which case the current count S stands.
 */
export function averageValueProposal(
  currentReplicas: number,
  metricSum: number,
  target: number,
  tolerance = DEFAULT_HPA_TOLERANCE,
): number {
  const usageMilli = toMilli(metricSum);
  const targetMilli = toMilli(target);
  if (currentReplicas > 0) {
    const ratio = usageMilli / (targetMilli * currentReplicas);
    if (ratio >= 1 - tolerance && ratio <= 1 + tolerance) return currentReplicas;
  }
  return Math.ceil(usageMilli / targetMilli);
}

/**
 * Whether an HPA at `currentReplicas` moves at all when asked for `desiredReplicas` through an
 * AverageValue target (the 10 % dead band: at 10 replicas a request for 11 does nothing).
 */
export function hpaCanReach(
  currentReplicas: number,
  desiredReplicas: number,
  tolerance = DEFAULT_HPA_TOLERANCE,
): boolean {
  if (currentReplicas === 0 || desiredReplicas === currentReplicas) return true;
  return averageValueProposal(currentReplicas, desiredReplicas, 1, tolerance) !== currentReplicas;
}
