import { type ArrivalStream, accountedTicksOnly, cohortAt, workSecondsAt } from "./arrivals.ts";
import { podsPerNode, type SimModel } from "./model.ts";
import { type LeadTimeDraws, type PlannedNode, planNodes } from "./oracle-plan.ts";
import type { PolicyResult } from "./policy-result.ts";
import type { ServingSink } from "./serving.ts";
import { ServingPool } from "./serving-pool.ts";
import { shareAtMost, Timeline, type TimelinePoint, TtftStats } from "./stats.ts";

/**
 * The clairvoyant reference every policy is measured against. It knows the whole trace and every
 * start-up draw, bypasses KEDA, the HPA and its tolerance, and:
 * 1. holds, segment by segment (ORACLE_SEGMENT_TICKS), the smallest whole number of ready replicas
 *    (≤ the maximum) with which every request that has arrived gets its first token within the
 *    SLA, found by trying counts on a copy of the world (the same replica model and dispatch as
 *    the policies' pods) and simulating forward until those requests are served or one misses;
 * 2. plans GPU nodes for that schedule (oracle-plan.ts): each requested exactly one lead time
 *    early, kept across a gap shorter than a replacement's lead time;
 * 3. replays the trace on the planned nodes (every pod on a held node serves) and bills every
 *    node from request to removal.
 * `oracle-ca` is the same schedule with the Cluster Autoscaler's removal tail: an idle node is
 * billed scale-down-unneeded-time longer, so gaps shorter than that plus a lead time are kept.
 */
export const ORACLE_SEGMENT_TICKS = 6;

export interface OracleOptions {
  readonly model: SimModel;
  readonly maxReplicas: number;
  readonly draws: LeadTimeDraws;
  readonly maxTimelinePoints?: number;
}

/** Ready replicas wanted in each tick, from the trace's first tick to the end of its drain. */
export interface ReplicaSchedule {
  readonly replicas: Uint16Array;
  /** 1 + the highest replica slot still serving or finishing its work, per tick. */
  readonly slotsInUse: Uint16Array;
}

class MissWatch implements ServingSink {
  missed = false;
  constructor(
    private readonly cutoffMs: number,
    private readonly slaSeconds: number,
  ) {}
  firstTokens(_count: number, first: number, last: number, _wait: number, arrivalMs: number): void {
    if (arrivalMs < this.cutoffMs && Math.max(first, last) > this.slaSeconds + 1e-9) this.missed = true;
  }
  completed(): void {}
}

const QUIET: ServingSink = { firstTokens() {}, completed() {} };

/** Searches the smallest replica count per segment; see the module comment. */
export function oracleSchedule(arrivals: ArrivalStream, options: OracleOptions): ReplicaSchedule {
  const { model } = options;
  const tickMs = model.tickMs;
  const slaMs = model.slaSeconds * 1000;
  const max = Math.min(options.maxReplicas, model.cluster.maxNodes * podsPerNode(model.cluster));
  const drainTicks = Math.ceil(model.drainLimitMs / tickMs);
  const horizon = arrivals.ticks + drainTicks;
  const arrivingAt = (t: number) =>
    t < arrivals.ticks ? cohortAt(arrivals, t, arrivals.startMs + t * tickMs) : undefined;
  const replicas = new Uint16Array(horizon);
  const slotsInUse = new Uint16Array(horizon);
  const world = ServingPool.empty(model.replica, max, model.frontEnd);
  const segment = ORACLE_SEGMENT_TICKS;
  // Trials stop once the segment's requests are served; a request still waiting after the SLA
  // has missed, so a trial never needs more than the segment plus the SLA.
  const trialLimit = segment + Math.ceil(slaMs / tickMs) + 2;

  const anyArrivals = (from: number, to: number) => {
    for (let t = from; t < Math.min(to, arrivals.ticks); t++)
      if ((arrivals.count[t] as number) > 0) return true;
    return false;
  };
  const fits = (n: number, from: number): boolean => {
    const cutoffMs = arrivals.startMs + (from + segment) * tickMs;
    if (n === 0) return world.pendingCount() === 0 && !anyArrivals(from, from + segment);
    const trial = world.clone();
    trial.setActive((i) => i < n);
    const watch = new MissWatch(cutoffMs, model.slaSeconds);
    for (let k = 0; k < trialLimit; k++) {
      const t = from + k;
      const nowMs = arrivals.startMs + t * tickMs;
      trial.tick(nowMs, tickMs, arrivingAt(t), watch);
      if (watch.missed) return false;
      if (k + 1 < segment) continue;
      const oldest = trial.oldestPendingArrivalMs();
      if (oldest === undefined || oldest >= cutoffMs) return true;
      if (nowMs + tickMs - oldest > slaMs) return false;
    }
    return false;
  };

  let n = 0;
  let end = horizon;
  for (let from = 0; from < horizon; from += segment) {
    if (from >= arrivals.ticks && world.idle) {
      end = from;
      break;
    }
    if (fits(n, from)) {
      // Lower while it still fits (a drop is usually one replica; search when it is more).
      if (n > 0 && fits(n - 1, from)) {
        let low = 0;
        let high = n - 1;
        while (low < high) {
          const mid = (low + high) >> 1;
          if (fits(mid, from)) high = mid;
          else low = mid + 1;
        }
        n = low;
      }
    } else {
      // Gallop up, then bisect between the last count that missed and the first that fits.
      let low = n;
      let step = 1;
      let high = Math.min(max, n + step);
      while (high < max && !fits(high, from)) {
        low = high;
        step *= 2;
        high = Math.min(max, n + step);
      }
      if (high === max && !fits(max, from)) n = max;
      else {
        while (low + 1 < high) {
          const mid = (low + high) >> 1;
          if (fits(mid, from)) high = mid;
          else low = mid;
        }
        n = high;
      }
    }
    world.setActive((i) => i < n);
    for (let t = from; t < Math.min(from + segment, horizon); t++) {
      world.tick(arrivals.startMs + t * tickMs, tickMs, arrivingAt(t), QUIET);
      replicas[t] = n;
      slotsInUse[t] = world.slotsInUse();
    }
  }
  return { replicas: replicas.subarray(0, end), slotsInUse: slotsInUse.subarray(0, end) };
}

