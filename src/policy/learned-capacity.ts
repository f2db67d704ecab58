import type { ScalerSpec } from "../config/spec.ts";
import type { SignalKey } from "../readings/signal-table.ts";
import { type CapacityMemory, learnCapacity, type TokenRates } from "./capacity.ts";
import type { RuleFired } from "./decision.ts";
import { durationMs } from "./duration.ts";
import { type UsableReadings, usableValue } from "./usable.ts";
import type { Replicas } from "./workload.ts";

/**
 * Share of the SLA a backlog may take to drain at the current inflow and still count as in
 * flight rather than queued. Service Bus counts a message active until it is completed, so the
 * messages consumers hold (prefetched, being served) are always a few seconds of inflow; a queue
 * building is many times that.
 */
const IN_FLIGHT_SLA_SHARE = 0.1;

/**
 * Nothing waits, as far as fresh readings tell: the vLLM waiting count is fresh and zero, and the
 * queue's backlog, when the queue is read, is fresh and either zero or what the inflow renews
 * within a tenth of the SLA (messages in flight). Held or failed readings are not calm.
 */
function calm(usable: UsableReadings, latencySlaSeconds: number): boolean {
  const fresh = (key: SignalKey) => (usable[key]?.state === "fresh" ? usableValue(usable[key]) : undefined);
  if (fresh("vllmWaiting") !== 0) return false;
  if (usable.queueBacklog === undefined) return true;
  const backlog = fresh("queueBacklog");
  if (backlog === undefined) return false;
  if (backlog === 0) return true;
  const inflow = fresh("ttftRequestsPerSecond");
  return inflow !== undefined && inflow > 0 && backlog <= inflow * latencySlaSeconds * IN_FLIGHT_SLA_SHARE;
}

/**
 * The token rates the drain rule plans with, when it does: the queue in drain mode, capacity
 * learning on, both rates set, and TTFT read (its request rate turns token counters into tokens
 * per request). Undefined otherwise: requestsPerSecondPerReplica is then the capacity's prior.
 */
export function plannedTokenRates(spec: ScalerSpec): TokenRates | undefined {
  const { learning, prefillTokensPerSecond: prefill, decodeTokensPerSecond: decode } = spec.capacity;
  const drains = spec.queue.enabled && spec.queue.mode === "drain";
  return drains && learning && spec.ttft.enabled && prefill > 0 && decode > 0
    ? { prefill, decode }
    : undefined;
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
  const learned = learnCapacity(
    {
      enabled: true,
      prior: spec.queue.requestsPerSecondPerReplica,
      tokenRates: plannedTokenRates(spec),
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
      calm: calm(usable, spec.queue.latencySlaSeconds),
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
