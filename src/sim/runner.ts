import type { Reading } from "../readings/reading.ts";
import type { SignalReadings } from "../readings/signal-table.ts";
import { type ArrivalStream, cohortAt, workSecondsAt } from "./arrivals.ts";
import { ScaleController } from "./autoscaler.ts";
import { Cluster } from "./cluster.ts";
import { InflowHistory } from "./history.ts";
import { PodLeadTimes } from "./lead-times.ts";
import { type SimModel, validateModel } from "./model.ts";
import { Observer } from "./observe.ts";
import { runOracles } from "./oracle.ts";
import type { PolicyContext, PolicyDefinition, WorldView } from "./policies.ts";
import type { PolicyResult } from "./policy-result.ts";
import { type Cohort, RequestQueue, type ServingSink } from "./serving.ts";
import { StartupDraws } from "./startup-draws.ts";
import { shareAtMost, Timeline, type TimelinePoint, TtftStats } from "./stats.ts";

export type { PolicyResult };

export interface SimulationResult {
  readonly startMs: number;
  readonly endMs: number;
  readonly requests: number;
  readonly scale: number;
  readonly zone: string;
  readonly slaSeconds: number;
  /**
   * GPU-hours of the work itself: capacity following demand exactly, at 100 % utilisation, with
   * no start-up delay and fractional replicas. Not reachable; the oracle's figure is the reference.
   */
  readonly workBoundGpuHours: number;
  /** GPU-hours of the clairvoyant oracle (the `oracle` row). */
  readonly oracleGpuHours: number;
  readonly timelineBucketMinutes: number;
  readonly frontEnd: SimModel["frontEnd"];
  readonly policies: readonly PolicyResult[];
  /** Policies asked for but not run, and why (their signals do not exist behind this front end). */
  readonly omittedPolicies: readonly { readonly name: string; readonly reason: string }[];
}

export interface RunOptions {
  readonly model: SimModel;
  readonly context: PolicyContext;
  /** Called now and then with the share of this policy's run done. */
  readonly onProgress?: (policy: string, fraction: number) => void;
  /** Upper bound on timeline points per policy. */
  readonly maxTimelinePoints?: number;
  /** The oracle's rows when already computed for this trace and model (a sweep reuses them). */
  readonly oracleRows?: readonly PolicyResult[];
}

/**
 * Warm-up traffic: the trace's opening ticks replayed in a loop, ending on the trace's first tick.
 * The world before the trace is taken to look like its opening — bursts and lulls included, not
 * smoothed into a Poisson stream at their mean: a policy that remembers recent bursts (as every
 * HPA does for its stabilisation window) must meet the trace with the memory a service running
 * that traffic would have.
 */
export function warmupCohort(
  opening: OpeningRate,
  arrivals: ArrivalStream,
  tick: number,
  nowMs: number,
): Cohort | undefined {
  const ticks = opening.ticks;
  if (ticks.length === 0) return undefined;
  const index = ticks[((tick % ticks.length) + ticks.length) % ticks.length] as number;
  return cohortAt(arrivals, index, nowMs);
}

export interface OpeningRate {
  readonly requestsPerTick: number;
  readonly contextTokens: number;
  readonly generatedTokens: number;
  /** The ticks (with data) of the trace's first 10 minutes with data, in order. */
  readonly ticks: readonly number[];
}

/** The mean arrival rate and request size of the trace's first 10 minutes with data. */
export function openingRate(arrivals: ArrivalStream): OpeningRate {
  const window = Math.max(1, Math.round(600_000 / arrivals.tickMs));
  let ticks = 0;
  let count = 0;
  let context = 0;
  let generated = 0;
  const opening: number[] = [];
  for (let t = 0; t < arrivals.ticks && ticks < window; t++) {
    if (!arrivals.accounted[t]) continue;
    ticks++;
    opening.push(t);
    count += arrivals.count[t] as number;
    context += arrivals.contextTokens[t] as number;
    generated += arrivals.generatedTokens[t] as number;
  }
  return {
    requestsPerTick: ticks > 0 ? count / ticks : 0,
    contextTokens: count > 0 ? context / count : 0,
    generatedTokens: count > 0 ? generated / count : 0,
    ticks: opening,
  };
}

