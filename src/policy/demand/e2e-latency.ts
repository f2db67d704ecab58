import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalVerdict } from "../decision.ts";
import type { UsableReadings } from "../usable.ts";
import { type DemandContext, type DemandRule, disabled, type LatencyGate, votesDemand } from "./common.ts";
import { latencyPercentileDemand } from "./latency-percentile.ts";

/**
 * End-to-end latency P95 over its target, while the latency gate is open: demand = ready × P95 /
 * target (step-bounded), as for TTFT. End-to-end latency adds the generation time to TTFT, so it
 * also sees a batch too full to decode quickly, which TTFT alone does not; but it grows with the
 * answers' length as well as with load, which is why it is off until a target is set.
 */
export function e2eLatencyDemand(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
  gate: LatencyGate | undefined,
): SignalVerdict {
  const target = spec.e2eLatency.targetSeconds;
  if (target === undefined) return disabled("e2e", false);
  return latencyPercentileDemand(spec, usable, context, gate, {
    signal: "e2e",
    label: "end-to-end P95",
    p95Key: "e2eP95Seconds",
    rateKey: "e2eRequestsPerSecond",
    targetSeconds: target,
    minRequestsPerSecond: spec.e2eLatency.minRequestsPerSecond,
    withoutSamples: context.e2eWithoutSamples === true,
    withoutSamplesNote: "P95 is NaN: no request finished in the window",
  });
}

export const e2eLatencyRule: DemandRule = {
  signal: "e2e",
  readyRelative: true,
  vote: e2eLatencyDemand,
  keepsActive: (_spec, _usable, verdict) => votesDemand(verdict),
};
