import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalVerdict } from "../decision.ts";
import { round2 } from "../format.ts";
import { type UsableReadings, usableValue } from "../usable.ts";
import {
  type DemandContext,
  type DemandRule,
  disabled,
  inputState,
  type LatencyGate,
  proportional,
  verdict,
  votesDemand,
} from "./common.ts";

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
  if (context.e2eWithoutSamples)
    return verdict("e2e", "abstained", {}, "P95 is NaN: no request finished in the window");
  const state = inputState("e2e", [["e2eP95Seconds", usable.e2eP95Seconds]]);
  if (!state) return disabled("e2e", true);
  if ("signal" in state) return state;
  const p95 = state.readings.e2eP95Seconds ?? 0;
  const rate = usableValue(usable.e2eRequestsPerSecond);
  const readings = rate === undefined ? state.readings : { ...state.readings, e2eRequestsPerSecond: rate };
  if (rate === undefined)
    return verdict(
      "e2e",
      "abstained",
      readings,
      "request rate unknown: cannot tell whether the P95 has samples",
    );
  if (rate < spec.e2eLatency.minRequestsPerSecond)
    return verdict(
      "e2e",
      "abstained",
      readings,
      `${round2(rate)} req/s is below ${spec.e2eLatency.minRequestsPerSecond}: too few samples for a P95`,
    );
  if (p95 <= target)
    return verdict(
      "e2e",
      "abstained",
      readings,
      `end-to-end P95 ${round2(p95)} s within the ${target} s target`,
    );
  if (gate && !gate.open)
    return verdict(
      "e2e",
      "abstained",
      readings,
      `end-to-end P95 ${round2(p95)} s over target, but ${gate.reason}`,
    );
  return proportional(
    "e2e",
    state.status,
    readings,
    context,
    p95 / target,
    spec.stability.maxStepFactor,
    (r) => `end-to-end P95 ${round2(p95)} s vs ${target} s target`.concat(r),
  );
}

export const e2eLatencyRule: DemandRule = {
  signal: "e2e",
  readyRelative: true,
  vote: e2eLatencyDemand,
  keepsActive: (_spec, _usable, verdict) => votesDemand(verdict),
};
