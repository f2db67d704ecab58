import { basename } from "node:path";
import { type ArrivalStream, buildArrivals, scaleForPeakReplicas } from "./arrivals.ts";
import type { SimulateOptions } from "./options.ts";
import { oursDeploymentFromYaml } from "./ours-config.ts";
import {
  OURS_REALTIME_METADATA,
  OURS_REALTIME_SCALED_OBJECT,
  type OursDeployment,
  oursWarmFloorSchedule,
  type PolicyContext,
  type PolicyDefinition,
  policiesByName,
} from "./policies.ts";
import type { RunDescription } from "./report.ts";
import { oracleRows, type SimulationResult, simulate } from "./runner.ts";
import { runSweep, type SweepPoint, type SweepResult } from "./sweep.ts";
import { readTrace, sliceTrace } from "./trace.ts";

export interface TraceRun {
  readonly run: RunDescription;
  readonly result: SimulationResult;
  /** With --sweep: every policy's knob over its range, and the cheapest point at the SLA target. */
  readonly sweep?: SweepResult;
}

/**
 * What `ours` runs with unless told otherwise: the realtime example's ScaledObject and trigger
 * metadata as a user would copy them (their capacity guess included), the
 * same maximum and SLA as the baselines, and the example's warm floor on the trace's clock.
 */
export function defaultOursDeployment(options: SimulateOptions): OursDeployment {
  return {
    ...OURS_REALTIME_SCALED_OBJECT,
    maxReplicaCount: options.maxReplicas,
    metadata: {
      ...OURS_REALTIME_METADATA,
      ...(options.model.frontEnd === "queue" ? { serviceBusQueue: "so-processing-queue" } : {}),
      maxReplicas: String(options.maxReplicas),
      latencySlaSeconds: String(options.model.slaSeconds),
      warmFloorSchedule: oursWarmFloorSchedule(options.zone),
    },
  };
}

/** A trace made ready to simulate: its arrivals, the policies' context and the run's description. */
export interface PreparedTrace {
  readonly arrivals: ArrivalStream;
  readonly context: PolicyContext;
  readonly policies: PolicyDefinition[];
  readonly run: RunDescription;
}

/** Reads, slices and scales the trace and builds ours' deployment, as every run of it needs. */
export function prepareTrace(
  options: SimulateOptions,
  traceText: string,
  configText: string | undefined,
): PreparedTrace {
  const name = basename(options.traceFile);
  const whole = readTrace(traceText, {
    name,
    zone: options.zone,
    ...(options.format ? { format: options.format } : {}),
    columns: options.columns,
  });
  const trace =
    options.fromMs !== undefined || options.untilMs !== undefined
      ? sliceTrace(whole, options.fromMs, options.untilMs)
      : whole;
  // --peak-replicas scales by the whole trace's busiest minute, so a slice keeps the same scale.
  const scale =
    options.peakReplicas !== undefined
      ? scaleForPeakReplicas(whole, options.model.replica, options.tokenSizes, options.peakReplicas)
      : (options.scale ?? 1);
  const arrivals = buildArrivals(trace, {
    tickMs: options.model.tickMs,
    scale,
    seed: options.model.seed,
    tokenSizes: options.tokenSizes,
    burstiness: options.burstiness,
  });
  const defaults = defaultOursDeployment(options);
  const fromConfig =
    configText !== undefined
      ? oursDeploymentFromYaml(configText, options.configFile ?? "--config")
      : undefined;
  const metadata = { ...defaults.metadata, ...(fromConfig?.metadata ?? {}), ...options.metadata };
  // --capacity-error: the user's capacity guess is off by this factor, whatever they configured.
  const guess = Number(
    metadata.requestsPerSecondPerReplica ?? OURS_REALTIME_METADATA.requestsPerSecondPerReplica,
  );
  const wrong = (value: number) => String(Number((value * options.capacityError).toPrecision(6)));
  // Token rates are a capacity guess too (read off a benchmark of another setup): the same error.
  const tokenRates: Record<string, string> = {};
  for (const key of ["prefillTokensPerSecondPerReplica", "decodeTokensPerSecondPerReplica"]) {
    const rate = Number(metadata[key]);
    if (metadata[key] !== undefined && Number.isFinite(rate) && rate > 0) tokenRates[key] = wrong(rate);
  }
  const ours: OursDeployment = {
    ...(fromConfig ?? defaults),
    metadata: { ...metadata, requestsPerSecondPerReplica: wrong(guess), ...tokenRates },
  };
  const context: PolicyContext = {
    zone: options.zone,
    maxReplicas: options.maxReplicas,
    hpaTolerance: options.hpaTolerance,
    baselineGpuMetric: options.model.observation.gpuUtilisation === "busy" ? "util" : "throughputShare",
    ours,
  };
  return {
    arrivals,
    context,
    policies: policiesByName(options.policies),
    run: {
      trace: name,
      format: trace.kind === "requests" ? "azure" : "counts",
      zone: options.zone,
      dollarsPerGpuHour: options.model.dollarsPerGpuHour,
      tickSeconds: options.model.tickMs / 1000,
      seed: options.model.seed,
      model: options.model,
    },
  };
}

export function runTrace(
  options: SimulateOptions,
  traceText: string,
  configText: string | undefined,
  onProgress?: (policy: string, fraction: number) => void,
  onSweepPoint?: (point: SweepPoint, done: number, total: number) => void,
): TraceRun {
  const { arrivals, context, policies, run } = prepareTrace(options, traceText, configText);
  const runOptions = {
    model: options.model,
    context,
    maxTimelinePoints: options.timelinePoints,
    ...(onProgress ? { onProgress } : {}),
  };
  // The oracle is computed once: the sweep's runs share it.
  const oracles = oracleRows(arrivals, runOptions);
  const result = simulate(arrivals, policies, { ...runOptions, oracleRows: oracles });
  const sweep = options.sweep
    ? runSweep(arrivals, policies, {
        model: options.model,
        context,
        slaTarget: options.slaTarget,
        oracleRows: oracles,
        ...(onSweepPoint ? { onPoint: onSweepPoint } : {}),
      })
    : undefined;
  return { run, result, ...(sweep ? { sweep } : {}) };
}
