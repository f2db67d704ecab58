import type { ScalerSpec } from "../config/spec.ts";
import type { Decision, RuleFired, SignalVerdict } from "./decision.ts";
import type { SignalReadings } from "./readings.ts";

/**
 * What a decision remembers between polls of one ScaledObject (last good readings, recent
 * answers). Small and bounded; rebuilt from the sources after a restart (DESIGN rule 3).
 */
export interface PolicyMemory {
  readonly lastDecision?: Decision;
}

export interface DecideResult {
  readonly decision: Decision;
  readonly memory: PolicyMemory;
}

/**
 * The whole decision: readings → per-signal demand → fusion → headroom → floor → clamp.
 * Pure: no clock, no I/O. (Minimal first version: queue demand only; the decision-engine
 * issue grows this function, not a second path.)
 */
export function decide(
  spec: ScalerSpec,
  readings: SignalReadings,
  nowMs: number,
  memory: PolicyMemory = {},
): DecideResult {
  const rules: RuleFired[] = [];
  const signals: SignalVerdict[] = [];
  const backlog = [readings.queueBacklog, readings.vllmWaiting].filter((r) => r !== undefined);
  const failed = backlog.filter((r) => !r.ok);
  const known = backlog.filter((r) => r.ok);
  const waiting = known.reduce((sum, r) => sum + (r.ok ? r.value : 0), 0);

  if (backlog.length === 0 || failed.length > 0) {
    const why =
      backlog.length === 0
        ? "no queue source is configured (set serviceBusQueue or PROMETHEUS_URL)"
        : failed.map((r) => (r.ok ? "" : `${r.failure.source}: ${r.failure.message}`)).join("; ");
    const decision: Decision = {
      scaledObject: spec.scaledObject,
      atMs: nowMs,
      role: spec.target.role,
      mode: spec.target.mode,
      available: false,
      desiredReplicas: memory.lastDecision?.desiredReplicas ?? 0,
      metricValue: 0,
      active: false,
      loadReplicas: 0,
      floorReplicas: 0,
      drivingFactor: "none",
      signals: [{ signal: "queue", status: "failed", readings: {}, note: why }],
      rules,
      summary: `No decision: ${why}.`,
    };
    return { decision, memory };
  }

  const demand =
    spec.queue.mode === "perReplica"
      ? waiting / spec.queue.messagesPerReplica
      : waiting / (spec.queue.requestsPerSecondPerReplica * spec.queue.latencySlaSeconds);
  signals.push({
    signal: "queue",
    status: "voted",
    readings: { queueBacklog: waiting },
    demandReplicas: demand,
    note: `${waiting} waiting → ${demand.toFixed(2)} replicas`,
  });
  const withHeadroom = Math.ceil(demand / spec.headroom.targetUtilisation - 1e-9);
  const desired = Math.min(spec.target.maxReplicas, Math.max(spec.target.minReplicas, withHeadroom));
  const active = desired > 0 && waiting > spec.activation.activationBacklog;
  const decision: Decision = {
    scaledObject: spec.scaledObject,
    atMs: nowMs,
    role: spec.target.role,
    mode: spec.target.mode,
    available: true,
    desiredReplicas: desired,
    metricValue: active ? desired : 0,
    active,
    loadReplicas: demand,
    floorReplicas: 0,
    drivingFactor: "queue",
    signals,
    rules,
    summary: `${desired} replicas: ${waiting} requests waiting.`,
  };
  return { decision, memory: { lastDecision: decision } };
}
