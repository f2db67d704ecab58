/**
 * The bench's rounds: the scaler and the no-op are measured in alternating rounds, a fresh
 * process each, and each server's figures are taken over all its rounds together.
 *
 * Why: one 15 s window per server, scaler first, measured whatever the machine and V8 happened to
 * do in that window. The same code gave a p99 ratio from ×1.2 to ×4.0 on one day: the machine's
 * other work drifts over a minute, and V8 settles a fresh process into one of two collection
 * regimes (the no-op was in the cheaper one in about two runs of three) and, in every trace read,
 * kept to it for the run. Alternating in the order A B B A A B… gives both servers the same share
 * of any drift, and a fresh process per round samples V8's regime several times instead of once.
 */
import type { LoadResult } from "./load-generator.ts";

export type Server = "scaler" | "noop";

/** Which server goes first in each round: scaler, no-op; then no-op, scaler; and so on. */
export function roundOrder(rounds: number): Server[][] {
  return Array.from({ length: rounds }, (_, round) =>
    round % 2 === 0 ? ["scaler", "noop"] : ["noop", "scaler"],
  );
}

export interface PooledResult {
  readonly requests: number;
  readonly polls: number;
  readonly errors: Record<string, number>;
  readonly errorExamples: Record<string, string>;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly throughputPerSecond: number;
  /** Each round's measured window on the wall clock. */
  readonly windows: readonly LoadResult["window"][];
}

/**
 * The value at index ⌊p·n⌋ of n sorted values (0 when there are none): the convention the
 * generator has always used, one rank above nearest-rank when p·n is a whole number.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/**
 * One server's rounds as one measurement: latencies pooled before the percentiles are taken (a
 * round with a slow tail weighs by its requests, not as one vote), counts added, throughput over
 * the rounds' measured time together.
 */
export function poolRounds(rounds: readonly LoadResult[]): PooledResult {
  const latencies = new Float64Array(rounds.reduce((n, round) => n + requireLatencies(round).length, 0));
  let offset = 0;
  for (const round of rounds) {
    latencies.set(requireLatencies(round), offset);
    offset += round.latenciesMs!.length;
  }
  latencies.sort();
  const errors: Record<string, number> = {};
  const errorExamples: Record<string, string> = {};
  for (const round of rounds) {
    for (const [code, count] of Object.entries(round.errors)) errors[code] = (errors[code] ?? 0) + count;
    for (const [code, example] of Object.entries(round.errorExamples)) errorExamples[code] ??= example;
  }
  const requests = rounds.reduce((n, round) => n + round.requests, 0);
  const elapsedMs = rounds.reduce((ms, round) => ms + round.elapsedMs, 0);
  return {
    requests,
    polls: rounds.reduce((n, round) => n + round.polls, 0),
    errors,
    errorExamples,
    latencyMs: {
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      max: latencies[latencies.length - 1] ?? 0,
    },
    throughputPerSecond: elapsedMs > 0 ? (requests / elapsedMs) * 1000 : 0,
    windows: rounds.map((round) => round.window),
  };
}

function requireLatencies(round: LoadResult): readonly number[] {
  if (!round.latenciesMs)
    throw new Error("a round's latencies were not kept: run the generator with keepLatencies");
  return round.latenciesMs;
}

/** The median of some numbers (the mean of the middle two when their count is even; NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The geometric mean of positive numbers (NaN for none, or for any that is not positive). The
 * mean of ratios that fits them: a round at ×2 and one at ×0.5 average to ×1, not ×1.25.
 */
export function geometricMean(values: readonly number[]): number {
  if (values.length === 0 || values.some((value) => !(value > 0))) return Number.NaN;
  return Math.exp(values.reduce((sum, value) => sum + Math.log(value), 0) / values.length);
}
