import { describe, expect, it } from "vitest";
import type { LoadResult } from "../../bench/support/load-generator.ts";
import { percentile, poolRounds, roundOrder } from "../../bench/support/rounds.ts";

function round(latenciesMs: number[], extra: Partial<LoadResult> = {}): LoadResult {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return {
    requests: latenciesMs.length,
    polls: latenciesMs.length / 2,
    errors: {},
    errorExamples: {},
    latencyMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? 0 },
    latenciesMs,
    throughputPerSecond: latenciesMs.length,
    elapsedMs: 1000,
    window: { startMs: 0, endMs: 1000 },
    streamsOpened: 0,
    streamMessages: 0,
    ...extra,
  };
}

describe("roundOrder", () => {
  it("alternates which server goes first, so that neither always meets the machine later", () => {
    expect(roundOrder(3)).toEqual([
      ["scaler", "noop"],
      ["noop", "scaler"],
      ["scaler", "noop"],
    ]);
  });
});

describe("poolRounds", () => {
  it("takes percentiles over every round's requests together, not an average of the rounds' percentiles", () => {
    // 100 fast calls in one round, 100 in another with one slow tail of 2: pooled, the slow
    // calls are 1 % of 200, exactly at the p99 rank.
    const quiet = round(Array.from({ length: 100 }, () => 1));
    const noisy = round([...Array.from({ length: 98 }, () => 1), 50, 60]);
    const pooled = poolRounds([quiet, noisy]);
    expect(pooled.requests).toBe(200);
    expect(pooled.latencyMs).toEqual({ p50: 1, p99: 50, max: 60 });
    // The mean of the two rounds' p99s would have said 30.5.
    expect((quiet.latencyMs.p99 + noisy.latencyMs.p99) / 2).toBe(30.5);
  });

  it("adds errors and polls, keeps the first example per code and each round's window", () => {
    const a = round([1, 2], { errors: { UNAVAILABLE: 1 }, errorExamples: { UNAVAILABLE: "first" } });
    const b = round([3, 4], {
      errors: { UNAVAILABLE: 2, CANCELLED: 1 },
      errorExamples: { UNAVAILABLE: "second", CANCELLED: "c" },
      window: { startMs: 5000, endMs: 6000 },
    });
    const pooled = poolRounds([a, b]);
    expect(pooled.errors).toEqual({ UNAVAILABLE: 3, CANCELLED: 1 });
    expect(pooled.errorExamples).toEqual({ UNAVAILABLE: "first", CANCELLED: "c" });
    expect(pooled.polls).toBe(2);
    expect(pooled.throughputPerSecond).toBe(2);
    expect(pooled.windows).toEqual([
      { startMs: 0, endMs: 1000 },
      { startMs: 5000, endMs: 6000 },
    ]);
  });

  it("refuses a round whose latencies were not kept rather than pooling nothing", () => {
    expect(() => poolRounds([round([1], { latenciesMs: undefined })])).toThrow(/keepLatencies/);
  });
});