/** The oracle's two rows (`oracle`, `oracle-ca`) for a run. */
export function runOracles(traceArrivals: ArrivalStream, options: OracleOptions): PolicyResult[] {
  const wallStart = performance.now();
  // Every policy's world stops across a no-data interval and resumes where it was, unbilled; the
  // oracle plans and serves on the same clock, so it cannot work off a backlog in unbilled time.
  const { stream: arrivals, wallTick } = accountedTicksOnly(traceArrivals);
  const wall = { spanMs: traceArrivals.ticks * traceArrivals.tickMs, wallTick };
  const schedule = oracleSchedule(arrivals, options);
  const searchSeconds = (performance.now() - wallStart) / 1000;
  const { cluster } = options.model;
  return [
    {
      name: "oracle",
      description:
        "clairvoyant: fewest replicas that keep every request within the SLA, nodes requested exactly a lead time early, released when idle longer than a lead time",
      removalTailMs: 0,
    },
    {
      name: "oracle-ca",
      description: `the oracle with the Cluster Autoscaler's removal tail: an idle node is billed ${cluster.scaleDownUnneededMs / 60_000} min more before removal`,
      removalTailMs: cluster.scaleDownUnneededMs,
    },
  ].map((variant) => replay(arrivals, options, schedule, variant, searchSeconds, wall));
}

