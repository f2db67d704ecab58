import type { Count, Step } from "./count.ts";

export interface RecentAnswer {
  readonly atMs: number;
  readonly desired: number;
}

/**
 * The highest answer of the last `delayMs` (the HPA's stabilisation window, played by the
 * scaler for clusters where the ScaledObject's behaviour turns the HPA's off).
 */
export function applyScaleDownDelay(
  count: Count,
  recent: readonly RecentAnswer[],
  nowMs: number,
  delayMs: number,
): Step & { readonly recent: RecentAnswer[] } {
  const desired = count.desired;
  if (delayMs <= 0) return { count, reasons: [], recent: [] };
  // Bounded: one entry per poll inside the window, and at most 512 of them.
  const kept = recent.filter((answer) => nowMs - answer.atMs < delayMs && answer.atMs <= nowMs).slice(-511);
  kept.push({ atMs: nowMs, desired });
  let highest = desired;
  for (const answer of kept) highest = Math.max(highest, answer.desired);
  if (highest === desired) return { count, reasons: [], recent: kept };
  return {
    count: { desired: highest, driving: "hold", holding: true },
    recent: kept,
    reasons: [
      {
        rule: "scale-down-delay",
        note: `kept ${highest} instead of ${desired}: the highest answer of the last ${Math.round(delayMs / 1000)} s (scaleDownDelaySeconds)`,
      },
    ],
  };
}
