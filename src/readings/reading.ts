/**
 * What a source hands the policy: a value with the time it was observed, or a typed failure.
 * Never a silent 0 (sources never invent data): what to do about a failure is the policy's decision.
 */
export type SourceName = "prometheus" | "serviceBus" | "azureMonitor";

export type FailureKind =
  | "not_configured"
  | "unreachable"
  | "timeout"
  | "auth"
  | "not_found"
  | "throttled"
  | "empty"
  | "not_a_number"
  | "stale"
  | "bad_response"
  | "forbidden_query";

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
