/**
 * The oracle's GPU nodes, planned from the replica slots it needs tick by tick. Node `j` carries
 * replica slots j·podsPerNode … (j+1)·podsPerNode − 1 and is needed whenever one of them is. Each
 * run of need gets a node requested exactly its lead time early (its own provisioning draw plus
 * the slowest start-up draw of its pods), so the pods are ready on the tick they are first needed.
 * Between two runs the node is kept when the gap is shorter than what letting it go would cost:
 * the lead time of the node that would replace it, plus the Cluster Autoscaler's removal tail in
 * the `oracle-ca` variant (an empty node is only removed after scale-down-unneeded-time).
 */

/** Start-up delays by index (the run's seeded sequences). */
export interface LeadTimeDraws {
  nodeProvisionMs(index: number): number;
  podStartupMs(index: number): number;
}

export interface PlannedNode {
  /** When the node is requested (billing starts), ms. */
  readonly requestMs: number;
  /** When it is removed (billing stops), ms. */
  readonly releaseMs: number;
  /** Ticks [from, to) in which its pods are ready and serve. */
  readonly servingTicks: readonly (readonly [number, number])[];
  readonly slot: number;
  /** Held since before the trace (the steady state every run starts from): no start-up drawn. */
  readonly preExisting: boolean;
}

export interface NodePlanOptions {
  readonly startMs: number;
  readonly tickMs: number;
  readonly podsPerNode: number;
  readonly minNodes: number;
  /** After a node's last use, it stays this long before removal (0: the oracle removes it at once). */
  readonly removalTailMs: number;
  readonly draws: LeadTimeDraws;
}

interface Run {
  readonly slot: number;
  readonly from: number;
  readonly to: number;
}

/** Runs of ticks in which node slot j is needed (nodesNeeded[t] > j), in order of start. */
function needRuns(nodesNeeded: ArrayLike<number>): Run[] {
  const runs: Run[] = [];
  const openSince: number[] = [];
  let previous = 0;
  for (let t = 0; t <= nodesNeeded.length; t++) {
    const now = t < nodesNeeded.length ? (nodesNeeded[t] as number) : 0;
    for (let j = now; j < previous; j++) runs.push({ slot: j, from: openSince[j] as number, to: t });
    for (let j = previous; j < now; j++) openSince[j] = t;
    previous = now;
  }
  return runs.sort((a, b) => a.from - b.from || a.slot - b.slot);
}

export function planNodes(slotsInUse: ArrayLike<number>, options: NodePlanOptions): PlannedNode[] {
  const { startMs, tickMs, podsPerNode, removalTailMs, draws } = options;
  const nodesNeeded = Uint32Array.from({ length: slotsInUse.length }, (_, t) =>
    Math.max(options.minNodes, Math.ceil((slotsInUse[t] as number) / podsPerNode)),
  );
  let nextNode = 0;
  let nextPod = 0;
  const leadOf = (node: number, pod: number) => {
    let slowestPod = 0;
    for (let k = 0; k < podsPerNode; k++) slowestPod = Math.max(slowestPod, draws.podStartupMs(pod + k));
    return draws.nodeProvisionMs(node) + slowestPod;
  };
  interface Open {
    requestMs: number;
    servingTicks: [number, number][];
    preExisting: boolean;
  }
  const open = new Map<number, Open>();
  const planned: PlannedNode[] = [];
  const close = (slot: number, node: Open) => {
    const lastTo = (node.servingTicks[node.servingTicks.length - 1] as [number, number])[1];
    planned.push({
      requestMs: node.requestMs,
      releaseMs: startMs + lastTo * tickMs + removalTailMs,
      servingTicks: node.servingTicks,
      slot,
      preExisting: node.preExisting,
    });
  };
  for (const run of needRuns(nodesNeeded)) {
    const current = open.get(run.slot);
    const lead = leadOf(nextNode, nextPod);
    if (current) {
      const last = current.servingTicks[current.servingTicks.length - 1] as [number, number];
      const gapMs = (run.from - last[1]) * tickMs;
      // Keeping the node through the gap costs the gap; letting it go costs its removal tail and
      // a replacement's lead time.
      if (gapMs < removalTailMs + lead) {
        last[1] = run.to;
        continue;
      }
      close(run.slot, current);
    }
    const preExisting = run.from === 0;
    open.set(run.slot, {
      requestMs: preExisting ? startMs : startMs + run.from * tickMs - lead,
      servingTicks: [[run.from, run.to]],
      preExisting,
    });
    if (!preExisting) {
      nextNode++;
      nextPod += podsPerNode;
    }
  }
  for (const [slot, node] of open) close(slot, node);
  return planned.sort((a, b) => a.requestMs - b.requestMs || a.slot - b.slot);
}
