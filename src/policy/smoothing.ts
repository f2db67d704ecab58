import { type InstantaneousGaugeKey, signalKeysWhere } from "../readings/signal-table.ts";
import type { UsableReading, UsableReadings } from "./usable.ts";

/**
 * GPU utilisation and KV-cache usage are instantaneous gauges: sampled every 15 s they swing from
 * 10 % to 100 % between two scrapes of a lightly loaded replica, and scaled by the ready count
 * that is a replica of "demand" appearing and vanishing on every poll — each spike a Pending pod
 * and a GPU node started for nothing. An exponentially weighted average over a time constant
 * removes the noise and follows a real rise within about one time constant. TTFT and tokens/s
 * are already averaged by their PromQL rate window; the queue is a count and is not smoothed.
 */
const SMOOTHED = signalKeysWhere((a) => a.instantaneousGauge) as readonly InstantaneousGaugeKey[];
type SmoothedKey = InstantaneousGaugeKey;

export interface Smoothed {
  readonly value: number;
  readonly atMs: number;
}

export type SmoothedReadings = Partial<Record<SmoothedKey, Smoothed>>;

/**
 * Replaces the usable GPU and KV-cache values by their running averages. A reading that is no
 * longer usable drops its average, so a recovered source starts from its first new value.
 */
export function smoothUtilisation(
  usable: UsableReadings,
  previous: SmoothedReadings,
  nowMs: number,
  timeConstantMs: number,
): { usable: UsableReadings; smoothed: SmoothedReadings } {
  if (timeConstantMs <= 0) return { usable, smoothed: {} };
  let result = usable;
  const smoothed: SmoothedReadings = {};
  for (const key of SMOOTHED) {
    const reading = usable[key];
    if (!reading || reading.state === "failed") continue;
    const before = previous[key];
    const elapsedMs = before ? nowMs - before.atMs : 0;
    const value =
      before && elapsedMs >= 0
        ? before.value + (reading.value - before.value) * (1 - Math.exp(-elapsedMs / timeConstantMs))
        : reading.value;
    smoothed[key] = { value, atMs: nowMs };
    if (value !== reading.value) {
      if (result === usable) result = { ...usable };
      result[key] = { ...reading, value } as UsableReading;
    }
  }
  return { usable: result, smoothed };
}
