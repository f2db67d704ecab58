import type { ScalerSpec } from "../config/spec.ts";
import {
  LEAD_MAX_FACTOR,
  LEAD_MAX_SECONDS,
  LEAD_MIN_FACTOR,
  type LeadFactor,
  nearestFactor,
} from "../readings/lead-time.ts";
import type { SignalReadings } from "../readings/signal-table.ts";
import { round2 } from "./format.ts";

/**
 * The lead time the forecast plans with: `leadTimeSeconds`, or, with `leadTimeMeasured`, the
 * median created → Ready time of the target's recent pods that waited for a node
 * (kube-state-metrics): node provisioning plus model load, as the setting describes, measured on
 * this cluster — though from the pod's creation, so without the KEDA poll and HPA sync (15–45 s)
 * before it. Pods that landed on a node kept warm are not counted (they
 * start in a minute or two: the next node would look near). The median, not the slowest: the
 * setting is a typical lead too, and planning every forecast for the slowest start of the day
 * bought GPUs early for no request in the simulator (the 70 % headroom covers a start slower than
 * the median).
 *
 * Both ways, within bounds: a longer measurement looks further ahead (a setting that forgets the
 * node), a shorter one less far (a setting that assumes a slower cluster than this one buys GPUs
 * early). Never below half the setting, never above twice it or an hour. Missing, not a number,
 * negative or stale: the setting, so bad data never moves the answer.
 */
export interface LeadTime {
  readonly seconds: number;
  /** The window of the history ladder the seasons read: the one nearest `seconds`. */
  readonly windowFactor: LeadFactor;
  readonly measured: boolean;
  /**
   * For the forecast's reason, when there is more to say than the setting: "lead time 9.5 min,
   * measured: …", or why a measurement that came back was not used. Written when asked: only a
   * forecast that raises the load says it, and every decision reads the lead time.
   */
  readonly describe?: () => string;
}

function minutes(seconds: number): string {
  return `${round2(seconds / 60)} min`;
}

function setting(spec: ScalerSpec, why?: string): LeadTime {
  const seconds = spec.forecast.leadTimeSeconds;
  return {
    seconds,
    windowFactor: 1,
    measured: false,
    ...(why
      ? { describe: () => `lead time ${minutes(seconds)} (leadTimeSeconds): the measured lead time ${why}` }
      : {}),
  };
}

/**
 * How old a measurement may be. It is a median over leadTimeWindowHours that moves a pod at a
 * time, and the source reads it every SOURCE_LEAD_TIME_REFRESH_MS (10 min by default, at most 30):
 * an hour covers two of the longest refreshes; maxReadingAgeSeconds, meant for live gauges, would
 * have discarded it between them.
 */
const LEAD_TIME_MAX_AGE_SECONDS = 3600;

export function leadTimeFor(spec: ScalerSpec, readings: SignalReadings, nowMs: number): LeadTime {
  const { leadTimeSeconds: prior, leadTimeMeasured, leadTimeWindowHours } = spec.forecast;
  if (!leadTimeMeasured) return setting(spec);
  const reading = readings.leadTimeObserved;
  // Absent or empty: nothing measured yet (no pod created within the window), no fault to name.
  if (!reading || (!reading.ok && reading.failure.kind === "empty")) return setting(spec);
  if (!reading.ok) return setting(spec, `failed (${reading.failure.kind}): ${reading.failure.message}`);
  const observed = reading.value;
  if (!Number.isFinite(observed)) return setting(spec, `is not a number (${observed})`);
  if (observed < 0)
    return setting(spec, `is negative (${round2(observed)} s: a pod Ready before it was created)`);
  const ageMs = nowMs - reading.observedAtMs;
  if (ageMs > Math.max(spec.failStatic.maxReadingAgeSeconds, LEAD_TIME_MAX_AGE_SECONDS) * 1000)
    return setting(spec, `is stale (read ${Math.round(ageMs / 1000)} s ago)`);
  const podsReading = readings.leadTimePods;
  const pods =
    podsReading?.ok && Number.isFinite(podsReading.value) && podsReading.value >= 1
      ? Math.round(podsReading.value)
      : undefined;
  if (podsReading?.ok && pods === undefined) return setting(spec, "is of no pod");

  const low = prior * LEAD_MIN_FACTOR;
  const high = Math.min(prior * LEAD_MAX_FACTOR, LEAD_MAX_SECONDS);
  const seconds = Math.min(high, Math.max(low, observed));
  return {
    seconds,
    windowFactor: nearestFactor(prior, seconds),
    measured: true,
    describe: () => {
      const bound =
        seconds === observed
          ? ""
          : seconds === low
            ? `${LEAD_MIN_FACTOR} × the setting`
            : seconds === LEAD_MAX_SECONDS
              ? "an hour"
              : `${LEAD_MAX_FACTOR} × the setting`;
      const bounded = bound ? `, bounded to ${bound}` : "";
      const ofPods = pods !== undefined ? `the ${pods} pod(s)` : "the pods";
      return `lead time ${minutes(seconds)}, measured: ${ofPods} created in the last ${leadTimeWindowHours} h that waited for a node took a median ${minutes(observed)} from created to Ready${bounded} (leadTimeSeconds ${minutes(prior)})`;
    },
  };
}
