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
  /** What the usable ones say (waitingRequests): enough to know that something waits. */
  readonly atLeast: number;
  /** Whether any queue reading is present at all. */
  readonly read: boolean;
}

/**
 * Requests waiting, from the Service Bus active count and vLLM's waiting count: the larger, never
 * the sum. Behind a queue the consumers receive messages under a peek lock and hand them to vLLM,
 * and Service Bus keeps a locked message active until it is completed (after its last token), so
 * every request vLLM holds waiting is already among the active messages: adding the two counts it
 * twice. Either reading may be the fresher, so the larger stands. Behind a load balancer there is
 * no Service Bus reading and vLLM's waiting count is the backlog. A missing reading (undefined)
 * never lowers what the other one says.
 */
export function waitingRequests(queueBacklog: number | undefined, vllmWaiting: number | undefined): number {
  return Math.max(queueBacklog ?? 0, vllmWaiting ?? 0);
}

export function backlogOf(usable: UsableReadings): Backlog {
  const present = usable.queueBacklog !== undefined || usable.vllmWaiting !== undefined;
  const queue = usableValue(usable.queueBacklog);
  const waiting = usableValue(usable.vllmWaiting);
  const complete =
    (usable.queueBacklog === undefined || queue !== undefined) &&
    (usable.vllmWaiting === undefined || waiting !== undefined);
  const atLeast = waitingRequests(queue, waiting);
  return { exact: complete && present ? atLeast : undefined, atLeast, read: present };
}
