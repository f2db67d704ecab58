import type { Reading, SourceFailure } from "../readings/reading.ts";
import type { SignalKey, SignalReadings } from "../readings/signal-table.ts";

/** A reading as the policy uses it, after the fail-static rule has looked at it. */
export type UsableReading =
  | { readonly state: "fresh"; readonly value: number; readonly observedAtMs: number }
  /** The source failed; its last good value is still inside the hold time. */
  | {
      readonly state: "held";
      readonly value: number;
      readonly observedAtMs: number;
      readonly failure: SourceFailure;
    }
  /** The source failed and there is no last good value young enough to stand in for it. */
  | { readonly state: "failed"; readonly failure: SourceFailure; readonly lastGoodAtMs?: number };

export interface LastGood {
  readonly value: number;
  readonly observedAtMs: number;
}

export type LastGoodReadings = Partial<Record<SignalKey, LastGood>>;
export type UsableReadings = Partial<Record<SignalKey, UsableReading>>;

/**
 * Applies the fail-static rule to every reading: a fresh value is used and remembered; a failed
 * one is replaced by its last good value while that is at most `holdMs` old, else stays failed.
 * An absent reading stays absent (the signal is not in use). The memory keeps only signals that
 * are still read, so it stays bounded by the number of signal kinds.
 */
export function applyFailStatic(
  readings: SignalReadings,
  lastGood: LastGoodReadings,
  nowMs: number,
  holdMs: number,
): { usable: UsableReadings; lastGood: LastGoodReadings } {
  const usable: UsableReadings = {};
  const remembered: LastGoodReadings = {};
  for (const key of Object.keys(readings) as SignalKey[]) {
    const reading: Reading | undefined = readings[key];
    if (!reading) continue;
    if (reading.ok) {
      usable[key] = { state: "fresh", value: reading.value, observedAtMs: reading.observedAtMs };
      remembered[key] = { value: reading.value, observedAtMs: reading.observedAtMs };
      continue;
    }
    const previous = lastGood[key];
    if (previous) remembered[key] = previous;
    if (previous && nowMs - previous.observedAtMs <= holdMs)
      usable[key] = {
        state: "held",
        value: previous.value,
        observedAtMs: previous.observedAtMs,
        failure: reading.failure,
      };
    else
      usable[key] = previous
        ? { state: "failed", failure: reading.failure, lastGoodAtMs: previous.observedAtMs }
        : { state: "failed", failure: reading.failure };
  }
  return { usable, lastGood: remembered };
}

/** The value of a reading that can be used (fresh or held), else undefined. */
export function usableValue(reading: UsableReading | undefined): number | undefined {
  return reading && reading.state !== "failed" ? reading.value : undefined;
}

export function describeFailure(failure: SourceFailure): string {
  return `${failure.source} ${failure.kind}: ${failure.message}`;
}