/** Readings observed on the simulated clock, stamped on the wall clock the policy decides on. */
function onWallClock(readings: SignalReadings, offsetMs: number): SignalReadings {
  if (offsetMs === 0) return readings;
  const shifted: Record<string, Reading> = {};
  for (const [key, reading] of Object.entries(readings) as [string, Reading][])
    shifted[key] = reading.ok ? { ...reading, observedAtMs: reading.observedAtMs + offsetMs } : reading;
  return shifted as SignalReadings;
}

export function workBoundGpuHours(arrivals: ArrivalStream, model: SimModel): number {
  let seconds = 0;
  for (let t = 0; t < arrivals.ticks; t++)
    if (arrivals.accounted[t]) seconds += workSecondsAt(arrivals, model.replica, t);
  return (seconds * model.cluster.gpusPerPod) / 3600;
}

export function simulate(
  arrivals: ArrivalStream,
  policies: readonly PolicyDefinition[],
  options: RunOptions,
): SimulationResult {
  validateModel(options.model);
  const workBound = workBoundGpuHours(arrivals, options.model);
  const frontEnd = options.model.frontEnd;
  const runnable = policies.filter((p) => p.frontEnds.includes(frontEnd));
  const omittedPolicies = policies
    .filter((p) => !p.frontEnds.includes(frontEnd))
    .map((p) => ({
      name: p.name,
      reason: p.frontEndNote ?? `runs only with --front-end ${p.frontEnds.join(" or ")}`,
    }));
  const measured = runnable.map((policy) => runPolicy(arrivals, policy, options));
  const oracles = options.oracleRows ?? oracleRows(arrivals, options);
  const oracleGpuHours = oracles.find((p) => p.name === "oracle")?.gpuHours ?? Number.NaN;
  const results = [...measured, ...oracles].map((p) => ({
    ...p,
    workBoundRatio: workBound > 0 ? p.gpuHours / workBound : Number.POSITIVE_INFINITY,
    oracleRatio: oracleGpuHours > 0 ? p.gpuHours / oracleGpuHours : Number.POSITIVE_INFINITY,
  }));
  const first = results[0]?.timeline;
  const bucketMs = first?.[0] && first[1] ? first[1].atMs - first[0].atMs : 60_000;
  return {
    startMs: arrivals.startMs,
    endMs: arrivals.startMs + arrivals.ticks * arrivals.tickMs,
    requests: arrivals.totalRequests,
    scale: arrivals.scale,
    zone: options.context.zone,
    slaSeconds: options.model.slaSeconds,
    workBoundGpuHours: workBound,
    oracleGpuHours,
    timelineBucketMinutes: bucketMs / 60_000,
    frontEnd,
    policies: results,
    omittedPolicies,
  };
}

/** The oracle's rows for this trace and model. */
export function oracleRows(arrivals: ArrivalStream, options: RunOptions): PolicyResult[] {
  options.onProgress?.("oracle", 0);
  const rows = runOracles(arrivals, {
    model: options.model,
    maxReplicas: options.context.maxReplicas,
    draws: new StartupDraws(options.model.cluster, options.model.seed),
    ...(options.maxTimelinePoints !== undefined ? { maxTimelinePoints: options.maxTimelinePoints } : {}),
  });
  options.onProgress?.("oracle", 1);
  return rows;
}

/** The warm-up doubles from --warmup-minutes until the policy settles, at most this many times. */
const WARMUP_DOUBLINGS = 4;
/** Settled: replicas and nodes unchanged for this long, nothing starting, nothing piling up. */
const SETTLE_MS = 15 * 60_000;

/**
 * Runs one policy over the trace, from its own steady state on the opening traffic: the warm-up
 * (unbilled, uncounted) replays the trace's opening ten minutes for --warmup-minutes, and if the policy has not
 * settled by then it is run again from scratch with twice the warm-up, and so on. Starting over
 * keeps the policies' clocks continuous: the warm-up always ends exactly where the trace starts.
 */
