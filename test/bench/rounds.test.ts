import { describe, expect, it } from "vitest";
import type { LoadResult } from "../../bench/support/load-generator.ts";
import { geometricMean, median, percentile, poolRounds, roundOrder } from "../../bench/support/rounds.ts";

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
    expect(roundOrder(4)).toEqual([
      ["scaler", "noop"],
      ["noop", "scaler"],
      ["scaler", "noop"],
      ["noop", "scaler"],
    ]);
  });
});

describe("geometricMean", () => {
  it("averages ratios so that ×2 and ×0.5 cancel, and refuses what is not a positive number", () => {
    expect(geometricMean([2, 0.5])).toBeCloseTo(1, 12);
    expect(geometricMean([1.5, 1.5, 1.5])).toBeCloseTo(1.5, 12);
    expect(geometricMean([4, 1, 2])).toBeCloseTo(2, 12);
    expect(geometricMean([])).toBeNaN();
    expect(geometricMean([1, 0])).toBeNaN();
    expect(geometricMean([1, Number.NaN])).toBeNaN();
  });
});

describe("median", () => {
  it("takes the middle value, or the mean of the middle two, whatever the order", () => {
    expect(median([3.1, 0.8, 1.5])).toBe(1.5);
    expect(median([3, 1, 2, 10])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe("poolRounds", () => {
  it("takes percentiles over every round's requests together, not an average of the rounds' percentiles", () => {
    // 300 fast calls in two quiet rounds, and a noisy round of 100 whose 5 slowest are slow:
    // pooled, the slow calls sit at indices 395-399 of 400, and the p99 (index 396) is 50.
    const fast = (n: number) => Array.from({ length: n }, (_, i) => 1 + i / 1000);
    const quiet = [round(fast(150)), round(fast(150))];
    const noisy = round([...fast(95), 40, 50, 60, 70, 80]);
    const pooled = poolRounds([...quiet, noisy]);
    expect(pooled.requests).toBe(400);
    expect(pooled.latencyMs.p99).toBe(50);
    expect(pooled.latencyMs.max).toBe(80);
    expect(pooled.latencyMs.p50).toBeCloseTo(1.066);
    // Each round's own p99 differs: the quiet ones ~1.15, the noisy one 80. Their mean (~27.4)
    // or their median (~1.15) would both misstate the pooled tail.
    expect(noisy.latencyMs.p99).toBe(80);
    expect(quiet[0]!.latencyMs.p99).toBeCloseTo(1.148);
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
