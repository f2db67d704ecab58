import type { ScalerSpec } from "../config/spec.ts";
import type { SignalKey, SignalReadings } from "../readings/signal-table.ts";
import { answerForKeda } from "./answer.ts";
import type { Decision, RuleFired, SignalVerdict } from "./decision.ts";
import { applyFailStatic, type LastGoodReadings, type UsableReadings, usableValue } from "./fail-static.ts";
import { fuse, type Replicas } from "./fuse.ts";
import { interpretIdleReadings } from "./no-pods.ts";
import { signalVerdicts } from "./signals.ts";
import { type SmoothedReadings, smoothUtilisation } from "./smoothing.ts";
import { applyScaleDownBand, applyScaleDownDelay, type RecentAnswer, withHeadroom } from "./stability.ts";
import { summarise } from "./summary.ts";
import { warmFloorAt } from "./warm-floor.ts";

/** The readings the demand signals are computed from (replica counts only qualify them). */
const DEMAND_READINGS: readonly SignalKey[] = [
  "queueBacklog",
  "vllmWaiting",
  "ttftP95Seconds",
  "ttftRequestsPerSecond",
  "kvCacheUsage",
  "gpuUtilisation",
  "tokensPerSecondPerPod",
];

/**
 * What a decision remembers between polls of one ScaledObject. Small and bounded (one entry per
 * signal kind, plus a window of recent answers when scaleDownDelaySeconds is set); rebuilt from
 * the sources after a restart (a restart must not change the answer). Opaque to callers.
 */
export interface PolicyMemory {
  readonly lastGood?: LastGoodReadings;
  /** The previous answer: the baseline for hysteresis and for "never down on missing data". */
  readonly lastDesired?: number;
  /** The last instant some signal had a good (not held) reading. */
  readonly lastSignalAtMs?: number;
  readonly recent?: readonly RecentAnswer[];
  /** Running averages of GPU utilisation and KV-cache usage. */
  readonly smoothed?: SmoothedReadings;
}

export interface DecideResult {
  readonly decision: Decision;
  readonly memory: PolicyMemory;
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
  const failStatic = applyFailStatic(idle.readings, memory.lastGood ?? {}, nowMs, holdMs);
  const lastGood = failStatic.lastGood;
  const { usable, smoothed } = smoothUtilisation(
    failStatic.usable,
    memory.smoothed ?? {},
    nowMs,
    spec.stability.utilisationSmoothingSeconds * 1000,
  );
  const replicas = replicasOf(usable);
  const backlog = backlogOf(usable);
  const verdicts = signalVerdicts(spec, usable, {
    readyReplicas: replicas.ready,
    backlog: backlog.exact,
    ttftWithoutSamples: idle.ttftWithoutSamples,
  });
  const inUse = verdicts.filter((v) => v.status !== "disabled");
  const failed = inUse.filter((v) => v.status === "failed");
  // "Good reading" means a fresh value behind a signal, not a verdict: a signal can abstain on a
  // held value, and counting that would stretch unavailableAfterSeconds by the hold time.
  const fresh = DEMAND_READINGS.some((key) => usable[key]?.state === "fresh");
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
    ...(Object.keys(smoothed).length > 0 ? { smoothed } : {}),
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

  // Activation is KEDA's 0 ↔ 1 gate. Waking from zero takes a reason (a floor, requests waiting
  // above activationBacklog, requests running, missing data); once the Deployment runs, any demand
  // keeps it running — a quiet instant between bursts (nothing waiting or running at the poll)
  // must not report 0 and start KEDA's cooldown towards zero while the signals still see load.
  const running = usableValue(usable.vllmRunning) ?? 0;
  const wakes =
    floor > 0 ||
    (serving && spec.target.minReplicas > 0) ||
    backlog.atLeast > spec.activation.activationBacklog ||
    running > 0 ||
    (!backlog.read && load > 0) ||
    // A failed or held signal cannot prove the workload idle: missing data never scales to zero.
    missingData ||
    holding;
  const alreadyRunning = (previous ?? 0) > 0 || (replicas.current ?? 0) > 0;
  const reasonToRun = wakes || (alreadyRunning && load > 0);

  const keda = answerForKeda(
    spec,
    { desired, servingDesired, reasonToRun, current: replicas.current, ready: replicas.ready },
    rules,
  );
  const memoryOut = nextMemory(desired, delay.recent);
  if (keda.unavailable !== undefined)
    return unavailable(spec, nowMs, verdicts, rules, floor, floorReason, keda.unavailable, memoryOut);

  const decision: Decision = {
    scaledObject: spec.scaledObject,
    atMs: nowMs,
    role: spec.target.role,
    mode: spec.target.mode,
    available: true,
    desiredReplicas: keda.answer,
    metricValue: keda.metricValue,
    active: keda.active,
    loadReplicas: load,
    floorReplicas: floor,
    ...(floorReason !== undefined ? { floorReason } : {}),
    ...(replicas.current !== undefined ? { currentReplicas: replicas.current } : {}),
    ...(replicas.ready !== undefined ? { readyReplicas: replicas.ready } : {}),
    ...(replicas.inFlight !== undefined ? { inFlightReplicas: replicas.inFlight } : {}),
    ...(keda.servingReplicas !== undefined ? { servingReplicas: keda.servingReplicas } : {}),
    drivingFactor: driving,
    signals: verdicts,
    rules,
    summary: "",
  };
  return { decision: { ...decision, summary: summarise(decision, utilisation) }, memory: memoryOut };
}
