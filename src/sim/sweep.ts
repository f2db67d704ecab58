import type { ArrivalStream } from "./arrivals.ts";
import type { PolicyContext, PolicyDefinition } from "./policies.ts";
import { type PolicyResult, type RunOptions, simulate } from "./runner.ts";

/**
 * `simulate --sweep`: each policy's main knob over the range a team would try, so policies are
 * compared at the same SLA rather than each at one arbitrary setting. The cheapest point that
 * reaches the SLA target is the honest cost of a policy; the shipped setting is always one of the
 * values tried.
 */
export interface SweepKnob {
  /** The setting's name as a user knows it. */
  readonly knob: string;
  readonly values: readonly number[];
  /** The run's context with the knob at `value`. */
  apply(context: PolicyContext, value: number): PolicyContext;
}

function oursTarget(): SweepKnob {
  return {
    knob: "targetUtilisation",
    values: [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
    apply: (context, value) => ({
      ...context,
      ours: { ...context.ours, metadata: { ...context.ours.metadata, targetUtilisation: String(value) } },
    }),
  };
}

function baseline(
  knob: string,
  key: keyof NonNullable<PolicyContext["baselineKnobs"]>,
  values: readonly number[],
): SweepKnob {
  return {
    knob,
    values,
    apply: (context, value) => ({ ...context, baselineKnobs: { ...context.baselineKnobs, [key]: value } }),
  };
}

/** The knob of each policy that has one; ours-no-headroom is ours at a fixed target, so it has none. */
export function sweepKnobFor(policy: string, maxReplicas: number): SweepKnob | undefined {
  switch (policy) {
    case "ours":
    case "ours-no-floor":
    case "ours-warm-node":
      return oursTarget();
    case "keda-queue":
      return baseline("messagesPerReplica", "queueMessagesPerReplica", [1, 2, 3, 5, 8, 13, 20]);
    case "keda-multi":
      return baseline("thresholdScale", "multiThresholdScale", [0.2, 0.4, 0.6, 0.8, 1, 1.25]);
    case "hpa-gpu":
      return baseline("targetUtilisation", "hpaTargetUtilisation", [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    case "always-on":
      // A fixed fleet's only knob is its size.
      return {
        knob: "replicas",
        values: Array.from({ length: maxReplicas }, (_, i) => i + 1),
        apply: (context, value) => ({ ...context, maxReplicas: value }),
      };
    default:
      return undefined;
  }
}

export interface SweepPoint {
  readonly policy: string;
  readonly knob: string;
  readonly value: number;
  readonly withinSlaFraction: number;
  readonly gpuHours: number;
  readonly oracleRatio: number;
}

export interface CheapestPoint {
  readonly knob: string;
  readonly value: number;
  readonly gpuHours: number;
  readonly withinSlaFraction: number;
}

export interface SweepResult {
  readonly slaTarget: number;
  readonly points: readonly SweepPoint[];
  /** Per policy swept, its cheapest point within the SLA target, or null when none reaches it. */
  readonly cheapestAtSla: Readonly<Record<string, CheapestPoint | null>>;
}

export interface SweepOptions extends RunOptions {
  readonly slaTarget: number;
  /** The oracle's rows, computed once for the run. */
  readonly oracleRows: readonly PolicyResult[];
  /** Called after each point with how many are done of how many. */
  readonly onPoint?: (point: SweepPoint, done: number, total: number) => void;
}

/** One point of a sweep: a policy with its knob at one value. */
export interface SweepJob {
  readonly policy: PolicyDefinition;
  readonly knob: SweepKnob;
  readonly value: number;
}

/** Every point of a sweep, in the order the results list them. */
export function sweepJobs(policies: readonly PolicyDefinition[], maxReplicas: number): SweepJob[] {
  return policies.flatMap((policy) => {
    const knob = sweepKnobFor(policy.name, maxReplicas);
    return knob ? knob.values.map((value) => ({ policy, knob, value })) : [];
  });
}

/**
 * Runs one point. Undefined for a policy the run leaves out (its signals do not exist behind this
 * front end): it has no frontier. Each point depends on nothing but its inputs, so points may run
 * in any order or in parallel (the bench spreads them over worker threads).
 */
export function runSweepPoint(
  arrivals: ArrivalStream,
  job: SweepJob,
  options: RunOptions & { readonly oracleRows: readonly PolicyResult[] },
): SweepPoint | undefined {
  const { policy, knob, value } = job;
  const result = simulate(arrivals, [policy], {
    ...options,
    context: knob.apply(options.context, value),
    maxTimelinePoints: 10,
  });
  const row = result.policies.find((p) => p.name === policy.name);
  if (!row) return undefined;
  return {
    policy: policy.name,
    knob: knob.knob,
    value,
    withinSlaFraction: row.withinSlaFraction,
    gpuHours: row.gpuHours,
    oracleRatio: row.oracleRatio,
  };
}

export function runSweep(
  arrivals: ArrivalStream,
  policies: readonly PolicyDefinition[],
  options: SweepOptions,
): SweepResult {
  const jobs = sweepJobs(policies, options.context.maxReplicas);
  const points: SweepPoint[] = [];
  let done = 0;
  for (const job of jobs) {
    const point = runSweepPoint(arrivals, job, options);
    if (!point) continue;
    points.push(point);
    options.onPoint?.(point, ++done, jobs.length);
  }
  return { slaTarget: options.slaTarget, points, cheapestAtSla: cheapestAtSla(points, options.slaTarget) };
}

export function cheapestAtSla(
  points: readonly SweepPoint[],
  slaTarget: number,
): Record<string, CheapestPoint | null> {
  const cheapest: Record<string, CheapestPoint | null> = {};
  for (const p of points) {
    const best = cheapest[p.policy] ?? null;
    if (!(p.policy in cheapest)) cheapest[p.policy] = null;
    if (p.withinSlaFraction < slaTarget) continue;
    if (best === null || p.gpuHours < best.gpuHours)
      cheapest[p.policy] = {
        knob: p.knob,
        value: p.value,
        gpuHours: p.gpuHours,
        withinSlaFraction: p.withinSlaFraction,
      };
  }
  return cheapest;
}
