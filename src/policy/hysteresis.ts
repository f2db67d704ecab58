import type { Count, Step } from "./count.ts";
import { withHeadroom } from "./headroom.ts";

/**
 * Scale up at once; scale down only to the count at which the remaining replicas would run at
 * most at utilisation × (1 − band). Between the two thresholds the previous answer stands, so
 * a load that hovers at a boundary does not flap a GPU node in and out.
 */
export function applyScaleDownBand(
  count: Count,
  previous: number | undefined,
  loadReplicas: number,
  utilisation: number,
  band: number,
): Step {
  const desired = count.desired;
  if (previous === undefined || desired >= previous) return { count, reasons: [] };
  const downTo = withHeadroom(loadReplicas, utilisation * (1 - band));
  const held = Math.min(previous, Math.max(desired, downTo));
  if (held === desired) return { count, reasons: [] };
  return {
    count: { ...count, desired: held },
    reasons: [
      {
        rule: "hysteresis",
        note: `kept ${held} instead of ${desired}: ${held - 1} replicas would run above ${Math.round(utilisation * (1 - band) * 100)} % (scale-down band ${band})`,
      },
    ],
  };
}
