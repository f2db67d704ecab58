import type { ScalerSpec } from "../config/spec.ts";
import { type FailureKind, failureOf, type Reading, type SourceName } from "../readings/reading.ts";
import { isHistory, SIGNAL_TABLE, type SignalKey, type SignalReadings } from "../readings/signal-table.ts";
import type { RuleFired } from "./decision.ts";

/**
 * The first stage: a value no source can truly have is bad data, whatever the source said. NaN
 * or ±Inf, a negative count, rate, usage or latency, and a value older than maxReadingAgeSeconds
 * become failed readings, so the fail-static rules hold them: bad data never lowers the answer
 * and never reads as "no traffic". History readings are old by design and pass through as they
 * are (the forecast judges them itself).
 */
export function screenReadings(
  spec: ScalerSpec,
  readings: SignalReadings,
  nowMs: number,
): { readonly readings: SignalReadings; readonly reasons: readonly RuleFired[] } {
  const maxAgeMs = spec.failStatic.maxReadingAgeSeconds * 1000;
  let screened: Partial<Record<SignalKey, Reading>> | undefined;
  const notes: string[] = [];
  for (const name in readings) {
    const key = name as SignalKey;
    const reading = readings[key];
    if (!reading?.ok || isHistory(key)) continue;
    const problem = problemWith(key, reading.value, nowMs - reading.observedAtMs, maxAgeMs);
    if (!problem) continue;
    screened ??= { ...readings };
    screened[key] = failureOf(sourceOf(spec, key), problem.kind, problem.message);
    notes.push(problem.message);
  }
  if (!screened) return { readings, reasons: [] };
  return {
    readings: screened,
    reasons: [{ rule: "bad-reading", note: `${notes.join("; ")}: read as failed, never as a value` }],
  };
}

function problemWith(
  key: SignalKey,
  value: number,
  ageMs: number,
  maxAgeMs: number,
): { kind: FailureKind; message: string } | undefined {
  if (!Number.isFinite(value)) return { kind: "not_a_number", message: `${key} is ${value}` };
  if (value < 0)
    return {
      kind: "impossible",
      message: `${key} is ${value}, and ${SIGNAL_TABLE[key].unit} are never negative`,
    };
  if (ageMs > maxAgeMs)
    return {
      kind: "stale",
      message: `${key} was observed ${Math.round(ageMs / 1000)} s ago, more than maxReadingAgeSeconds ${maxAgeMs / 1000}`,
    };
  return undefined;
}

/** The source a reading came from: the GPU has two, chosen by the spec. */
function sourceOf(spec: ScalerSpec, key: SignalKey): SourceName {
  const sources: readonly SourceName[] = SIGNAL_TABLE[key].sources;
  if (sources.length > 1 && spec.sources.gpuSource === "azureMonitor" && sources.includes("azureMonitor"))
    return "azureMonitor";
  return sources[0] ?? "prometheus";
}
