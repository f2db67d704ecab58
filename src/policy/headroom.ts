import type { Count } from "./count.ts";
import type { DemandSignal } from "./decision.ts";

const EPSILON = 1e-9;

/** desired = ceil(load / utilisation), so a new replica is asked for while the others are at `utilisation`. */
export function withHeadroom(loadReplicas: number, utilisation: number): number {
  return loadReplicas <= 0 ? 0 : Math.ceil(loadReplicas / utilisation - EPSILON);
}

/**
 * Early-provisioning headroom: the fused load (replicas at 100 %) becomes the count at which
 * every replica runs at `utilisation`, so new pods go Pending — and a GPU node starts — before
 * the running ones saturate.
 */
export function applyHeadroom(
  fused: { readonly load: number; readonly winner: DemandSignal | "forecast" | undefined },
  utilisation: number,
): Count {
  return { desired: withHeadroom(fused.load, utilisation), driving: fused.winner ?? "none", holding: false };
}
