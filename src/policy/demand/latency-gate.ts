import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalVerdict } from "../decision.ts";
import { withHeadroom } from "../headroom.ts";
import type { DemandContext, LatencyGate } from "./common.ts";

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
