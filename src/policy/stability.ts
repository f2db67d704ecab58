import { hpaCanReach } from "./hpa.ts";

/**
 * The rules that keep the answer steady: hysteresis on the way down, an optional scale-down
 * delay, and the HPA's tolerance band. Each returns the new count and, when it changed or
 * qualified the answer, a note for the decision's reasons.
 */

const EPSILON = 1e-9;

/** desired = ceil(load / utilisation), so a new replica is asked for while the others are at `utilisation`. */
export function withHeadroom(loadReplicas: number, utilisation: number): number {
  return loadReplicas <= 0 ? 0 : Math.ceil(loadReplicas / utilisation - EPSILON);
}

/**
 * Scale up at once; scale down only to the count at which the remaining replicas would run at
 * most at utilisation × (1 − band). Between the two thresholds the previous answer stands, so
 * a load that hovers at a boundary does not flap a GPU node in and out.
 */
export function applyScaleDownBand(
  desired: number,
  previous: number | undefined,
  loadReplicas: number,
  utilisation: number,
  band: number,
): { desired: number; note?: string } {
  if (previous === undefined || desired >= previous) return { desired };
  const downTo = withHeadroom(loadReplicas, utilisation * (1 - band));
  const held = Math.min(previous, Math.max(desired, downTo));
  if (held === desired) return { desired };
  return {
    desired: held,
    note: `kept ${held} instead of ${desired}: ${held - 1} replicas would run above ${Math.round(utilisation * (1 - band) * 100)} % (scale-down band ${band})`,
  };
}

export interface RecentAnswer {
  readonly atMs: number;
  readonly desired: number;
}

/**
 * The highest answer of the last `delayMs` (the HPA's stabilisation window, played by the
 * scaler for clusters where the ScaledObject's behaviour turns the HPA's off).
 */
export function applyScaleDownDelay(
  desired: number,
  recent: readonly RecentAnswer[],
  nowMs: number,
  delayMs: number,
): { desired: number; recent: RecentAnswer[]; note?: string } {
  if (delayMs <= 0) return { desired, recent: [] };
  // Bounded: one entry per poll inside the window, and at most 512 of them.
  const kept = recent.filter((answer) => nowMs - answer.atMs < delayMs && answer.atMs <= nowMs).slice(-511);
  kept.push({ atMs: nowMs, desired });
  let highest = desired;
  for (const answer of kept) highest = Math.max(highest, answer.desired);
  if (highest === desired) return { desired, recent: kept };
  return {
    desired: highest,
    recent: kept,
    note: `kept ${highest} instead of ${desired}: the highest answer of the last ${Math.round(delayMs / 1000)} s (scaleDownDelaySeconds)`,
  };
}

/**
 * The value to report so that the HPA, now at `current`, acts. Inside its tolerance band the
 * HPA ignores a change (10 → 11 at 10 %); for a scale-up that is needed, the smallest count it
 * does act on is reported instead (up to `max`), for a scale-down the note says it will wait.
 */
export function stepOverTolerance(
  desired: number,
  current: number | undefined,
  max: number,
  tolerance: number,
  stepUp: boolean,
): { metricValue: number; note?: string } {
  if (current === undefined || current === 0 || hpaCanReach(current, desired, tolerance))
    return { metricValue: desired };
  const band = `${Math.round(tolerance * 100)} %`;
  if (desired > current && stepUp) {
    for (let candidate = desired + 1; candidate <= max; candidate++)
      if (hpaCanReach(current, candidate, tolerance))
        return {
          metricValue: candidate,
          note: `the HPA at ${current} ignores ${desired} (inside its ${band} tolerance): reporting ${candidate}, the smallest count it acts on`,
        };
    return {
      metricValue: desired,
      note: `the HPA at ${current} ignores ${desired} (inside its ${band} tolerance) and no count up to maxReplicas ${max} escapes it: set behavior.scaleUp.tolerance`,
    };
  }
  return {
    metricValue: desired,
    note: `the HPA at ${current} will not move to ${desired}: inside its ${band} tolerance (set behavior.scale${desired > current ? "Up" : "Down"}.tolerance, or accept it)`,
  };
}
