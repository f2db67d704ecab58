import type { ScalerSpec } from "../config/spec.ts";
import type { RuleFired } from "./decision.ts";
import type { Backlog } from "./workload.ts";

/**
 * Activation is KEDA's 0 ↔ 1 gate (IsActive, and a metric of 0 while inactive). Waking from zero
 * takes a reason: a floor, minReplicas, requests waiting above activationBacklog, requests
 * running, missing data, or a forecast that expects demand within a lead time (behind an HTTP
 * front end nothing else sees the requests that reach a Deployment at zero: no pod counts them). Once the Deployment runs, any signal that says it is active keeps it
 * running — a quiet instant between bursts (nothing waiting or running at the poll) must not
 * report 0 and start KEDA's cooldown towards zero while the signals still see load. A signal
 * with its own activation threshold (activationGpuUtilisation, …) says so only above it.
 */
export interface ActivationInput {
  readonly floor: number;
  /** The demand signals that say the workload is active. */
  readonly activeSignals: readonly string[];
  readonly backlog: Backlog;
  /** vLLM requests running, when usable. */
  readonly running: number | undefined;
  /** A reading is failed or held: missing data cannot prove the workload idle. */
  readonly missingData: boolean;
  /** The count is held up (every signal down, missing data, the scale-down delay). */
  readonly holding: boolean;
  /** The forecast raised the load: demand is expected within a lead time. */
  readonly forecast: boolean;
  /** Our previous answer, else the Deployment's count. */
  readonly previous: number | undefined;
  readonly current: number | undefined;
}

/** Whether anything justifies running the target now. */
export function reasonToRun(spec: ScalerSpec, input: ActivationInput): boolean {
  const serving = spec.target.role === "serving";
  const wakes =
    input.floor > 0 ||
    (serving && spec.target.minReplicas > 0) ||
    input.backlog.atLeast > spec.activation.activationBacklog ||
    (input.running ?? 0) > 0 ||
    (!input.backlog.read && input.activeSignals.length > 0) ||
    input.missingData ||
    input.holding ||
    input.forecast;
  const alreadyRunning = (input.previous ?? 0) > 0 || (input.current ?? 0) > 0;
  return wakes || (alreadyRunning && input.activeSignals.length > 0);
}

/**
 * The gate itself: a serving target with no reason to run reports 0 and inactive, whatever the
 * demand stages computed; placeholders are active whenever there are any.
 */
export function applyActivation(
  spec: ScalerSpec,
  input: { readonly answer: number; readonly metricValue: number; readonly reasonToRun: boolean },
): { readonly metricValue: number; readonly active: boolean; readonly reasons: readonly RuleFired[] } {
  const serving = spec.target.role === "serving";
  const active = input.metricValue > 0 && (serving ? input.reasonToRun : input.answer > 0);
  if (input.metricValue <= 0 || active) return { metricValue: input.metricValue, active, reasons: [] };
  return {
    metricValue: 0,
    active,
    reasons: [
      {
        rule: "activation",
        note: `${input.metricValue} would be asked for, but nothing waits above activationBacklog ${spec.activation.activationBacklog}, nothing runs, no signal is active${thresholdsOf(spec)} and the floor is 0: stays inactive`,
      },
    ],
  };
}

/** The per-signal activation thresholds that are set, for the activation rule's note. */
function thresholdsOf(spec: ScalerSpec): string {
  const { gpuUtilisation, kvCacheUsage, tokensPerSecond } = spec.activation;
  const set = [
    gpuUtilisation !== undefined ? `GPU above ${gpuUtilisation}` : undefined,
    kvCacheUsage !== undefined ? `KV-cache above ${kvCacheUsage}` : undefined,
    tokensPerSecond !== undefined ? `tokens/s above ${tokensPerSecond}` : undefined,
  ].filter((part) => part !== undefined);
  return set.length > 0 ? ` (${set.join(", ")})` : "";
}
