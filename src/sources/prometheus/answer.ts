import { type FailedReading, failureOf } from "../../readings/reading.ts";
import { failureForStatus } from "../failures.ts";

/**
 * A Prometheus HTTP API answer read into samples. Pure and self-contained: it runs on the query
 * thread (query-worker.ts), so that a large body is parsed off the event loop that answers KEDA.
 */

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly timestampMs: number;
  /** As Prometheus writes it: a decimal, "NaN", "+Inf" or "-Inf". */
  readonly value: string;
}

export type QueryAnswer = { readonly ok: true; readonly samples: readonly Sample[] } | FailedReading;

/**
 * Series read from one answer. Every query the scaler builds aggregates to one or two series per
 * signal (a batch of the vLLM readings: ~20), and a custom query must return one: an answer with
 * more is wrong, and copying thousands of samples to the event loop that answers KEDA would cost
 * those calls milliseconds for nothing.
 */
const MAX_SERIES = 1000;

interface ApiBody {
  status?: unknown;
  error?: unknown;
  errorType?: unknown;
  data?: { resultType?: unknown; result?: unknown };
}

function parseJson(text: string): ApiBody | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? (parsed as ApiBody) : undefined;
  } catch {
    return undefined;
  }
}

function isSamplePair(value: unknown): value is [number, string] {
  return Array.isArray(value) && typeof value[0] === "number" && typeof value[1] === "string";
}

/** Prometheus' error text names the query problem (e.g. a parse error), never a credential. */
function apiError(body: ApiBody | undefined): string {
  const text = typeof body?.error === "string" ? body.error : "";
  return text ? `: ${text.slice(0, 300)}` : "";
}

export function parseAnswer(
  status: number,
  text: string,
  retryAfter: string | string[] | undefined,
  what: string,
): QueryAnswer {
  const body = parseJson(text);
  if (status === 400 || status === 422)
    return failureOf("prometheus", "bad_response", `${what}: Prometheus rejected the query${apiError(body)}`);
  if (status !== 200)
    return failureForStatus(
      "prometheus",
      status,
      what,
      Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    );
  if (body?.status !== "success" || typeof body.data !== "object" || body.data === null)
    return failureOf("prometheus", "bad_response", `${what}: the answer is not a Prometheus API response`);
  const { resultType, result } = body.data;
  if (resultType === "scalar" && isSamplePair(result))
    return { ok: true, samples: [{ labels: {}, timestampMs: result[0] * 1000, value: result[1] }] };
  if (resultType !== "vector" || !Array.isArray(result))
    return failureOf(
      "prometheus",
      "bad_response",
      `${what}: expected an instant vector, got ${String(resultType).slice(0, 20)}`,
    );
  if (result.length > MAX_SERIES)
    return failureOf(
      "prometheus",
      "bad_response",
      `${what}: the answer has ${result.length} series, more than the ${MAX_SERIES} read (the scaler's queries aggregate to a few)`,
    );
  const samples: Sample[] = [];
  for (const entry of result as unknown[]) {
    const { metric, value } = (entry ?? {}) as { metric?: unknown; value?: unknown };
    if (typeof metric !== "object" || metric === null || !isSamplePair(value))
      return failureOf("prometheus", "bad_response", `${what}: a sample in the answer is malformed`);
    samples.push({ labels: metric as Record<string, string>, timestampMs: value[0] * 1000, value: value[1] });
  }
  return { ok: true, samples };
}
