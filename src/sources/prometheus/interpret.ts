import { failureOf, type Reading, readingOf } from "../../readings/reading.ts";
import type { QueryAnswer, Sample } from "./client.ts";
import { PART_LABEL, type PrometheusQuery } from "./queries.ts";

function finite(value: string): number | undefined {
  const parsed = Number(value);
  return value.trim() !== "" && Number.isFinite(parsed) ? parsed : undefined;
}

function valueReading(query: PrometheusQuery, sample: Sample, observedAtMs: number): Reading {
  const value = finite(sample.value);
  if (value === undefined)
    return failureOf(
      "prometheus",
      "not_a_number",
      `${query.what}: Prometheus answered ${sample.value.slice(0, 16)}` +
        (query.signal === "ttftP95Seconds"
          ? " (no request reached its first token within the rate window)"
          : ""),
    );
  return readingOf(value, observedAtMs);
}

/**
 * A cached answer → this caller's reading. Staleness is judged here, against the caller's clock,
 * because a cached answer ages.
 */
export function readingFromAnswer(
  query: PrometheusQuery,
  answer: QueryAnswer,
  nowMs: number,
  staleAfterMs: number,
): Reading {
  if (!answer.ok) return answer;
  if (query.custom) {
    if (answer.samples.length === 0)
      return failureOf("prometheus", "empty", `${query.what}: ${query.whenEmpty}`);
    if (answer.samples.length > 1)
      return failureOf(
        "prometheus",
        "bad_response",
        `${query.what}: returned ${answer.samples.length} series; a custom query must return one (aggregate it, e.g. sum(…))`,
      );
    // Only the evaluation time is known: a custom query's staleness cannot be judged.
    const sample = answer.samples[0] as Sample;
    return valueReading(query, sample, sample.timestampMs);
  }

  const values = answer.samples.filter((s) => s.labels[PART_LABEL] === "value");
  const freshness = answer.samples.find((s) => s.labels[PART_LABEL] === "freshness");
  if (values.length === 0) return failureOf("prometheus", "empty", `${query.what}: ${query.whenEmpty}`);
  if (values.length > 1 || answer.samples.length > 2)
    return failureOf(
      "prometheus",
      "bad_response",
      `${query.what}: expected one series, got ${values.length}`,
    );
  const value = values[0] as Sample;
  const newestOfOldestSeconds = freshness ? finite(freshness.value) : undefined;
  const observedAtMs = newestOfOldestSeconds !== undefined ? newestOfOldestSeconds * 1000 : value.timestampMs;
  const ageMs = nowMs - observedAtMs;
  if (ageMs > staleAfterMs)
    return failureOf(
      "prometheus",
      "stale",
      `${query.what}: the oldest series behind the value was last sampled ${(ageMs / 1000).toFixed(0)} s ago (limit ${(staleAfterMs / 1000).toFixed(0)} s)`,
    );
  return valueReading(query, value, observedAtMs);
}
