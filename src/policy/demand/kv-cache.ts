import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalVerdict } from "../decision.ts";
import { round2 } from "../format.ts";
import type { UsableReadings } from "../usable.ts";
import {
  aboveActivation,
  type DemandContext,
  type DemandRule,
  disabled,
  inputState,
  proportional,
} from "./common.ts";

/** KV-cache usage against the usage that counts as a full replica: demand = ready × usage / target. */
export function kvCacheDemand(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
): SignalVerdict {
  if (!spec.kvCache.enabled) return disabled("kvCache", false);
  const state = inputState("kvCache", [["kvCacheUsage", usable.kvCacheUsage]]);
  if (!state) return disabled("kvCache", true);
  if ("signal" in state) return state;
  const usage = state.readings.kvCacheUsage ?? 0;
  const target = spec.kvCache.target;
  return proportional(
    "kvCache",
    state.status,
    state.readings,
    context,
    usage / target,
    Number.POSITIVE_INFINITY,
    (r) => `KV-cache ${round2(usage * 100)} % vs ${round2(target * 100)} % target`.concat(r),
  );
}

export const kvCacheRule: DemandRule = {
  signal: "kvCache",
  readyRelative: true,
  vote: (spec, usable, context) => kvCacheDemand(spec, usable, context),
  keepsActive: (spec, usable, verdict) =>
    aboveActivation(usable.kvCacheUsage, spec.activation.kvCacheUsage, verdict),
};
