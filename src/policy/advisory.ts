import type { ScalerSpec } from "../config/spec.ts";
import type { RuleFired } from "./decision.ts";

export interface Reported {
  readonly metricValue: number;
  readonly active: boolean;
  readonly reasons: readonly RuleFired[];
  /** Set when no answer can be given: the reason for UNAVAILABLE. */
  readonly unavailable?: string;
}

/**
 * mode=advisory: the policy computes and explains its answer but does not act on it. `current`
 * reports the Deployment's own count (as the only trigger, nothing moves); `abstain` reports 0 and
 * inactive — beside other triggers the HPA takes the maximum and KEDA the OR of activity, so that
 * leaves the decision to them entirely. mode=active reports the answer.
 */
export function applyMode(
  spec: ScalerSpec,
  input: {
    readonly metricValue: number;
    readonly active: boolean;
    readonly current: number | undefined;
    readonly ready: number | undefined;
  },
): Reported {
  if (spec.target.mode === "active")
    return { metricValue: input.metricValue, active: input.active, reasons: [] };
  if (spec.advisory.answer === "abstain")
    return {
      metricValue: 0,
      active: false,
      reasons: [
        {
          rule: "advisory",
          note: `advisory mode (abstain): would ask for ${input.metricValue}, reports 0 and inactive so the other triggers decide`,
        },
      ],
    };
  const serving = spec.target.role === "serving";
  const currentCount = input.current ?? input.ready;
  if (!serving || currentCount === undefined)
    return {
      metricValue: 0,
      active: false,
      reasons: [],
      unavailable: !serving
        ? "advisory mode keeps the serving Deployment's count and has no meaning for role=headroom"
        : "advisory mode answers the current replica count, and kube-state-metrics replicas are not read",
    };
  return {
    metricValue: currentCount,
    active: currentCount > 0,
    reasons: [
      {
        rule: "advisory",
        note: `advisory mode: would ask for ${input.metricValue}, answers the current ${currentCount} so nothing moves`,
      },
    ],
  };
}
