import type { ScalerSpec } from "../config/spec.ts";
import type { Count, Step } from "./count.ts";

/**
 * The serving ScaledObject's minReplicas and maxReplicas. role=headroom sizes placeholders from
 * the serving count, which these limits do not bound (the role stage applies its own).
 */
export function applyLimits(spec: ScalerSpec, count: Count): Step {
  if (spec.target.role !== "serving") return { count, reasons: [] };
  let result = count;
  if (result.desired < spec.target.minReplicas)
    result = { ...result, desired: spec.target.minReplicas, driving: "minReplicas" };
  if (result.desired > spec.target.maxReplicas)
    return {
      count: { ...result, desired: spec.target.maxReplicas, driving: "maxReplicas" },
      reasons: [
        {
          rule: "maxReplicas",
          note: `clamped ${result.desired} to maxReplicas ${spec.target.maxReplicas}`,
        },
      ],
    };
  return { count: result, reasons: [] };
}
