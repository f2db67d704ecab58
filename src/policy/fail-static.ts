import type { Reading } from "../readings/reading.ts";
import { isHistory, type SignalKey, type SignalReadings, signalKeysWhere } from "../readings/signal-table.ts";
import type { Count, Step } from "./count.ts";
import type { RuleFired, SignalVerdict } from "./decision.ts";
import type { LastGoodReadings } from "./memory.ts";
import type { UsableReadings } from "./usable.ts";

/**
 * Fail-static: missing data never lowers the answer. A failed reading votes with its last good
 * value for a while; when every signal is down the previous answer is held for a bounded time
 * and then KEDA's fallback takes over; while any reading is missing the answer never goes down,
 * and never becomes zero.
 */

/** Readings whose fresh value proves a signal alive (replica counts and activity only qualify). */
const SIGNAL_READINGS = signalKeysWhere((a) => a.role === "demand" || a.role === "qualifier");

/**
 * Applies the fail-static rule to every live reading: a fresh value is used and remembered; a
 * failed one is replaced by its last good value while that is at most `holdMs` old, else stays
 * failed. An absent reading stays absent (the signal is not in use), and so does a history one
 * (the forecast reads those from the readings themselves). The memory keeps only signals that
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
  for (const name in readings) {
    const key = name as SignalKey;
    const reading: Reading | undefined = readings[key];
    if (!reading || isHistory(key)) continue;
    if (reading.ok) {
      usable[key] = { state: "fresh", value: reading.value, observedAtMs: reading.observedAtMs };
      // The reading itself, shared with the source's cache and the decision's inputs (memory.ts).
      remembered[key] = reading;
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

/**
 * The last instant a signal had a fresh reading. "Good reading" means a fresh value behind a
 * signal, not a verdict: a signal can abstain on a held value, and counting that would stretch
 * unavailableAfterSeconds by the hold time.
 */
export function lastSignalAt(
  usable: UsableReadings,
  nowMs: number,
  before: number | undefined,
): number | undefined {
  return SIGNAL_READINGS.some((key) => usable[key]?.state === "fresh") ? nowMs : before;
}

/** Readings that are broken (held or failed), not only whole signals: a partial backlog is a lower bound. */
export function brokenReadings(usable: UsableReadings): SignalKey[] {
  return (Object.keys(usable) as SignalKey[]).filter((key) => usable[key]?.state !== "fresh");
}

export function failedSignals(verdicts: readonly SignalVerdict[]): {
  readonly inUse: number;
  readonly failed: readonly SignalVerdict[];
  readonly text: string;
} {
  const inUse = verdicts.filter((v) => v.status !== "disabled");
  const failed = inUse.filter((v) => v.status === "failed");
  return { inUse: inUse.length, failed, text: failed.map((v) => `${v.signal}: ${v.note}`).join("; ") };
}

export interface EverySignalDownInput {
  readonly verdicts: readonly SignalVerdict[];
  readonly nowMs: number;
  readonly lastSignalAtMs: number | undefined;
  readonly lastDesired: number | undefined;
  readonly floor: number;
  readonly unavailableAfterSeconds: number;
}

/**
 * Every signal in use is down: hold the previous answer for a bounded time, then let KEDA's
 * fallback take over; with no previous good reading there is nothing to hold.
 * Undefined: some signal still works, the demand stages decide.
 */
export function everySignalDown(
  input: EverySignalDownInput,
): Step | { readonly unavailable: string } | undefined {
  const signals = failedSignals(input.verdicts);
  if (signals.inUse === 0 || signals.failed.length !== signals.inUse) return undefined;
  const goneForMs = input.lastSignalAtMs === undefined ? undefined : input.nowMs - input.lastSignalAtMs;
  const limitS = input.unavailableAfterSeconds;
  if (goneForMs === undefined || input.lastDesired === undefined)
    return { unavailable: `no signal has a usable reading yet (${signals.text})` };
  if (goneForMs > limitS * 1000)
    return {
      unavailable: `no signal has had a good reading for ${Math.round(goneForMs / 1000)} s, more than unavailableAfterSeconds ${limitS} (${signals.text})`,
    };
  return {
    count: { desired: Math.max(input.lastDesired, input.floor), driving: "hold", holding: true },
    reasons: [
      {
        rule: "fail-static-hold",
        note: `every signal is down (${signals.text}): holding ${input.lastDesired} for up to ${limitS} s after the last good reading (${Math.round(goneForMs / 1000)} s so far)`,
      },
    ],
  };
}

/** While any reading is missing, the answer does not go below the previous one. */
export function noScaleDownOnMissingData(
  count: Count,
  previous: number | undefined,
  broken: readonly SignalKey[],
): Step {
  if (broken.length === 0 || previous === undefined || count.desired >= previous)
    return { count, reasons: [] };
  const reason: RuleFired = {
    rule: "no-scale-down-on-missing-data",
    note: `kept ${previous} instead of ${count.desired}: ${broken.join(", ")} missing (failed or held)`,
  };
  return { count: { desired: previous, driving: "hold", holding: true }, reasons: [reason] };
}

/**
 * Zero from a decision with a failed signal and nothing to compare with would scale a workload
 * to zero on missing data: no answer instead (KEDA's fallback applies). Undefined: answer.
 */
export function neverZeroOnMissingData(
  count: Count,
  previous: number | undefined,
  verdicts: readonly SignalVerdict[],
): string | undefined {
  const signals = failedSignals(verdicts);
  if (signals.failed.length === 0 || count.desired !== 0 || previous !== undefined) return undefined;
  return `the answer would be 0 while ${signals.text}, and there is no previous answer: missing data never scales to zero`;
}
