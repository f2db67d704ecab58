import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalVerdict } from "../decision.ts";
import { withHeadroom } from "../headroom.ts";
import type { DemandContext, LatencyGate } from "./common.ts";

/**
 * Latency and throughput read "overloaded" on an idle queue too (long prompts, a request caught in
 * prefill, little load per pod): by default they vote only while the queue itself asks for more
 * replicas than are ready and requests wait — the queue decides whether, latency how much.
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
    if (wanted <= ready)
      return { open: false, reason: `the queue asks for ${wanted} with ${ready} ready (latencyGate=queue)` };
    // A latency percentile covers the whole rate window: after a burst it stays high for minutes
    // though the burst is served. With nothing waiting now it measures the past, and the queue's
    // inflow already sizes the future; voting it would buy nodes for a queue that is gone.
    if (context.backlog === 0)
      return {
        open: false,
        reason: `the queue asks for ${wanted} with ${ready} ready and nothing waits now (latencyGate=queue)`,
      };
    return { open: true, reason: `the queue asks for ${wanted} with ${ready} ready` };
  }
  if (context.backlog === undefined) return undefined;
  return context.backlog > 0
    ? { open: true, reason: `${context.backlog} waiting` }
    : { open: false, reason: "nothing waits" };
}
