import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalKey } from "../../readings/signal-table.ts";
import type { DemandSignal, SignalVerdict } from "../decision.ts";
import { round2 } from "../format.ts";
import { type UsableReadings, usableValue } from "../usable.ts";
import {
  abstain,
  type DemandContext,
  disabled,
  inputState,
  type LatencyGate,
  proportional,
  verdict,
} from "./common.ts";

/** One latency histogram's P95 and the request rate behind it, with the target it is held to. */
export interface LatencyPercentile {
  readonly signal: DemandSignal;
  /** How the reasons name the percentile ("P95", "end-to-end P95"). */
  readonly label: string;
  readonly p95Key: SignalKey;
  readonly rateKey: SignalKey;
  readonly targetSeconds: number;
  readonly minRequestsPerSecond: number;
  /** The sources saw a NaN percentile and a zero rate: nothing finished in the window. */
  readonly withoutSamples: boolean;
  readonly withoutSamplesNote: string;
}

/**
 * A latency P95 over its target, while the latency gate is open: demand = ready × P95 / target
 * (step-bounded). A percentile over too few requests is noise, so a rate below the minimum (or
 * unknown) abstains rather than votes.
 */
export function latencyPercentileDemand(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
  gate: LatencyGate | undefined,
  latency: LatencyPercentile,
): SignalVerdict {
  const { signal, label, targetSeconds: target } = latency;
  if (latency.withoutSamples) return verdict(signal, "abstained", {}, latency.withoutSamplesNote);
  const state = inputState(signal, [[latency.p95Key, usable[latency.p95Key]]]);
  if (!state) return disabled(signal, true);
  if ("signal" in state) return state;
  const p95 = state.readings[latency.p95Key] ?? 0;
  const rate = usableValue(usable[latency.rateKey]);
  const readings = rate === undefined ? state.readings : { ...state.readings, [latency.rateKey]: rate };
  if (rate === undefined)
    return verdict(
      signal,
      "abstained",
      readings,
      "request rate unknown: cannot tell whether the P95 has samples",
    );
  if (rate < latency.minRequestsPerSecond)
    return abstain(
      signal,
      readings,
      context,
      () => `${round2(rate)} req/s is below ${latency.minRequestsPerSecond}: too few samples for a P95`,
    );
  if (p95 <= target)
    return abstain(
      signal,
      readings,
      context,
      () => `${label} ${round2(p95)} s within the ${target} s target`,
    );
  if (gate && !gate.open)
    return abstain(
      signal,
      readings,
      context,
      () => `${label} ${round2(p95)} s over target, but ${gate.reason}`,
    );
  return proportional(
    signal,
    state.status,
    readings,
    context,
    p95 / target,
    spec.stability.maxStepFactor,
    (r) => `${label} ${round2(p95)} s vs ${target} s target`.concat(r),
  );
}
