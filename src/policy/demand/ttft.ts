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

/** TTFT P95 over its target, while the latency gate is open: demand = ready × P95 / target (step-bounded). */
export function ttftDemand(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
  gate: LatencyGate | undefined,
): SignalVerdict {
  if (!spec.ttft.enabled) return disabled("ttft", false);
  if (context.ttftWithoutSamples)
    return verdict("ttft", "abstained", {}, "P95 is NaN: no request finished prefill in the window");
  const state = inputState("ttft", [["ttftP95Seconds", usable.ttftP95Seconds]]);
  if (!state) return disabled("ttft", true);
  if ("signal" in state) return state;
  const p95 = state.readings.ttftP95Seconds ?? 0;
  const rate = usableValue(usable.ttftRequestsPerSecond);
  const readings = rate === undefined ? state.readings : { ...state.readings, ttftRequestsPerSecond: rate };
  const target = spec.ttft.targetSeconds;
  if (rate === undefined)
    return verdict(
      "ttft",
      "abstained",
      readings,
      "request rate unknown: cannot tell whether the P95 has samples",
    );
  if (rate < spec.ttft.minRequestsPerSecond)
    return verdict(
      "ttft",
      "abstained",
      readings,
      `${round2(rate)} req/s is below ${spec.ttft.minRequestsPerSecond}: too few samples for a P95`,
    );
  if (p95 <= target)
    return verdict("ttft", "abstained", readings, `P95 ${round2(p95)} s within the ${target} s target`);
  if (gate && !gate.open)
    return verdict("ttft", "abstained", readings, `P95 ${round2(p95)} s over target, but ${gate.reason}`);
  return proportional(
    "ttft",
    state.status,
    readings,
    context,
    p95 / target,
    spec.stability.maxStepFactor,
    (r) => `P95 ${round2(p95)} s vs ${target} s target`.concat(r),
  );
}

export const ttftRule: DemandRule = {
  signal: "ttft",
  readyRelative: true,
  vote: ttftDemand,
  keepsActive: (_spec, _usable, verdict) => votesDemand(verdict),
};
