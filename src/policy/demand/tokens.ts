import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalVerdict } from "../decision.ts";
import { round2 } from "../format.ts";
import { plannedTokenRates } from "../learned-capacity.ts";
import { type UsableReadings, usableValue } from "../usable.ts";
import {
  aboveActivation,
  abstain,
  type DemandContext,
  type DemandRule,
  disabled,
  inputState,
  type LatencyGate,
  proportional,
  verdict,
} from "./common.ts";

/**
 * Per-pod token throughput below its floor while requests wait: demand = ready × floor / tokens/s.
 * Low throughput is overload only when the engine itself is full: a replica that has requests
 * waiting inside vLLM and still decodes slowly needs company. With vLLM's waiting count at zero the
 * replicas admit every request they are handed, so low tokens/s per pod only says the load is light
 * (behind Service Bus, messages counted active are in flight or not yet pulled, not queued behind a
 * full batch), and voting ready × floor ÷ tokens/s there asked for more replicas the lighter each one
 * ran: every time the queue wanted one replica more, this asked for several, which the queue gave
 * back minutes later. An unknown waiting count keeps the gate alone deciding, so missing data never
 * lowers the answer.
 */
export function tokensDemand(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
  gate: LatencyGate | undefined,
): SignalVerdict {
  if (!spec.tokens.enabled) return disabled("tokens", false);
  const state = inputState("tokens", [["tokensPerSecondPerPod", usable.tokensPerSecondPerPod]]);
  if (!state) return disabled("tokens", true);
  if ("signal" in state) return state;
  const perPod = state.readings.tokensPerSecondPerPod ?? 0;
  const floor = spec.tokens.floorPerSecond;
  if (!gate)
    return verdict(
      "tokens",
      "abstained",
      state.readings,
      "backlog unknown: low throughput alone is not overload",
    );
  if (!gate.open)
    return abstain(
      "tokens",
      state.readings,
      context,
      () => `${round2(perPod)} tok/s per pod, but ${gate.reason}`,
    );
  // With the token rates set, the drain rule's capacity already follows the traffic's prompt and
  // generated tokens per request. Generated tokens per pod are then no overload sign of their
  // own: prefill-heavy traffic (code completion: 2,000-token prompts, 25-token answers) decodes
  // little at full load, and voting ready × floor ÷ tokens/s there doubled the fleet on every
  // burst the queue was already sized for.
  const rates = plannedTokenRates(spec);
  if (rates)
    return abstain(
      "tokens",
      state.readings,
      context,
      () =>
        `${round2(perPod)} tok/s per pod: the drain rule plans with the token rates (${rates.prefill} prefill, ${rates.decode} decode per replica)`,
    );
  const engineWaiting = usableValue(usable.vllmWaiting);
  if (engineWaiting === 0)
    return abstain(
      "tokens",
      state.readings,
      context,
      () => `${round2(perPod)} tok/s per pod with nothing waiting inside vLLM: light load, not overload`,
    );
  if (perPod >= floor)
    return abstain(
      "tokens",
      state.readings,
      context,
      () => `${round2(perPod)} tok/s per pod is at or above ${floor}`,
    );
  // Zero throughput while requests wait is the worst overload; the step bound caps it.
  const ratio = perPod > 0 ? floor / perPod : Number.POSITIVE_INFINITY;
  return proportional(
    "tokens",
    state.status,
    state.readings,
    context,
    ratio,
    spec.stability.maxStepFactor,
    (r) => `${round2(perPod)} tok/s per pod below the ${floor} floor (${gate.reason})`.concat(r),
  );
}

export const tokensRule: DemandRule = {
  signal: "tokens",
  readyRelative: true,
  vote: tokensDemand,
  keepsActive: (spec, usable, verdict) =>
    aboveActivation(usable.tokensPerSecondPerPod, spec.activation.tokensPerSecond, verdict),
};
