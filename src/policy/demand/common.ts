import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalKey } from "../../readings/signal-table.ts";
import type { DemandSignal, SignalVerdict } from "../decision.ts";
import { round2 } from "../format.ts";
import { describeFailure, type UsableReading, type UsableReadings, usableValue } from "../usable.ts";

/**
 * Per-signal demand: each signal's answer to "how many replicas carry the load I see, at 100 %
 * utilisation?". Queue demand is absolute (it counts requests); the others are relative to the
 * replicas that are ready now (they measure how hard those are working). This file holds what
 * every demand rule shares; each rule lives in a file of its own beside it.
 */

export interface DemandContext {
  /** Ready serving replicas, when kube-state-metrics is read. */
  readonly readyReplicas: number | undefined;
  /** Requests waiting (the larger of Service Bus active messages and vLLM waiting), when every queue reading is usable. */
  readonly backlog: number | undefined;
  /** TTFT P95 came back NaN: no request finished prefill in the rate window. */
  readonly ttftWithoutSamples?: boolean;
  /** End-to-end latency P95 came back NaN: no request finished in the rate window. */
  readonly e2eWithoutSamples?: boolean;
  /**
   * Whether the verdicts carry their notes (the default). Without (false), the note of a verdict
   * that voted or abstained is an empty string (a failed one keeps its own: the error KEDA is sent
   * when every signal is down is made of those) and every figure is the same: decide()'s `words`
   * option.
   */
  readonly words?: boolean;
}

/**
 * A verdict's note, written only when the decision is in words (DemandContext.words): a note
 * formats several figures, and the server decides without them on the path that answers KEDA.
 */
export function say(context: Pick<DemandContext, "words">, note: () => string): string {
  return context.words === false ? "" : note();
}

/** Whether the latency-type signals (TTFT, token throughput, busy-time GPU) may vote now, and why (not). */
export interface LatencyGate {
  readonly open: boolean;
  readonly reason: string;
}

/**
 * One demand signal: how it votes, whether its demand scales the ready replicas, and whether it
 * says the workload is active (KEDA's activation: while nothing does, a running target may go to
 * zero after the cooldown).
 */
export interface DemandRule {
  readonly signal: DemandSignal;
  /** Its demand scales the ready replicas: capacity on its way must not be asked for twice. */
  readonly readyRelative: boolean;
  /** `gate` is undefined for the queue (it decides the gate) and when whether anything waits is unknown. */
  vote(
    spec: ScalerSpec,
    usable: UsableReadings,
    context: DemandContext,
    gate: LatencyGate | undefined,
  ): SignalVerdict;
  keepsActive(spec: ScalerSpec, usable: UsableReadings, verdict: SignalVerdict): boolean;
}

/** The default activation of a signal: it asks for replicas. */
export function votesDemand(verdict: SignalVerdict): boolean {
  return (verdict.demandReplicas ?? 0) > 0;
}

/**
 * A per-signal activation threshold: with one set, the signal keeps the target active while its
 * reading is above it (KEDA's activationThreshold); unset, while it asks for replicas.
 */
export function aboveActivation(
  reading: UsableReading | undefined,
  threshold: number | undefined,
  verdict: SignalVerdict,
): boolean {
  if (threshold === undefined) return votesDemand(verdict);
  const value = usableValue(reading);
  return value !== undefined && value > threshold;
}

export function verdict(
  signal: DemandSignal,
  status: SignalVerdict["status"],
  readings: SignalVerdict["readings"],
  note: string,
  demandReplicas?: number,
): SignalVerdict {
  return demandReplicas === undefined
    ? { signal, status, readings, note }
    : { signal, status, readings, note, demandReplicas };
}

export type InputState =
  | { status: "voted" | "held"; readings: SignalVerdict["readings"]; missing: string }
  | SignalVerdict
  | undefined;

/**
 * The part of a verdict that says whether its inputs were fresh, held or failed. A signal with
 * several inputs (the queue) votes with those that work: a partial sum is a lower bound, and the
 * decision never goes down while any reading is missing. It fails only when all inputs failed.
 * Undefined: no input is read at all.
 */
export function inputState(
  signal: DemandSignal,
  inputs: readonly (readonly [SignalKey, UsableReading | undefined])[],
): InputState {
  // One pass, no intermediate arrays: this runs for every signal of every decision.
  let present = 0;
  let failed = 0;
  let failures = "";
  let held = false;
  const readings: Partial<Record<SignalKey, number>> = {};
  for (const [key, reading] of inputs) {
    if (reading === undefined) continue;
    present++;
    if (reading.state === "failed") {
      failed++;
      failures += `${failures === "" ? "" : "; "}${key}: ${describeFailure(reading.failure)}`;
      continue;
    }
    readings[key] = reading.value;
    if (reading.state === "held") held = true;
  }
  if (present === 0) return undefined;
  if (failed === present) return verdict(signal, "failed", {}, failures);
  return {
    status: held ? "held" : "voted",
    readings,
    missing: failed > 0 ? ` [without ${failures}]` : "",
  };
}

/** A verdict that abstains, its note written only in words (say). */
export function abstain(
  signal: DemandSignal,
  readings: SignalVerdict["readings"],
  context: Pick<DemandContext, "words">,
  note: () => string,
): SignalVerdict {
  return verdict(signal, "abstained", readings, say(context, note));
}

export function disabled(signal: DemandSignal, enabled: boolean): SignalVerdict {
  return verdict(
    signal,
    "disabled",
    {},
    enabled ? "no reading (no source configured for it)" : "switched off",
  );
}

export function heldSuffix(
  status: "voted" | "held",
  usable: UsableReadings,
  keys: readonly SignalKey[],
): string {
  if (status !== "held") return "";
  const held = keys
    .map((key) => [key, usable[key]] as const)
    .filter(([, r]) => r?.state === "held")
    .map(([key, r]) => (r?.state === "held" ? `${key} (${describeFailure(r.failure)})` : key));
  return ` [last good value held: ${held.join(", ")}]`;
}

/** demand = ready × ratio, with the ratio bounded per step. Without ready replicas there is nothing to scale. */
export function proportional(
  signal: DemandSignal,
  status: "voted" | "held",
  readings: SignalVerdict["readings"],
  context: DemandContext,
  ratio: number,
  maxStep: number,
  describe: (rest: string) => string,
): SignalVerdict {
  const ready = context.readyReplicas;
  if (ready === undefined)
    return abstain(signal, readings, context, () =>
      describe(": ready replicas unknown (kube-state-metrics)"),
    );
  if (ready === 0)
    return abstain(signal, readings, context, () => describe(": no ready replica to scale from"));
  const bounded = Math.min(ratio, maxStep);
  const demand = ready * bounded;
  return verdict(
    signal,
    status,
    { ...readings, replicasReady: ready },
    say(context, () => {
      const bound = bounded < ratio ? ` (step bound ×${maxStep})` : "";
      const held = status === "held" ? " [last good value held]" : "";
      return describe(` → ${ready} ready × ${round2(bounded)}${bound} = ${round2(demand)}${held}`);
    }),
    demand,
  );
}
