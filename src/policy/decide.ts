import type { ScalerSpec } from "../config/spec.ts";
import type { SignalReadings } from "../readings/signal-table.ts";
import { applyActivation, reasonToRun } from "./activation.ts";
import { applyMode } from "./advisory.ts";
import type { Count, Step } from "./count.ts";
import type { Decision, RuleFired, SignalVerdict } from "./decision.ts";
import { activeSignals, signalVerdicts } from "./demand/index.ts";
import {
  applyFailStatic,
  brokenReadings,
  everySignalDown,
  lastSignalAt,
  neverZeroOnMissingData,
  noScaleDownOnMissingData,
} from "./fail-static.ts";
import type { TrendMemory } from "./forecast.ts";
import { fuse } from "./fuse.ts";
import { applyHeadroom } from "./headroom.ts";
import { applyHpaTolerance } from "./hpa-tolerance.ts";
import { applyScaleDownBand } from "./hysteresis.ts";
import { leadTimeFor } from "./lead-time.ts";
import { applyLearnedCapacity } from "./learned-capacity.ts";
import { applyLimits } from "./limits.ts";
import type { PolicyMemory } from "./memory.ts";
import { interpretIdleReadings } from "./no-pods.ts";
import { applyForecast, historyOf } from "./provision-ahead.ts";
import { applyRole } from "./role.ts";
import { applyScaleDownDelay, type RecentAnswer } from "./scale-down-delay.ts";
import { screenReadings } from "./screen.ts";
import { smoothUtilisation } from "./smoothing.ts";
import { summarise } from "./summary.ts";
import { usableValue } from "./usable.ts";
import { type FloorAt, raiseToWarmFloor, warmFloorAt } from "./warm-floor.ts";
import { backlogOf, replicasOf } from "./workload.ts";

export type { PolicyMemory } from "./memory.ts";

export interface DecideOptions {
  /**
   * Whether the decision is written in words (the default): each voting or abstaining verdict's
   * note and the summary. Without them those are empty strings; every figure, every rule with its
   * note, a failed verdict's note and the memory are the same (a property test holds it). The
   * server decides without words on the path that answers KEDA, and makes the words again from the
   * same inputs when someone reads them: they were about a tenth of a decision's time and of what
   * it allocated (docs/reliability.md).
   */
  readonly words?: boolean;
}

export interface DecideResult {
  readonly decision: Decision;
  readonly memory: PolicyMemory;
}

interface NoAnswer {
  readonly spec: ScalerSpec;
  readonly nowMs: number;
  readonly verdicts: readonly SignalVerdict[];
  readonly reasons: readonly RuleFired[];
  readonly floor: FloorAt;
  /** Why there is no answer, for the summary. */
  readonly why: string;
  readonly memory: PolicyMemory;
}

/** UNAVAILABLE to KEDA, whose fallback replicas then apply. */
function unavailable(input: NoAnswer): DecideResult {
  const decision: Decision = {
    scaledObject: input.spec.scaledObject,
    atMs: input.nowMs,
    role: input.spec.target.role,
    mode: input.spec.target.mode,
    available: false,
    desiredReplicas: input.memory.lastDesired ?? 0,
    metricValue: 0,
    active: false,
    loadReplicas: 0,
    floorReplicas: input.floor.replicas,
    ...(input.floor.source !== "none" ? { floorReason: input.floor.reason } : {}),
    drivingFactor: "none",
    signals: input.verdicts,
    rules: input.reasons,
    summary: `No answer (UNAVAILABLE, KEDA's fallback applies): ${input.why}.`,
  };
  return { decision, memory: input.memory };
}

/**
 * The whole decision, as a pipeline of stages (each a function in a file of its own that returns
 * its own reasons):
 *
 *   lead time (lead-time.ts), seasons from the history (provision-ahead.ts) → screen (bad and stale values fail; history passes) → no ready pods
 *   → fail-static per reading → smoothing → learned capacity → per-signal demand (demand/)
 *   → every signal down? (fail-static: hold, then UNAVAILABLE)
 *   → fusion → forecast (provision-ahead.ts) → headroom → hysteresis → no scale-down on missing data (fail-static)
 *   → warm floor → never zero on missing data (fail-static) → limits → scale-down delay
 *   → role (placeholders for role=headroom) → HPA tolerance → activation → mode (advisory)
 *
 * Pure: the instant comes in as `nowMs`; no clock, no I/O, no environment. Callers carry the
 * returned memory to the next poll through a Decider (decider.ts).
 */
