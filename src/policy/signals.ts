import type { ScalerSpec } from "../config/spec.ts";
import type { SignalKey } from "../readings/signal-table.ts";
import type { DemandSignal, SignalVerdict } from "./decision.ts";
import { describeFailure, type UsableReading, type UsableReadings, usableValue } from "./fail-static.ts";
import { withHeadroom } from "./stability.ts";

/**
 * Per-signal demand: each signal's answer to "how many replicas carry the load I see, at 100 %
 * utilisation?". Queue demand is absolute (it counts requests); the others are relative to the
 * replicas that are ready now (they measure how hard those are working).
 */

export interface DemandContext {
  /** Ready serving replicas, when kube-state-metrics is read. */
  readonly readyReplicas: number | undefined;
  /** Requests waiting (Service Bus active messages + vLLM waiting), when every queue reading is usable. */
  readonly backlog: number | undefined;
  /** TTFT P95 came back NaN: no request finished prefill in the rate window. */
  readonly ttftWithoutSamples?: boolean;
}

/** Whether the latency-type signals (TTFT, token throughput, busy-time GPU) may vote now, and why (not). */
export interface LatencyGate {
  readonly open: boolean;
  readonly reason: string;
}

/** Signals whose demand scales the ready replicas: capacity on its way must not be asked for twice. */
export const READY_RELATIVE: ReadonlySet<DemandSignal> = new Set(["ttft", "kvCache", "gpu", "tokens"]);

const round2 = (n: number): string => (Math.round(n * 100) / 100).toString();

