import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalVerdict } from "../decision.ts";
import type { UsableReadings } from "../usable.ts";
import { type DemandContext, type DemandRule, disabled, type LatencyGate, votesDemand } from "./common.ts";
import { latencyPercentileDemand } from "./latency-percentile.ts";

/** TTFT P95 over its target, while the latency gate is open: demand = ready × P95 / target (step-bounded). */
export function ttftDemand(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
  gate: LatencyGate | undefined,
): SignalVerdict {
  if (!spec.ttft.enabled) return disabled("ttft", false);
  return latencyPercentileDemand(spec, usable, context, gate, {
    signal: "ttft",
    label: "P95",
    p95Key: "ttftP95Seconds",
    rateKey: "ttftRequestsPerSecond",
    targetSeconds: spec.ttft.targetSeconds,
    minRequestsPerSecond: spec.ttft.minRequestsPerSecond,
    withoutSamples: context.ttftWithoutSamples === true,
    withoutSamplesNote: "P95 is NaN: no request finished prefill in the window",
  });
}

export const ttftRule: DemandRule = {
  signal: "ttft",
  readyRelative: true,
  vote: ttftDemand,
  keepsActive: (_spec, _usable, verdict) => votesDemand(verdict),
};