function replay(
  arrivals: ArrivalStream,
  options: OracleOptions,
  schedule: ReplicaSchedule,
  variant: { name: string; description: string; removalTailMs: number },
  searchSeconds: number,
  /** The trace's span and each simulated tick's place on the wall clock, for the report. */
  wall: { spanMs: number; wallTick: Int32Array },
): PolicyResult {
  const wallStart = performance.now();
  const { model } = options;
  const tickMs = model.tickMs;
  const perNode = podsPerNode(model.cluster);
  const nodes = planNodes(schedule.slotsInUse, {
    startMs: arrivals.startMs,
    tickMs,
    podsPerNode: perNode,
    minNodes: model.cluster.minNodes,
    removalTailMs: variant.removalTailMs,
    draws: options.draws,
  });
  const slots = Math.max(1, ...nodes.map((n) => (n.slot + 1) * perNode));
  const servingFrom = servingCalendar(nodes, perNode, slots);
  // A slot's ServingReplica is reused when its node comes back after a release. That favours the
  // oracle in nothing: a node is released only once every slot on it is idle (slotsInUse counts a
  // slot finishing its work as in use), an idle ServingReplica holds no state beyond its work, and
  // the returning node is requested a full lead time early with its own start-up draws.
  const world = ServingPool.empty(model.replica, slots, model.frontEnd);
  const spanMs = wall.spanMs;
  const maxPoints = options.maxTimelinePoints ?? 1500;
  const bucketMs = Math.max(60_000, Math.ceil(spanMs / maxPoints / 60_000) * 60_000);
  const timeline = new Timeline(arrivals.startMs, bucketMs);
  const stats = new TtftStats(model.slaSeconds);
  let point: TimelinePoint | undefined;
  const sink: ServingSink = {
    firstTokens(count, first, last, wait) {
      stats.record(count, first, last, wait);
      if (point) {
        point.ttftMaxSeconds = Math.max(point.ttftMaxSeconds, first, last);
        point.slaMisses += count * (1 - shareAtMost(model.slaSeconds, first, last));
      }
    },
    completed() {},
  };
  const drainTicks = Math.ceil(model.drainLimitMs / tickMs);
  const heldAt = nodeCountCalendar(nodes, arrivals.startMs, tickMs, arrivals.ticks + drainTicks);
  let requests = 0;
  let gpuTicks = 0;
  let drainGpuTicks = 0;
  let peakReplicas = 0;
  let peakNodes = 0;
  let scaleEvents = 0;
  let previousActive = -1;
  let tick = 0;
  for (; tick < arrivals.ticks + drainTicks; tick++) {
    const inTrace = tick < arrivals.ticks;
    if (!inTrace && world.idle) break;
    const nowMs = arrivals.startMs + tick * tickMs;
    world.setActive((i) => servingFrom[i]?.(tick) ?? false);
    const active = world.activeCount();
    if (previousActive >= 0 && active !== previousActive) scaleEvents++;
    previousActive = active;
    point = inTrace ? timeline.at(arrivals.startMs + (wall.wallTick[tick] as number) * tickMs) : undefined;
    const arriving = inTrace ? cohortAt(arrivals, tick, nowMs) : undefined;
    if (arriving) requests += arriving.count;
    world.tick(nowMs, tickMs, arriving, sink);
    const held = heldAt[tick] as number;
    peakNodes = Math.max(peakNodes, held);
    peakReplicas = Math.max(peakReplicas, active);
    if (!inTrace) drainGpuTicks += held;
    else if (arrivals.accounted[tick]) {
      gpuTicks += held;
      const share = tickMs / bucketMs;
      const p = point as TimelinePoint;
      p.demandReplicas += (workSecondsAt(arrivals, model.replica, tick) / (tickMs / 1000)) * share;
      p.readyReplicas += active * share;
      p.nodes += held * share;
      p.desiredReplicas = Math.max(p.desiredReplicas, schedule.replicas[tick] ?? 0);
      p.queueMax = Math.max(p.queueMax, world.queue.length);
      p.samples++;
    }
  }
  const unserved = world.pendingCount();
  if (unserved > 0)
    stats.recordUnserved(
      unserved,
      (arrivals.startMs + tick * tickMs - (world.oldestPendingArrivalMs() ?? arrivals.startMs)) / 1000,
    );
  const gpuSecondsPerTick = (tickMs / 1000) * model.cluster.gpusPerNode;
  const gpuHours = ((gpuTicks + drainGpuTicks) * gpuSecondsPerTick) / 3600;
  const started = nodes.filter((n) => !n.preExisting && n.requestMs >= arrivals.startMs - tickMs);
  const wallSeconds = searchSeconds + (performance.now() - wallStart) / 1000;
  return {
    name: variant.name,
    description: variant.description,
    requests,
    withinSlaFraction: stats.withinSlaFraction(),
    ttftP50Seconds: stats.quantile(0.5),
    ttftP95Seconds: stats.quantile(0.95),
    ttftP99Seconds: stats.quantile(0.99),
    worstQueueWaitSeconds: stats.worstQueueWaitSeconds,
    unservedRequests: unserved,
    gpuHours,
    drainGpuHours: (drainGpuTicks * gpuSecondsPerTick) / 3600,
    // The oracle plans from the trace's first tick: it needs no warm-up.
    warmupMinutes: 0,
    settledBeforeTrace: true,
    costDollars: gpuHours * model.dollarsPerGpuHour,
    workBoundRatio: Number.NaN,
    oracleRatio: Number.NaN,
    scaleEvents,
    coldStarts: started.length * perNode,
    nodesProvisioned: started.length,
    peakReplicas,
    peakNodes,
    wallSeconds,
    simulatedMinutesPerWallSecond: spanMs / 60_000 / Math.max(wallSeconds, 1e-6),
    timeline: timeline.points,
  };
}

/** For each replica slot, whether its pod serves in a tick (ticks asked in increasing order). */
function servingCalendar(
  nodes: readonly PlannedNode[],
  perNode: number,
  slots: number,
): ((tick: number) => boolean)[] {
  const byNodeSlot = new Map<number, [number, number][]>();
  for (const node of nodes) {
    const list = byNodeSlot.get(node.slot) ?? [];
    list.push(...node.servingTicks.map(([a, b]) => [a, b] as [number, number]));
    byNodeSlot.set(node.slot, list);
  }
  const calendars: ((tick: number) => boolean)[] = [];
  for (let i = 0; i < slots; i++) {
    const intervals = (byNodeSlot.get(Math.floor(i / perNode)) ?? []).sort((a, b) => a[0] - b[0]);
    let cursor = 0;
    calendars.push((tick) => {
      while (cursor < intervals.length && (intervals[cursor] as [number, number])[1] <= tick) cursor++;
      const current = intervals[cursor];
      return current !== undefined && current[0] <= tick;
    });
  }
  return calendars;
}

/** Nodes that exist at the start of each tick (billing, as the cluster counts it). */
function nodeCountCalendar(
  nodes: readonly PlannedNode[],
  startMs: number,
  tickMs: number,
  ticks: number,
): Int32Array {
  const delta = new Int32Array(ticks + 1);
  for (const node of nodes) {
    const from = Math.max(0, Math.ceil((node.requestMs - startMs) / tickMs));
    const to = Math.min(ticks, Math.ceil((node.releaseMs - startMs) / tickMs));
    if (to <= from) continue;
    delta[from] = (delta[from] as number) + 1;
    delta[to] = (delta[to] as number) - 1;
  }
  const counts = new Int32Array(ticks);
  let running = 0;
  for (let t = 0; t < ticks; t++) {
    running += delta[t] as number;
    counts[t] = running;
  }
  return counts;
}
