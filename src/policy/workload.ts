import { type UsableReadings, usableValue } from "./usable.ts";

/** The serving Deployment's replicas, as kube-state-metrics reports them (when read). */
export interface Replicas {
  readonly current: number | undefined;
  readonly ready: number | undefined;
  /** Existing but not ready: Pending on a provisioning node, or loading the model. */
  readonly inFlight: number | undefined;
}

export function replicasOf(usable: UsableReadings): Replicas {
  const current = usableValue(usable.replicasDesired);
  const ready = usableValue(usable.replicasReady);
  const unavailable = usableValue(usable.replicasUnavailable);
  const inFlight =
    unavailable ?? (current !== undefined && ready !== undefined ? Math.max(0, current - ready) : undefined);
  return { current, ready, inFlight };
}

export interface Backlog {
  /** Requests waiting, when every queue reading in use is usable (fresh or held). */
  readonly exact: number | undefined;
  /** The sum of the usable ones: enough to know that something waits. */
  readonly atLeast: number;
  /** Whether any queue reading is present at all. */
  readonly read: boolean;
}

export function backlogOf(usable: UsableReadings): Backlog {
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
