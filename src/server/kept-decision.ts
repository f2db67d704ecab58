import type { ScaledObjectIdentity, ScalerSpec } from "../config/spec.ts";
import { decide } from "../policy/decide.ts";
import type { Decision } from "../policy/decision.ts";
import { DEMAND_SIGNALS } from "../policy/demand/index.ts";
import type { PolicyMemory } from "../policy/memory.ts";
import type { SignalReadings } from "../readings/signal-table.ts";

/** Everything a decision was made from: decide() on these gives the same decision again. */
export interface DecisionInputs {
  readonly spec: ScalerSpec;
  readonly readings: SignalReadings;
  readonly nowMs: number;
  /** The policy memory the decision started from (undefined for a ScaledObject's first). */
  readonly memory: PolicyMemory | undefined;
}

/**
 * What the server keeps of a ScaledObject's latest decision until the next one: the figures that
 * KEDA's calls and a /metrics scrape read, and the inputs it was made from. Its verdicts, rules
 * and sentences are made again from those inputs when /debug/decisions asks: decide() is pure, so
 * they come out exactly as they would have. (The book decides without words in the first place:
 * decide()'s `words` option.)
 *
 * Why not keep the Decision: it is a hundred-odd small objects and strings (~5 KB) that live until
 * the ScaledObject's next poll, seconds later, so every one of them is copied by a young-generation
 * collection and moved to the old generation by the next, on the thread that answers KEDA.
 * At 4,000 ScaledObjects that kept the scaler's scavenges at ~6 ms against ~2.5 ms when nothing
 * was kept (docs/reliability.md). The inputs cost one readings record (its readings are the
 * source cache's own), one policy memory kept one poll longer, and this object.
 *
 * The book keeps one of these per ScaledObject for the entry's life and overwrites it with each
 * new decision (keepDecision's `into`), for the same reason: a new one per decision, with its
 * demand array, its inputs and the boxes of its fractional figures, was ~300 bytes that every
 * poll left for the next young-generation collection to move to the old generation. So a
 * reader sees the ScaledObject's latest decision, not the one current when it took the object:
 * KEDA's answers and each /debug/decisions entry read what they need in one synchronous go; a
 * /metrics scrape, written over many turns of the event loop, can show one ScaledObject's
 * series from two successive decisions.
 */
export interface KeptDecision {
  readonly scaledObject: ScaledObjectIdentity;
  readonly atMs: number;
  readonly available: boolean;
  readonly desiredReplicas: number;
  readonly metricValue: number;
  readonly active: boolean;
  readonly floorReplicas: number;
  readonly loadReplicas: number;
  readonly drivingFactor: Decision["drivingFactor"];
  /** Each DEMAND_SIGNALS entry's demand in replicas, NaN where that signal voted none. */
  readonly demand: readonly number[];
  /** Set exactly when `available` is false: the decision's summary, the error KEDA is sent. */
  readonly unavailableReason: string | undefined;
  readonly inputs: DecisionInputs;
}

/**
 * Keeps a decision made from `inputs`: its figures, and the inputs to make the rest again. With
 * `into`, the ScaledObject's previous kept decision, that object is overwritten field by field
 * and returned: no new object, array or box for a figure.
 */
export function keepDecision(decision: Decision, inputs: DecisionInputs, into?: KeptDecision): KeptDecision {
  const kept = (into ?? newKeptDecision(decision, inputs)) as Writable<KeptDecision>;
  kept.scaledObject = decision.scaledObject;
  kept.atMs = decision.atMs;
  kept.available = decision.available;
  kept.desiredReplicas = decision.desiredReplicas;
  kept.metricValue = decision.metricValue;
  kept.active = decision.active;
  kept.floorReplicas = decision.floorReplicas;
  kept.loadReplicas = decision.loadReplicas;
  kept.drivingFactor = decision.drivingFactor;
  const demand = kept.demand as number[];
  demand.fill(Number.NaN);
  for (const verdict of decision.signals) {
    const index = DEMAND_SIGNALS.indexOf(verdict.signal);
    if (index >= 0 && verdict.demandReplicas !== undefined) demand[index] = verdict.demandReplicas;
  }
  kept.unavailableReason = decision.available ? undefined : decision.summary;
  const keptInputs = kept.inputs as Writable<DecisionInputs>;
  keptInputs.spec = inputs.spec;
  keptInputs.readings = inputs.readings;
  keptInputs.nowMs = inputs.nowMs;
  keptInputs.memory = inputs.memory;
  return kept;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** A ScaledObject's first kept decision, every field present from the start (one object shape). */
function newKeptDecision(decision: Decision, inputs: DecisionInputs): KeptDecision {
  return {
    scaledObject: decision.scaledObject,
    atMs: decision.atMs,
    available: decision.available,
    desiredReplicas: decision.desiredReplicas,
    metricValue: decision.metricValue,
    active: decision.active,
    floorReplicas: decision.floorReplicas,
    loadReplicas: decision.loadReplicas,
    drivingFactor: decision.drivingFactor,
    // A plain array of doubles: smaller on the heap than a typed array of eight.
    demand: DEMAND_SIGNALS.map(() => Number.NaN),
    unavailableReason: undefined,
    inputs: { ...inputs },
  };
}

/** The decision made from these inputs, in words: its verdicts' notes and its summary. */
export function decisionInWords(inputs: DecisionInputs): Decision {
  return decide(inputs.spec, inputs.readings, inputs.nowMs, inputs.memory).decision;
}

/** The whole decision again, with its verdicts, rules and summary, made from its inputs. */
export function fullDecision(kept: KeptDecision): Decision {
  return decisionInWords(kept.inputs);
}
