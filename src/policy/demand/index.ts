import type { ScalerSpec } from "../../config/spec.ts";
import type { DemandSignal, SignalVerdict } from "../decision.ts";
import type { UsableReadings } from "../usable.ts";
import type { DemandContext, DemandRule } from "./common.ts";
import { gpuRule } from "./gpu.ts";
import { kvCacheRule } from "./kv-cache.ts";
import { latencyGate } from "./latency-gate.ts";
import { queueRule } from "./queue.ts";
import { tokensRule } from "./tokens.ts";
import { ttftRule } from "./ttft.ts";

/**
 * The demand rules in the order their verdicts are reported. The queue comes first: it decides
 * whether the latency-type signals may vote (the latency gate). A new signal is one rule file
 * and one entry here.
 */
const GATED_RULES: readonly DemandRule[] = [ttftRule, kvCacheRule, gpuRule, tokensRule];

/** Signals whose demand scales the ready replicas: capacity on its way must not be asked for twice. */
export const READY_RELATIVE: ReadonlySet<DemandSignal> = new Set(
  [queueRule, ...GATED_RULES].filter((rule) => rule.readyRelative).map((rule) => rule.signal),
);

/** Every signal's verdict, in a fixed order (queue first: it decides whether to scale). */
export function signalVerdicts(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
): SignalVerdict[] {
  const queue = queueRule.vote(spec, usable, context, undefined);
  const gate = latencyGate(spec, queue, context);
  return [queue, ...GATED_RULES.map((rule) => rule.vote(spec, usable, context, gate))];
}
