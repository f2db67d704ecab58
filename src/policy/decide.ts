import type { ScalerSpec } from "../config/spec.ts";
import type { Decision, DemandSignal, RuleFired, SignalVerdict } from "./decision.ts";
import { applyFailStatic, type LastGoodReadings, type UsableReadings, usableValue } from "./fail-static.ts";
import { interpretIdleReadings } from "./no-pods.ts";
import type { SignalReadings } from "./readings.ts";
import { READY_RELATIVE, signalVerdicts } from "./signals.ts";
import {
  applyScaleDownBand,
  applyScaleDownDelay,
  type RecentAnswer,
  stepOverTolerance,
  withHeadroom,
} from "./stability.ts";
import { warmFloorAt } from "./warm-floor.ts";

/**
 * What a decision remembers between polls of one ScaledObject. Small and bounded (one entry per
 * signal kind, plus a window of recent answers when scaleDownDelaySeconds is set); rebuilt from
 * the sources after a restart (DESIGN rule 3). Opaque to callers.
 */
export interface PolicyMemory {
  readonly lastGood?: LastGoodReadings;
  /** The previous answer: the baseline for hysteresis and for "never down on missing data". */
  readonly lastDesired?: number;
  /** The last instant some signal had a good (not held) reading. */
  readonly lastSignalAtMs?: number;
  readonly recent?: readonly RecentAnswer[];
}

