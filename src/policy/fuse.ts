import type { DemandSignal, RuleFired, SignalVerdict } from "./decision.ts";
import { READY_RELATIVE } from "./signals.ts";

/** The serving Deployment's replicas, as kube-state-metrics reports them (when read). */
export interface Replicas {
  readonly current: number | undefined;
  readonly ready: number | undefined;
  /** Existing but not ready: Pending on a provisioning node, or loading the model. */
  readonly inFlight: number | undefined;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

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
export function fuse(
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