export function decide(
  spec: ScalerSpec,
  readings: SignalReadings,
  nowMs: number,
  memory: PolicyMemory = {},
  options: DecideOptions = {},
): DecideResult {
  const words = options.words !== false;
  const reasons: RuleFired[] = [];
  const take = (step: Step): Count => {
    reasons.push(...step.reasons);
    return step.count;
  };

  const lead = leadTimeFor(spec, readings, nowMs);
  const history = historyOf(readings, spec.forecast.seasons, lead.windowFactor);
  const { seasons } = history;
  const screened = screenReadings(spec, readings, nowMs);
  reasons.push(...screened.reasons);
  const idle = interpretIdleReadings(screened.readings, {
    ttft: spec.ttft.minRequestsPerSecond,
    e2e: spec.e2eLatency.minRequestsPerSecond,
  });
  reasons.push(...idle.reasons);
  const held = applyFailStatic(
    idle.readings,
    memory.lastGood ?? {},
    nowMs,
    spec.failStatic.holdSeconds * 1000,
  );
  const { usable, smoothed } = smoothUtilisation(
    held.usable,
    memory.smoothed ?? {},
    nowMs,
    spec.stability.utilisationSmoothingSeconds * 1000,
  );
  const replicas = replicasOf(usable);
  const backlog = backlogOf(usable);
  const capacity = applyLearnedCapacity(spec, usable, replicas, memory.capacity, nowMs);
  reasons.push(...capacity.reasons);
  const verdicts = signalVerdicts(capacity.spec, usable, {
    readyReplicas: replicas.ready,
    backlog: backlog.exact,
    ttftWithoutSamples: idle.ttftWithoutSamples,
    e2eWithoutSamples: idle.e2eWithoutSamples,
    words,
  });

  const lastSignalAtMs = lastSignalAt(usable, nowMs, memory.lastSignalAtMs);
  const floor = warmFloorAt(spec.warmFloor, nowMs);
  const previous = memory.lastDesired ?? replicas.current;
  const broken = brokenReadings(usable);
  const utilisation = spec.headroom.targetUtilisation;
  let trend: TrendMemory = { recent: [] };
  const remember = (lastDesired: number | undefined, recent?: readonly RecentAnswer[]): PolicyMemory => {
    // Built key by key rather than by spreading optional parts: this runs on every decision.
    const next: { -readonly [K in keyof PolicyMemory]: PolicyMemory[K] } = { lastGood: held.lastGood };
    if (capacity.memory) next.capacity = capacity.memory;
    if (trend.recent.length > 0) next.inflowRecent = trend.recent;
    if (trend.risingSinceMs !== undefined) next.inflowRisingSinceMs = trend.risingSinceMs;
    if (lastDesired !== undefined) next.lastDesired = lastDesired;
    if (lastSignalAtMs !== undefined) next.lastSignalAtMs = lastSignalAtMs;
    if (recent && recent.length > 0) next.recent = recent;
    for (const _ in smoothed) {
      next.smoothed = smoothed;
      break;
    }
    return next;
  };
  const noAnswer = (why: string, next: PolicyMemory) =>
    unavailable({ spec, nowMs, verdicts, reasons, floor, why, memory: next });

  const down = everySignalDown({
    verdicts,
    nowMs,
    lastSignalAtMs,
    lastDesired: memory.lastDesired,
    floor: floor.replicas,
    unavailableAfterSeconds: spec.failStatic.unavailableAfterSeconds,
  });
  if (down && "unavailable" in down) return noAnswer(down.unavailable, remember(memory.lastDesired));

  let count: Count;
  let load = 0;
  let forecastRaised = false;
  if (down) count = take(down);
  else {
    // What is already asked for: our last answer, or more if the HPA was told more (the
    // tolerance step reports above the answer) or runs more.
    const askedFor =
      previous === undefined && replicas.current === undefined
        ? undefined
        : Math.max(previous ?? 0, replicas.current ?? 0);
    const fused = fuse(verdicts, replicas, askedFor, utilisation);
    reasons.push(...fused.reasons);
    const ahead = applyForecast(
      capacity.spec,
      usable,
      seasons,
      {
        recent: memory.inflowRecent ?? [],
        ...(memory.inflowRisingSinceMs !== undefined ? { risingSinceMs: memory.inflowRisingSinceMs } : {}),
      },
      fused.load,
      replicas.ready,
      nowMs,
      { ...lead, windowFactor: history.windowFactor },
    );
    reasons.push(...ahead.reasons);
    trend = ahead.trend;
    forecastRaised = ahead.raised;
    load = ahead.load;
    count = applyHeadroom(ahead.raised ? { load, winner: "forecast" } : fused, utilisation);
    count = take(applyScaleDownBand(count, previous, load, utilisation, spec.stability.scaleDownBand));
    count = take(noScaleDownOnMissingData(count, previous, broken));
  }

  count = take(raiseToWarmFloor(count, floor.replicas));
  const zeroOnMissingData = neverZeroOnMissingData(count, previous, verdicts);
  if (zeroOnMissingData !== undefined) return noAnswer(zeroOnMissingData, remember(memory.lastDesired));
  const servingDesired = count.desired;
  count = take(applyLimits(spec, count));
  const delay = applyScaleDownDelay(
    count,
    memory.recent ?? [],
    nowMs,
    spec.stability.scaleDownDelaySeconds * 1000,
  );
  count = take(delay);

  const toRun = reasonToRun(spec, {
    floor: floor.replicas,
    activeSignals: activeSignals(spec, usable, verdicts),
    backlog,
    running: usableValue(usable.vllmRunning),
    missingData: broken.length > 0,
    holding: count.holding,
    forecast: forecastRaised,
    previous,
    current: replicas.current,
  });
  const role = applyRole(spec, { desired: count.desired, servingDesired, reasonToRun: toRun });
  reasons.push(...role.reasons);
  const tolerance = applyHpaTolerance(spec, role.answer, replicas.current);
  reasons.push(...tolerance.reasons);
  const activation = applyActivation(spec, {
    answer: role.answer,
    metricValue: tolerance.metricValue,
    reasonToRun: toRun,
  });
  reasons.push(...activation.reasons);
  const reported = applyMode(spec, {
    metricValue: activation.metricValue,
    active: activation.active,
    current: replicas.current,
    ready: replicas.ready,
  });
  reasons.push(...reported.reasons);

  const next = remember(count.desired, delay.recent);
  if (reported.unavailable !== undefined) return noAnswer(reported.unavailable, next);
  // Built key by key (in the order the JSON shows them) rather than by spreading optional parts;
  // every required key is set before it is returned.
  const decision = {
    scaledObject: spec.scaledObject,
    atMs: nowMs,
    role: spec.target.role,
    mode: spec.target.mode,
    available: true,
    desiredReplicas: role.answer,
    metricValue: reported.metricValue,
    active: reported.active,
    loadReplicas: load,
    floorReplicas: floor.replicas,
  } as { -readonly [K in keyof Decision]: Decision[K] };
  if (floor.source !== "none") decision.floorReason = floor.reason;
  if (replicas.current !== undefined) decision.currentReplicas = replicas.current;
  if (replicas.ready !== undefined) decision.readyReplicas = replicas.ready;
  if (replicas.inFlight !== undefined) decision.inFlightReplicas = replicas.inFlight;
  if (role.servingReplicas !== undefined) decision.servingReplicas = role.servingReplicas;
  decision.drivingFactor = count.driving;
  decision.signals = verdicts;
  decision.rules = reasons;
  decision.summary = "";
  if (words) decision.summary = summarise(decision, utilisation);
  return { decision, memory: next };
}