export interface DecideResult {
  readonly decision: Decision;
  readonly memory: PolicyMemory;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

interface Replicas {
  readonly current: number | undefined;
  readonly ready: number | undefined;
  readonly inFlight: number | undefined;
}

function replicasOf(usable: UsableReadings): Replicas {
  const current = usableValue(usable.replicasDesired);
  const ready = usableValue(usable.replicasReady);
  const unavailable = usableValue(usable.replicasUnavailable);
  const inFlight =
    unavailable ?? (current !== undefined && ready !== undefined ? Math.max(0, current - ready) : undefined);
  return { current, ready, inFlight };
}

interface Backlog {
  /** Requests waiting, when every queue reading in use is usable (fresh or held). */
  readonly exact: number | undefined;
  /** The sum of the usable ones: enough to know that something waits. */
  readonly atLeast: number;
  /** Whether any queue reading is present at all. */
  readonly read: boolean;
}

function backlogOf(usable: UsableReadings): Backlog {
  const readings = [usable.queueBacklog, usable.vllmWaiting].filter((r) => r !== undefined);
  let atLeast = 0;
  let complete = true;
  for (const reading of readings) {
    const value = usableValue(reading);
    if (value === undefined) complete = false;
    else atLeast += value;
  }
  return { exact: complete && readings.length > 0 ? atLeast : undefined, atLeast, read: readings.length > 0 };
}

interface Fused {
  readonly load: number;
  readonly winner: DemandSignal | undefined;
}

/**
 * The maximum of the demands: each signal watches a different bottleneck (backlog, latency,
 * memory, compute, throughput), and the replica count must relieve the tightest one; a sum
 * would count one load several times, an average would let an idle metric hide a saturated one.
 * While replicas are on their way, the ready-relative signals may not ask beyond what is
 * already asked for: their overload persists until those replicas are ready, and asking again
 * on every poll is the cascade that overshoots by a node per poll.
 */
function fuse(
  verdicts: readonly SignalVerdict[],
  replicas: Replicas,
  alreadyAskedFor: number | undefined,
  utilisation: number,
  rules: RuleFired[],
): Fused {
  let load = 0;
  let winner: DemandSignal | undefined;
  const inFlight = replicas.inFlight ?? 0;
  const capLoad = inFlight > 0 && alreadyAskedFor !== undefined ? alreadyAskedFor * utilisation : undefined;
  for (const verdict of verdicts) {
    if (verdict.demandReplicas === undefined) continue;
    let demand = verdict.demandReplicas;
    if (capLoad !== undefined && READY_RELATIVE.has(verdict.signal) && demand > capLoad) {
      rules.push({
        rule: "capacity-on-its-way",
        note: `${verdict.signal} wants ${round2(demand)} replicas of load but ${inFlight} replica(s) are still starting: it may not ask beyond the ${alreadyAskedFor} already asked for`,
      });
      demand = capLoad;
    }
    if (winner === undefined || demand > load) {
      winner = verdict.signal;
      load = demand;
    }
  }
  return { load, winner: load > 0 ? winner : undefined };
}

function unavailable(
  spec: ScalerSpec,
  nowMs: number,
  verdicts: SignalVerdict[],
  rules: RuleFired[],
  floor: number,
  floorReason: string | undefined,
  why: string,
  memory: PolicyMemory,
): DecideResult {
  const decision: Decision = {
    scaledObject: spec.scaledObject,
    atMs: nowMs,
    role: spec.target.role,
    mode: spec.target.mode,
    available: false,
    desiredReplicas: memory.lastDesired ?? 0,
    metricValue: 0,
    active: false,
    loadReplicas: 0,
    floorReplicas: floor,
    ...(floorReason !== undefined ? { floorReason } : {}),
    drivingFactor: "none",
    signals: verdicts,
    rules,
    summary: `No answer (UNAVAILABLE, KEDA's fallback applies): ${why}.`,
  };
  return { decision, memory };
}

/**
 * The whole decision: readings → fail-static → per-signal demand → fusion → headroom →
 * hysteresis → warm floor → clamps → HPA tolerance → activation → role and mode.
 * Pure: the instant comes in as `nowMs`; no clock, no I/O, no environment.
 */
export function decide(
  spec: ScalerSpec,
  readings: SignalReadings,
  nowMs: number,
  memory: PolicyMemory = {},
): DecideResult {
  const rules: RuleFired[] = [];
  const holdMs = spec.failStatic.holdSeconds * 1000;
  const idle = interpretIdleReadings(readings);
  if (idle.note) rules.push({ rule: "no-ready-pods", note: idle.note });
  const { usable, lastGood } = applyFailStatic(idle.readings, memory.lastGood ?? {}, nowMs, holdMs);
  const replicas = replicasOf(usable);
  const backlog = backlogOf(usable);
  const verdicts = signalVerdicts(spec, usable, {
    readyReplicas: replicas.ready,
    backlog: backlog.exact,
    ttftWithoutSamples: idle.ttftWithoutSamples,
  });
  const inUse = verdicts.filter((v) => v.status !== "disabled");
  const failed = inUse.filter((v) => v.status === "failed");
  const fresh = inUse.some((v) => v.status === "voted" || v.status === "abstained");
  const lastSignalAtMs = fresh ? nowMs : memory.lastSignalAtMs;
  const floorAt = warmFloorAt(spec.warmFloor, nowMs);
  const floor = floorAt.replicas;
  const floorReason = floorAt.source === "none" ? undefined : floorAt.reason;
  const previous = memory.lastDesired ?? replicas.current;
  const nextMemory = (lastDesired: number | undefined, recent?: readonly RecentAnswer[]): PolicyMemory => ({
    lastGood,
    ...(lastDesired !== undefined ? { lastDesired } : {}),
    ...(lastSignalAtMs !== undefined ? { lastSignalAtMs } : {}),
    ...(recent && recent.length > 0 ? { recent } : {}),
  });
  // Any reading that is broken (held or failed), not only a whole signal: a partial backlog is a
  // lower bound, and replica counts feed the ready-relative signals.
  const brokenKeys = Object.entries(usable)
    .filter(([, reading]) => reading.state !== "fresh")
    .map(([key]) => key);
  const missingData = brokenKeys.length > 0;
  const failureText = failed.map((v) => `${v.signal}: ${v.note}`).join("; ");

  const serving = spec.target.role === "serving";
  const utilisation = spec.headroom.targetUtilisation;
  let desired: number;
  let load = 0;
  let driving: Decision["drivingFactor"];
  /** Set when missing data or the scale-down delay holds the answer up: a held count stays active. */
  let holding = false;

  if (inUse.length > 0 && failed.length === inUse.length) {
    // Every signal in use is down. Hold the previous answer for a bounded time, then let
    // KEDA's fallback take over; with no previous good reading there is nothing to hold.
    const goneForMs = lastSignalAtMs === undefined ? undefined : nowMs - lastSignalAtMs;
    const limitMs = spec.failStatic.unavailableAfterSeconds * 1000;
    if (goneForMs === undefined || goneForMs > limitMs || memory.lastDesired === undefined) {
      const why =
        goneForMs === undefined || memory.lastDesired === undefined
          ? `no signal has a usable reading yet (${failureText})`
          : `no signal has had a good reading for ${Math.round(goneForMs / 1000)} s, more than unavailableAfterSeconds ${spec.failStatic.unavailableAfterSeconds} (${failureText})`;
      return unavailable(
        spec,
        nowMs,
        verdicts,
        rules,
        floor,
        floorReason,
        why,
        nextMemory(memory.lastDesired),
      );
    }
    desired = Math.max(memory.lastDesired, floor);
    driving = "hold";
    holding = true;
    rules.push({
      rule: "fail-static-hold",
      note: `every signal is down (${failureText}): holding ${memory.lastDesired} for up to ${spec.failStatic.unavailableAfterSeconds} s after the last good reading (${Math.round((goneForMs ?? 0) / 1000)} s so far)`,
    });
  } else {
    // What is already asked for: our last answer, or more if the HPA was told more (the
    // tolerance step reports above the answer) or runs more.
    const askedFor =
      previous === undefined && replicas.current === undefined
        ? undefined
        : Math.max(previous ?? 0, replicas.current ?? 0);
    const fused = fuse(verdicts, replicas, askedFor, utilisation, rules);
    load = fused.load;
    desired = withHeadroom(load, utilisation);
    driving = fused.winner ?? "none";
    const band = applyScaleDownBand(desired, previous, load, utilisation, spec.stability.scaleDownBand);
    if (band.note) rules.push({ rule: "hysteresis", note: band.note });
    desired = band.desired;
    if (missingData && previous !== undefined && desired < previous) {
      rules.push({
        rule: "no-scale-down-on-missing-data",
        note: `kept ${previous} instead of ${desired}: ${brokenKeys.join(", ")} missing (failed or held)`,
      });
      desired = previous;
      driving = "hold";
      holding = true;
    }
  }

  if (floor > desired) {
    desired = floor;
    driving = "floor";
  }
  if (failed.length > 0 && desired === 0 && previous === undefined) {
    return unavailable(
      spec,
      nowMs,
      verdicts,
      rules,
      floor,
      floorReason,
      `the answer would be 0 while ${failureText}, and there is no previous answer: missing data never scales to zero`,
      nextMemory(memory.lastDesired),
    );
  }
  const servingDesired = desired;
  if (serving) {
    if (desired < spec.target.minReplicas) {
      desired = spec.target.minReplicas;
      driving = "minReplicas";
    }
    if (desired > spec.target.maxReplicas) {
      rules.push({
        rule: "maxReplicas",
        note: `clamped ${desired} to maxReplicas ${spec.target.maxReplicas}`,
      });
      desired = spec.target.maxReplicas;
      driving = "maxReplicas";
    }
  }
  const delay = applyScaleDownDelay(
    desired,
    memory.recent ?? [],
    nowMs,
    spec.stability.scaleDownDelaySeconds * 1000,
  );
  if (delay.note) {
    rules.push({ rule: "scale-down-delay", note: delay.note });
    driving = "hold";
    holding = true;
  }
  desired = delay.desired;

  // Activation: a replica count above zero wakes the workload only with a reason to run.
  const running = usableValue(usable.vllmRunning) ?? 0;
  const backlogActivates = backlog.atLeast > spec.activation.activationBacklog;
  const noBacklogSignal = !backlog.read;
  const evidence =
    floor > 0 ||
    (serving && spec.target.minReplicas > 0) ||
    backlogActivates ||
    running > 0 ||
    (noBacklogSignal && load > 0) ||
    // A failed or held signal cannot prove the workload idle: missing data never scales to zero.
    missingData ||
    holding;

  let answer = desired;
  let servingReplicas: number | undefined;
  if (!serving) {
    // role=headroom: placeholders that keep spare GPU nodes warm while the serving side is warm.
    servingReplicas = servingDesired;
    const warm = servingDesired > 0 && evidence;
    const placeholders = warm ? spec.headroom.spareReplicas : 0;
    answer = Math.min(spec.target.maxReplicas, Math.max(spec.target.minReplicas, placeholders));
    rules.push({
      rule: "headroom-role",
      note: warm
        ? `serving wants ${servingDesired}: keeping ${answer} placeholder(s) so that many spare GPU slots are already up when it grows`
        : "the serving side is cold: no placeholders, no spare GPU nodes",
    });
  }

  let metricValue = answer;
  if (serving) {
    const tolerance = stepOverTolerance(
      answer,
      replicas.current,
      spec.target.maxReplicas,
      spec.stability.hpaTolerance,
      spec.stability.stepOverTolerance,
    );
    if (tolerance.note) rules.push({ rule: "hpa-tolerance", note: tolerance.note });
    metricValue = tolerance.metricValue;
  }
  let active = metricValue > 0 && (serving ? evidence : answer > 0);
  if (metricValue > 0 && !active) {
    rules.push({
      rule: "activation",
      note: `${metricValue} would be asked for, but nothing waits above activationBacklog ${spec.activation.activationBacklog}, nothing runs and the floor is 0: inactive (scale to zero)`,
    });
    metricValue = 0;
  }

  const memoryOut = nextMemory(desired, delay.recent);
  const currentCount = replicas.current ?? replicas.ready;
  if (spec.target.mode === "advisory" && spec.advisory.answer === "abstain") {
    // Beside other triggers: the HPA takes the maximum and KEDA the OR of activity, so 0 and
    // inactive leave the decision to them entirely.
    rules.push({
      rule: "advisory",
      note: `advisory mode (abstain): would ask for ${metricValue}, reports 0 and inactive so the other triggers decide`,
    });
    metricValue = 0;
    active = false;
  } else if (spec.target.mode === "advisory") {
    if (!serving || currentCount === undefined) {
      const why = !serving
        ? "advisory mode keeps the serving Deployment's count and has no meaning for role=headroom"
        : "advisory mode answers the current replica count, and kube-state-metrics replicas are not read";
      return unavailable(spec, nowMs, verdicts, rules, floor, floorReason, why, memoryOut);
    }
    rules.push({
      rule: "advisory",
      note: `advisory mode: would ask for ${metricValue}, answers the current ${currentCount} so nothing moves`,
    });
    metricValue = currentCount;
    active = metricValue > 0;
  }

  const decision: Decision = {
    scaledObject: spec.scaledObject,
    atMs: nowMs,
    role: spec.target.role,
    mode: spec.target.mode,
    available: true,
    desiredReplicas: answer,
    metricValue,
    active,
    loadReplicas: load,
    floorReplicas: floor,
    ...(floorReason !== undefined ? { floorReason } : {}),
    ...(replicas.current !== undefined ? { currentReplicas: replicas.current } : {}),
    ...(replicas.ready !== undefined ? { readyReplicas: replicas.ready } : {}),
    ...(replicas.inFlight !== undefined ? { inFlightReplicas: replicas.inFlight } : {}),
    ...(servingReplicas !== undefined ? { servingReplicas } : {}),
    drivingFactor: driving,
    signals: verdicts,
    rules,
    summary: "",
  };
  return { decision: { ...decision, summary: summarise(decision, utilisation) }, memory: memoryOut };
}

/** One sentence: what is asked for, what set it, and the rules that changed it. */
export function summarise(decision: Decision, utilisation: number): string {
  if (!decision.available) return decision.summary;
  const winner = decision.signals.find((v) => v.signal === decision.drivingFactor);
  const what =
    decision.role === "headroom"
      ? `${decision.desiredReplicas} placeholder(s) (serving wants ${decision.servingReplicas ?? 0})`
      : `${decision.desiredReplicas} replica(s)`;
  let why: string;
  switch (decision.drivingFactor) {
    case "floor":
      why = `warm floor ${decision.floorReplicas} (${decision.floorReason ?? "floor"})`;
      break;
    case "minReplicas":
      why = "minReplicas";
      break;
    case "maxReplicas":
      why = `maxReplicas (load ${round2(decision.loadReplicas)} ÷ ${utilisation} headroom is more)`;
      break;
    case "hold":
      why = "held";
      break;
    case "none":
      why = "no demand and no floor";
      break;
    default:
      why = `${decision.drivingFactor} demand ${round2(decision.loadReplicas)} ÷ ${utilisation} headroom${winner ? ` — ${winner.note}` : ""}`;
  }
  const sent =
    decision.metricValue !== decision.desiredReplicas
      ? `; reporting ${decision.metricValue}${decision.active ? "" : " (inactive)"}`
      : decision.active
        ? ""
        : " (inactive)";
  const rules = decision.rules.length > 0 ? ` — ${decision.rules.map((r) => r.note).join("; ")}` : "";
  return `${what}: ${why}${sent}${rules}.`;
}
