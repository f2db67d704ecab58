import type { DemandSignal, RuleFired, SignalVerdict } from "./decision.ts";
import { READY_RELATIVE } from "./demand/index.ts";
import { round2 } from "./format.ts";
import type { Replicas } from "./workload.ts";

export interface Fused {
  /** Replicas of load at 100 % utilisation. */
  readonly load: number;
  readonly winner: DemandSignal | undefined;
  readonly reasons: readonly RuleFired[];
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
): Fused {
  const reasons: RuleFired[] = [];
  let load = 0;
  let winner: DemandSignal | undefined;
  const inFlight = replicas.inFlight ?? 0;
  const capLoad = inFlight > 0 && alreadyAskedFor !== undefined ? alreadyAskedFor * utilisation : undefined;
  for (const verdict of verdicts) {
    if (verdict.demandReplicas === undefined) continue;
    let demand = verdict.demandReplicas;
    if (capLoad !== undefined && READY_RELATIVE.has(verdict.signal) && demand > capLoad) {
      reasons.push({
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
  return { load, winner: load > 0 ? winner : undefined, reasons };
}
