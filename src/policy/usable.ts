import type { SourceFailure } from "../readings/reading.ts";
import type { SignalKey } from "../readings/signal-table.ts";

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

export type UsableReadings = Partial<Record<SignalKey, UsableReading>>;

/** The value of a reading that can be used (fresh or held), else undefined. */
export function usableValue(reading: UsableReading | undefined): number | undefined {
  return reading && reading.state !== "failed" ? reading.value : undefined;
}

export function describeFailure(failure: SourceFailure): string {
  return `${failure.source} ${failure.kind}: ${failure.message}`;
}
