import type { ScalerSpec } from "../config/spec.ts";
import type { SignalKey } from "../readings/signal-table.ts";
import { type CapacityMemory, learnCapacity } from "./capacity.ts";
import type { RuleFired } from "./decision.ts";
import { durationMs } from "./duration.ts";
import { type UsableReadings, usableValue } from "./usable.ts";
import type { Replicas } from "./workload.ts";

/**
 * Nothing waits, as far as fresh readings tell: the vLLM waiting count is fresh and zero, and so
 * is the queue's backlog when the queue is read. Held or failed readings are not calm.
 */
function calm(usable: UsableReadings): boolean {
  const zero = (key: SignalKey) => usable[key]?.state === "fresh" && usableValue(usable[key]) === 0;
  return zero("vllmWaiting") && (usable.queueBacklog === undefined || zero("queueBacklog"));
}

/**
 * The spec the demand signals plan with: the drain rule's requests per second per replica
 * replaced by the learned one (see capacity.ts for the evidence it accepts).
 */
export function applyLearnedCapacity(
  spec: ScalerSpec,
  usable: UsableReadings,
  replicas: Replicas,
  memory: CapacityMemory | undefined,
  nowMs: number,
): { spec: ScalerSpec; memory: CapacityMemory | undefined; reasons: RuleFired[] } {
  const drains = spec.queue.enabled && spec.queue.mode === "drain";
  if (!drains || !spec.capacity.learning) return { spec, memory: undefined, reasons: [] };
  const fresh = (key: SignalKey) => (usable[key]?.state === "fresh" ? usableValue(usable[key]) : undefined);
  const { prefillTokensPerSecond: prefill, decodeTokensPerSecond: decode } = spec.capacity;
  const learned = learnCapacity(
    {
      enabled: true,
      prior: spec.queue.requestsPerSecondPerReplica,
      tokenRates: prefill > 0 && decode > 0 ? { prefill, decode } : undefined,
      minFactor: spec.capacity.minFactor,
      maxFactor: spec.capacity.maxFactor,
      timeConstantMs: spec.capacity.timeConstantSeconds * 1000,
      rateWindowMs: durationMs(spec.sources.rateWindow),
    },
    {
      servedPerSecond: spec.ttft.enabled ? fresh("ttftRequestsPerSecond") : undefined,
      readyReplicas: replicas.ready,
      waitingAtPods: fresh("vllmWaiting"),
      promptTokensPerSecond: fresh("promptTokensPerSecond"),
      generationTokensPerSecond: fresh("generationTokensPerSecond"),
      calm: calm(usable),
    },
    memory,
    nowMs,
  );
  if (learned.note === undefined || learned.perReplica === spec.queue.requestsPerSecondPerReplica)
    return { spec, memory: learned.memory, reasons: [] };
  return {
    spec: { ...spec, queue: { ...spec.queue, requestsPerSecondPerReplica: learned.perReplica } },
    memory: learned.memory,
    reasons: [{ rule: "learned-capacity", note: learned.note }],
  };
}
