import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalVerdict } from "../decision.ts";
import { round2 } from "../format.ts";
import type { UsableReadings } from "../usable.ts";
import {
  type DemandContext,
  type DemandRule,
  disabled,
  heldSuffix,
  inputState,
  say,
  verdict,
} from "./common.ts";

/**
 * Work in flight is load: requests running inside vLLM plus those waiting for a slot, over the
 * requests one replica serves at once. Without it, a replica generating for 100 users with
 * nothing queued and no inflow figure would read as idle and be scaled to zero mid-generation.
 * Always on: running requests are never "no load".
 */
export function concurrencyDemand(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: Pick<DemandContext, "words"> = {},
): SignalVerdict {
  const state = inputState("concurrency", [
    ["vllmRunning", usable.vllmRunning],
    ["vllmWaiting", usable.vllmWaiting],
  ]);
  if (!state) return disabled("concurrency", true);
  if ("signal" in state) return state;
  const running = state.readings.vllmRunning ?? 0;
  const waiting = state.readings.vllmWaiting ?? 0;
  const perReplica = spec.concurrency.maxConcurrencyPerReplica;
  const demand = (running + waiting) / perReplica;
  return verdict(
    "concurrency",
    state.status,
    state.readings,
    say(context, () => {
      const caveats = heldSuffix(state.status, usable, ["vllmRunning", "vllmWaiting"]) + state.missing;
      return `(${running} running + ${waiting} waiting) / ${perReplica} per replica → ${round2(demand)}${caveats}`;
    }),
    demand,
  );
}

export const concurrencyRule: DemandRule = {
  signal: "concurrency",
  readyRelative: false,
  vote: (spec, usable, context) => concurrencyDemand(spec, usable, context),
  // Running requests always keep it active; waiting ones above activationBacklog, like the queue.
  keepsActive: (spec, _usable, verdict) =>
    (verdict.readings.vllmRunning ?? 0) > 0 ||
    (verdict.readings.vllmWaiting ?? 0) > spec.activation.activationBacklog,
};
