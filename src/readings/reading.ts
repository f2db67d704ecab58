/**
 * What a source hands the policy: a value with the time it was observed, or a typed failure.
 * Never a silent 0 (sources never invent data): what to do about a failure is the policy's decision.
 */
export type SourceName = "prometheus" | "serviceBus" | "azureMonitor";

/** Every way a reading can fail, as sources and the policy's own screening name them. */
export const FAILURE_KINDS = [
  "not_configured",
  "unreachable",
  "timeout",
  "auth",
  "not_found",
  "throttled",
  "empty",
  /** NaN or ±Inf where a number was expected. */
  "not_a_number",
  /** A value no source can truly have: a negative count, rate, usage or latency. */
  "impossible",
  /** A value older than the limit its consumer accepts. */
  "stale",
  "bad_response",
  "forbidden_query",
] as const;

export type FailureKind = (typeof FAILURE_KINDS)[number];

export interface SourceFailure {
  readonly kind: FailureKind;
  readonly source: SourceName;
  /** Safe to log and to return to KEDA: never contains a secret. */
  readonly message: string;
}

export type Reading =
  | { readonly ok: true; readonly value: number; readonly observedAtMs: number }
  | { readonly ok: false; readonly failure: SourceFailure };

export type FailedReading = Extract<Reading, { readonly ok: false }>;

export function readingOf(value: number, observedAtMs: number): Reading {
  return { ok: true, value, observedAtMs };
}

export function failureOf(source: SourceName, kind: FailureKind, message: string): FailedReading {
  return { ok: false, failure: { source, kind, message } };
}