export function runPolicy(
  arrivals: ArrivalStream,
  policy: PolicyDefinition,
  options: RunOptions,
): PolicyResult {
  let warmupMs = options.model.warmupMs;
  for (let attempt = 0; ; attempt++) {
    const final = attempt === WARMUP_DOUBLINGS || warmupMs === 0;
    const result = runPolicyFrom(arrivals, policy, options, warmupMs, final);
    if (result) return result;
    warmupMs *= 2;
  }
}

function runPolicyFrom(
  arrivals: ArrivalStream,
  policy: PolicyDefinition,
  options: RunOptions,
  warmupMs: number,
  final: boolean,
): PolicyResult | undefined {
  const { model } = options;
  if (arrivals.tickMs !== model.tickMs) throw new Error("the arrival stream was built with another tick");
  const wallStart = performance.now();
  const cluster = new Cluster(
    model.cluster,
    model.replica,
    new StartupDraws(model.cluster, model.seed).forWarmup(),
    model.frontEnd,
  );
  /** The Service Bus queue, or with the HTTP front end the gateway (requests wait there only while no pod is ready). */
  const queue = new RequestQueue();
  const viaQueue = model.frontEnd === "queue";
  // Service Bus counts a peek-locked message as active until the consumer completes it (after
  // its last token): the active count is what waits in the queue plus what the pods hold.
  const activeMessages = () => queue.length + cluster.inFlight();
  const warmupTicks = Math.round(warmupMs / model.tickMs);
  const firstMs = arrivals.startMs - warmupTicks * model.tickMs;
  const observer = new Observer(model.observation, model.tickMs, firstMs);
  const history = new InflowHistory();
  const leadTimes = new PodLeadTimes(
    model.observation.scrapeIntervalMs + model.observation.prometheusDelayMs,
  );
  cluster.onServingPodReady = (pod) => leadTimes.record(pod.createdMs, pod.scheduledMs, pod.readyAtMs);
  const view: WorldView = {
    readings: (nowMs, gpuMetric) => {
      const all = onWallClock(observer.readings(nowMs, activeMessages(), gpuMetric), wallOffsetMs);
      if (viaQueue) return all;
      // No Service Bus behind a load balancer: the scaler has no queue source configured.
      const { queueBacklog: _, ...withoutQueue } = all;
      return withoutQueue;
    },
    // The forecast's history is kept and asked on the wall clock: "a day ago" is a calendar day.
    history: (spec, nowMs) => ({
      ...history.readings(spec, nowMs + wallOffsetMs),
      ...leadTimes.readings(spec, nowMs, nowMs + wallOffsetMs),
    }),
    wallTime: (nowMs) => nowMs + wallOffsetMs,
    snapshot: (nowMs) => observer.visibleSnapshot(nowMs),
    queueBacklog: (nowMs) => observer.queueBacklogAt(nowMs, activeMessages()).value,
    pods: () => cluster.servingPodsListed(),
  };
  const built = policy.build(view, options.context);
  const startMs = arrivals.startMs;
  /** Wall-clock time minus simulated time: grows by each no-data interval skipped. */
  let wallOffsetMs = 0;
  const opening = openingRate(arrivals);
  // A running Deployment sized for the opening rate (at 100 %) is where every warm-up starts;
  // from there each policy moves to its own steady state. Starting at a policy's minimum could
  // strand one that has no signal to wake from zero (behind a load balancer nothing counts the
  // requests of a Deployment without pods).
  const openingReplicas = Math.ceil(
    (opening.requestsPerTick *
      (opening.contextTokens / model.replica.prefillTokensPerSecond +
        opening.generatedTokens / model.replica.decodeTokensPerSecond)) /
      (model.tickMs / 1000),
  );
  const controller = new ScaleController(
    built.setup,
    Math.min(built.setup.maxReplicas, Math.max(built.initialReplicas(firstMs), openingReplicas)),
    firstMs,
  );
  const headroom = built.headroom
    ? new ScaleController(built.headroom.setup, built.headroom.initialReplicas, firstMs)
    : undefined;
  if (headroom) cluster.placeholderTarget = headroom.replicas;
  for (const c of [controller, headroom])
    for (const period of c?.periodsMs() ?? [])
      if (period.ms <= 0 || period.ms % model.tickMs !== 0)
        throw new Error(
          `${policy.name}: the ${period.name} (${period.ms / 1000} s) is not a whole number of ${model.tickMs / 1000} s ticks; choose --tick-seconds 1 or 5`,
        );
  cluster.warmStart(controller.replicas, firstMs);
  let scaleEventsBefore = 0;

  const spanMs = arrivals.ticks * arrivals.tickMs;
  const maxPoints = options.maxTimelinePoints ?? 1500;
  const bucketMs = Math.max(60_000, Math.ceil(spanMs / maxPoints / 60_000) * 60_000);
  const timeline = new Timeline(startMs, bucketMs);
  const stats = new TtftStats(model.slaSeconds);
  let point: TimelinePoint | undefined = timeline.at(startMs);
  const sink: ServingSink = {
    firstTokens(count, first, last, wait, arrivalMs) {
      observer.observeTtft(count, first, last);
      if (arrivalMs < startMs) return; // warm-up traffic
      stats.record(count, first, last, wait);
      if (point) {
        point.ttftMaxSeconds = Math.max(point.ttftMaxSeconds, first, last);
        point.slaMisses += count * (1 - shareAtMost(model.slaSeconds, first, last));
      }
    },
    completed() {},
  };

  const tickMs = model.tickMs;
  const tickSeconds = tickMs / 1000;
  const drainTicks = Math.ceil(model.drainLimitMs / tickMs);
  // No-data intervals are skipped, not replayed: the simulated world's clock (pods, nodes, KEDA,
  // the HPA, Prometheus) stops across them and the cluster resumes where it was; only the wall
  // clock (calendars, the warm floor, the report) jumps. simTick counts the ticks simulated.
  let simTick = -warmupTicks;
  const progressEvery = Math.max(1, Math.floor(arrivals.ticks / 200));
  let gpuSeconds = 0;
  let drainGpuSeconds = 0;
  let requests = 0;
  let nodesAtEnd = 0;
  let tick = -warmupTicks;
  let lastChangeTick = tick;
  let lastShape = "";
  let settled = warmupTicks === 0;
  const settleTicks = Math.round(SETTLE_MS / tickMs);
  for (; tick < arrivals.ticks + drainTicks; tick++) {
    const inTrace = tick >= 0 && tick < arrivals.ticks;
    const nowMs = startMs + simTick * tickMs;
    const wallMs = startMs + tick * tickMs;
    if (tick < 0) {
      const shape = `${controller.replicas}/${cluster.nodes.length}/${cluster.placeholderTarget}`;
      if (shape !== lastShape) {
        lastShape = shape;
        lastChangeTick = tick;
      }
    }
    if (tick === 0 && warmupTicks > 0) {
      settled =
        -lastChangeTick >= settleTicks &&
        cluster.unreadyServingCount() === 0 &&
        cluster.nodes.every((n) => n.isReady(nowMs) && n.pods > 0) &&
        queue.length <= 2 * opening.requestsPerTick + 1;
      if (!settled && !final) return undefined;
    }
    if (tick === 0) {
      cluster.resetCounters(new StartupDraws(model.cluster, model.seed));
      scaleEventsBefore = controller.scaleEvents;
      built.decisions?.changes.restart();
    }
    if (tick === arrivals.ticks) nodesAtEnd = cluster.nodes.length;
    // The drain ends once the backlog is served and the cluster is back to at most the nodes it
    // ran when the trace ended: a policy that fell behind pays for catching up and for the
    // extra nodes it added to do so.
    if (
      tick >= arrivals.ticks &&
      queue.length === 0 &&
      cluster.pods.every((p) => p.serving.idle) &&
      cluster.nodes.length <= nodesAtEnd
    )
      break;
    if (inTrace && !arrivals.accounted[tick]) continue;
    wallOffsetMs = wallMs - nowMs;
    simTick++;
    cluster.advance(nowMs);
    if ((nowMs - firstMs) % model.cluster.caScanIntervalMs === 0) cluster.autoscaleNodes(nowMs);
    controller.step(nowMs);
    if (headroom) {
      headroom.step(nowMs);
      cluster.placeholderTarget = headroom.replicas;
    }
    cluster.reconcileReplicas(controller.replicas, nowMs, queue);
    cluster.advance(nowMs);
    point = inTrace ? timeline.at(wallMs) : undefined;
    const arriving = inTrace
      ? cohortAt(arrivals, tick, nowMs)
      : tick < 0
        ? warmupCohort(opening, arrivals, tick, nowMs)
        : undefined;
    if (arriving) {
      queue.push(arriving);
      if (inTrace) requests += arriving.count;
    }
    cluster.dispatch(queue);
    cluster.processTick(nowMs, tickMs, sink);
    observer.endTick(nowMs + tickMs, cluster, activeMessages(), controller.replicas);
    history.recordFrom(observer, nowMs + tickMs, wallOffsetMs);
    if (tick >= arrivals.ticks) {
      const billed = cluster.gpusBilled() * tickSeconds;
      gpuSeconds += billed;
      drainGpuSeconds += billed;
    }
    if (inTrace && arrivals.accounted[tick]) {
      gpuSeconds += cluster.gpusBilled() * tickSeconds;
      const share = tickMs / bucketMs;
      const p = point as TimelinePoint;
      p.demandReplicas += (workSecondsAt(arrivals, model.replica, tick) / tickSeconds) * share;
      p.readyReplicas += cluster.readyServingCount() * share;
      p.nodes += cluster.nodes.length * share;
      p.desiredReplicas = Math.max(p.desiredReplicas, controller.replicas);
      p.queueMax = Math.max(p.queueMax, queue.length);
      p.floorReplicas = Math.max(p.floorReplicas, built.floorAt?.(wallMs) ?? 0);
      p.samples++;
    }
    if (inTrace && tick % progressEvery === 0) options.onProgress?.(policy.name, tick / arrivals.ticks);
  }
  // The drain limit ran out: what still waits, in the queue or pulled by a pod, missed the SLA.
  let unserved = queue.length;
  for (const pod of cluster.pods) unserved += pod.serving.waitingCount;
  if (unserved > 0) {
    const endMs = startMs + simTick * tickMs;
    stats.recordUnserved(
      unserved,
      (endMs - (queue.oldestArrivalMs() ?? startMs + arrivals.ticks * tickMs)) / 1000,
    );
  }
  options.onProgress?.(policy.name, 1);
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const gpuHours = gpuSeconds / 3600;
  const drivingFactors = built.decisions ? Object.fromEntries(built.decisions.drivingFactors) : undefined;
  return {
    name: policy.name,
    description: policy.description,
    requests,
    withinSlaFraction: stats.withinSlaFraction(),
    ttftP50Seconds: stats.quantile(0.5),
    ttftP95Seconds: stats.quantile(0.95),
    ttftP99Seconds: stats.quantile(0.99),
    worstQueueWaitSeconds: stats.worstQueueWaitSeconds,
    unservedRequests: unserved,
    gpuHours,
    drainGpuHours: drainGpuSeconds / 3600,
    warmupMinutes: warmupMs / 60_000,
    settledBeforeTrace: settled,
    costDollars: gpuHours * model.dollarsPerGpuHour,
    // Set by simulate(), which knows the bounds.
    workBoundRatio: Number.NaN,
    oracleRatio: Number.NaN,
    scaleEvents: controller.scaleEvents - scaleEventsBefore,
    coldStarts: cluster.counters.coldStarts,
    nodesProvisioned: cluster.counters.nodesProvisioned,
    peakReplicas: cluster.counters.peakReadyReplicas,
    peakNodes: cluster.counters.peakNodes,
    ...(drivingFactors ? { drivingFactors } : {}),
    ...(built.decisions ? { decisionChanges: built.decisions.changes.result } : {}),
    wallSeconds,
    simulatedMinutesPerWallSecond: spanMs / 60_000 / Math.max(wallSeconds, 1e-6),
    timeline: timeline.points,
  };
}
