import type { ScalerSpec } from "../config/spec.ts";
import type { RuleFired } from "./decision.ts";
import { hpaCanReach } from "./hpa.ts";

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

/**
 * The HPA tolerance stage: the value sent to KEDA for `answer` serving replicas. Placeholders
 * (role=headroom) are reported as they are: their count is small and a missed step is harmless.
 */
export function applyHpaTolerance(
  spec: ScalerSpec,
  answer: number,
  current: number | undefined,
): { readonly metricValue: number; readonly reasons: readonly RuleFired[] } {
  if (spec.target.role !== "serving") return { metricValue: answer, reasons: [] };
  const tolerance = stepOverTolerance(
    answer,
    current,
    spec.target.maxReplicas,
    spec.stability.hpaTolerance,
    spec.stability.stepOverTolerance,
  );
  return {
    metricValue: tolerance.metricValue,
    reasons: tolerance.note ? [{ rule: "hpa-tolerance", note: tolerance.note }] : [],
  };
}