function verdict(
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

/**
 * The part of a verdict that says whether its inputs were fresh, held or failed. A signal with
 * several inputs (the queue) votes with those that work: a partial sum is a lower bound, and the
 * decision never goes down while any reading is missing. It fails only when all inputs failed.
 */
function inputState(
  signal: DemandSignal,
  inputs: readonly (readonly [SignalKey, UsableReading | undefined])[],
):
  | { status: "voted" | "held"; readings: SignalVerdict["readings"]; missing: string }
  | SignalVerdict
  | undefined {
  const present = inputs.filter(([, reading]) => reading !== undefined);
  if (present.length === 0) return undefined;
  const failed = present.filter(([, reading]) => reading?.state === "failed");
  const failures = failed
    .map(([key, r]) => (r && r.state === "failed" ? `${key}: ${describeFailure(r.failure)}` : key))
    .join("; ");
  if (failed.length === present.length) return verdict(signal, "failed", {}, failures);
  const readings: SignalVerdict["readings"] = {};
  let held = false;
  for (const [key, reading] of present) {
    const value = usableValue(reading);
    if (value !== undefined) readings[key] = value;
    if (reading?.state === "held") held = true;
  }
  return {
    status: held ? "held" : "voted",
    readings,
    missing: failed.length > 0 ? ` [without ${failures}]` : "",
  };
}

function disabled(signal: DemandSignal, enabled: boolean): SignalVerdict {
  return verdict(
    signal,
    "disabled",
    {},
    enabled ? "no reading (no source configured for it)" : "switched off",
  );
}

function heldSuffix(status: "voted" | "held", usable: UsableReadings, keys: readonly SignalKey[]): string {
  if (status !== "held") return "";
  const held = keys
    .map((key) => [key, usable[key]] as const)
    .filter(([, r]) => r?.state === "held")
    .map(([key, r]) => (r?.state === "held" ? `${key} (${describeFailure(r.failure)})` : key));
  return ` [last good value held: ${held.join(", ")}]`;
}

export function queueDemand(spec: ScalerSpec, usable: UsableReadings): SignalVerdict {
  if (!spec.queue.enabled) return disabled("queue", false);
  const state = inputState("queue", [
    ["queueBacklog", usable.queueBacklog],
    ["vllmWaiting", usable.vllmWaiting],
  ]);
  if (!state) return disabled("queue", true);
  if ("signal" in state) return state;
  const backlog = (state.readings.queueBacklog ?? 0) + (state.readings.vllmWaiting ?? 0);
  const caveats = heldSuffix(state.status, usable, ["queueBacklog", "vllmWaiting"]) + state.missing;
  if (spec.queue.mode === "perReplica") {
    const demand = backlog / spec.queue.messagesPerReplica;
    return verdict(
      "queue",
      state.status,
      state.readings,
      `${backlog} waiting / ${spec.queue.messagesPerReplica} per replica → ${round2(demand)}${caveats}`,
      demand,
    );
  }
  // Drain: carry what keeps arriving and clear what already waits within the SLA. The TTFT
  // histogram's request rate is the served rate, the best inflow figure a pull queue offers.
  const inflow = spec.ttft.enabled ? usableValue(usable.ttftRequestsPerSecond) : undefined;
  const perReplica = spec.queue.requestsPerSecondPerReplica;
  const sla = spec.queue.latencySlaSeconds;
  const demand = ((inflow ?? 0) + backlog / sla) / perReplica;
  const inflowText = inflow === undefined ? "inflow unknown" : `${round2(inflow)} req/s inflow`;
  return verdict(
    "queue",
    state.status,
    inflow === undefined ? state.readings : { ...state.readings, ttftRequestsPerSecond: inflow },
    `(${inflowText} + ${backlog} waiting drained in ${sla} s) at ${perReplica} req/s per replica → ${round2(demand)}${caveats}`,
    demand,
  );
}

export function ttftDemand(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
  gate: LatencyGate | undefined,
): SignalVerdict {
  if (!spec.ttft.enabled) return disabled("ttft", false);
  if (context.ttftWithoutSamples)
    return verdict("ttft", "abstained", {}, "P95 is NaN: no request finished prefill in the window");
  const state = inputState("ttft", [["ttftP95Seconds", usable.ttftP95Seconds]]);
  if (!state) return disabled("ttft", true);
  if ("signal" in state) return state;
  const p95 = state.readings.ttftP95Seconds ?? 0;
  const rate = usableValue(usable.ttftRequestsPerSecond);
  const readings = rate === undefined ? state.readings : { ...state.readings, ttftRequestsPerSecond: rate };
  const target = spec.ttft.targetSeconds;
  if (rate === undefined)
    return verdict(
      "ttft",
      "abstained",
      readings,
      "request rate unknown: cannot tell whether the P95 has samples",
    );
  if (rate < spec.ttft.minRequestsPerSecond)
    return verdict(
      "ttft",
      "abstained",
      readings,
      `${round2(rate)} req/s is below ${spec.ttft.minRequestsPerSecond}: too few samples for a P95`,
    );
  if (p95 <= target)
    return verdict("ttft", "abstained", readings, `P95 ${round2(p95)} s within the ${target} s target`);
  if (gate && !gate.open)
    return verdict("ttft", "abstained", readings, `P95 ${round2(p95)} s over target, but ${gate.reason}`);
  return proportional(
    "ttft",
    state.status,
    readings,
    context,
    p95 / target,
    spec.stability.maxStepFactor,
    (r) => `P95 ${round2(p95)} s vs ${target} s target`.concat(r),
  );
}

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

/**
 * DCGM_FI_DEV_GPU_UTIL (and Azure Monitor's node GPU percentage, derived from it) is the share of
 * time any kernel runs: a vLLM replica decoding one sequence reads close to 100 %. It saturates
 * instead of measuring load, so ready × utilisation would ask for 43 % more replicas on every
 * poll at any load. DCGM_FI_PROF_GR_ENGINE_ACTIVE measures how busy the engine is, and scales.
 */
export function gpuMeasuresLoad(spec: ScalerSpec): boolean {
  return spec.sources.gpuSource === "dcgm" && spec.sources.gpuMetric === "grEngineActive";
}

export function gpuDemand(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
  gate: LatencyGate | undefined,
): SignalVerdict {
  if (!spec.gpu.enabled) return disabled("gpu", false);
  const state = inputState("gpu", [["gpuUtilisation", usable.gpuUtilisation]]);
  if (!state) return disabled("gpu", true);
  if ("signal" in state) return state;
  const utilisation = state.readings.gpuUtilisation ?? 0;
  const target = spec.gpu.target;
  const describe = (rest: string) =>
    `GPU ${round2(utilisation * 100)} % vs ${round2(target * 100)} % full`.concat(rest);
  if (!gpuMeasuresLoad(spec)) {
    // A busy-time metric is a guardrail: it may confirm a shortage the queue reports, never start one.
    if (!gate)
      return verdict(
        "gpu",
        "abstained",
        state.readings,
        describe(
          ": busy-time GPU utilisation needs the queue to say whether (or set gpuMetric=grEngineActive)",
        ),
      );
    if (!gate.open) return verdict("gpu", "abstained", state.readings, describe(`, but ${gate.reason}`));
  }
  return proportional(
    "gpu",
    state.status,
    state.readings,
    context,
    utilisation / target,
    gpuMeasuresLoad(spec) ? Number.POSITIVE_INFINITY : spec.stability.maxStepFactor,
    describe,
  );
}

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
    return verdict(
      "tokens",
      "abstained",
      state.readings,
      `${round2(perPod)} tok/s per pod, but ${gate.reason}`,
    );
  if (perPod >= floor)
    return verdict(
      "tokens",
      "abstained",
      state.readings,
      `${round2(perPod)} tok/s per pod is at or above ${floor}`,
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

/** demand = ready × ratio, with the ratio bounded per step. Without ready replicas there is nothing to scale. */
function proportional(
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
    return verdict(signal, "abstained", readings, describe(": ready replicas unknown (kube-state-metrics)"));
  if (ready === 0)
    return verdict(signal, "abstained", readings, describe(": no ready replica to scale from"));
  const bounded = Math.min(ratio, maxStep);
  const demand = ready * bounded;
  const bound = bounded < ratio ? ` (step bound ×${maxStep})` : "";
  const held = status === "held" ? " [last good value held]" : "";
  return verdict(
    signal,
    status,
    { ...readings, replicasReady: ready },
    describe(` → ${ready} ready × ${round2(bounded)}${bound} = ${round2(demand)}${held}`),
    demand,
  );
}

/**
 * Latency and throughput read "overloaded" on an idle queue too (long prompts, a request caught in
 * prefill, little load per pod): by default they vote only while the queue itself asks for more
 * replicas than are ready — the queue decides whether, latency how much.
 * Undefined: whether anything waits is unknown.
 */
export function latencyGate(
  spec: ScalerSpec,
  queue: SignalVerdict,
  context: DemandContext,
): LatencyGate | undefined {
  const mode = spec.overload.latencyGate;
  if (mode === "none") return { open: true, reason: "latencyGate=none" };
  const ready = context.readyReplicas;
  if (mode === "queue" && queue.demandReplicas !== undefined && ready !== undefined) {
    const wanted = withHeadroom(queue.demandReplicas, spec.headroom.targetUtilisation);
    return wanted > ready
      ? { open: true, reason: `the queue asks for ${wanted} with ${ready} ready` }
      : { open: false, reason: `the queue asks for ${wanted} with ${ready} ready (latencyGate=queue)` };
  }
  if (context.backlog === undefined) return undefined;
  return context.backlog > 0
    ? { open: true, reason: `${context.backlog} waiting` }
    : { open: false, reason: "nothing waits" };
}

/** Every signal's verdict, in a fixed order (queue first: it decides whether to scale). */
export function signalVerdicts(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
): SignalVerdict[] {
  const queue = queueDemand(spec, usable);
  const gate = latencyGate(spec, queue, context);
  return [
    queue,
    ttftDemand(spec, usable, context, gate),
    kvCacheDemand(spec, usable, context),
    gpuDemand(spec, usable, context, gate),
    tokensDemand(spec, usable, context, gate),
  ];
}
