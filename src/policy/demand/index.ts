import type { ScalerSpec } from "../../config/spec.ts";
import type { DemandSignal, SignalVerdict } from "../decision.ts";
import type { UsableReadings } from "../usable.ts";
import type { DemandContext, DemandRule } from "./common.ts";
import { concurrencyRule } from "./concurrency.ts";
import { e2eLatencyRule } from "./e2e-latency.ts";
import { gpuRule } from "./gpu.ts";
import { gpuMemoryRule } from "./gpu-memory.ts";
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
const AFTER_QUEUE: readonly DemandRule[] = [
  ttftRule,
  kvCacheRule,
  gpuRule,
  tokensRule,
  concurrencyRule,
  e2eLatencyRule,
  gpuMemoryRule,
];
const RULES: ReadonlyMap<DemandSignal, DemandRule> = new Map(
  [queueRule, ...AFTER_QUEUE].map((rule) => [rule.signal, rule]),
);

/** Every signal that votes on demand, in the order its verdict is reported. */
export const DEMAND_SIGNALS: readonly DemandSignal[] = [...RULES.keys()];

/** Signals whose demand scales the ready replicas: capacity on its way must not be asked for twice. */
export const READY_RELATIVE: ReadonlySet<DemandSignal> = new Set(
  [...RULES.values()].filter((rule) => rule.readyRelative).map((rule) => rule.signal),
);

/** The signals that say the workload is active (each by its own activation threshold, if set). */
export function activeSignals(
  spec: ScalerSpec,
  usable: UsableReadings,
  verdicts: readonly SignalVerdict[],
): DemandSignal[] {
  return verdicts
    .filter((verdict) => RULES.get(verdict.signal)?.keepsActive(spec, usable, verdict) === true)
    .map((verdict) => verdict.signal);
}

/** Every signal's verdict, in a fixed order (queue first: it decides whether to scale). */
export function signalVerdicts(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
): SignalVerdict[] {
  const queue = queueRule.vote(spec, usable, context, undefined);
  const gate = latencyGate(spec, queue, context);
  return [queue, ...AFTER_QUEUE.map((rule) => rule.vote(spec, usable, context, gate))];
}
