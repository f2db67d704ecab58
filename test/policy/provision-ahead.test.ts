import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide, type PolicyMemory } from "../../src/policy/decide.ts";
import { forecastInflow } from "../../src/policy/forecast.ts";
import type { SignalReadings } from "../../src/readings/signal-table.ts";
import { broken, decideOnce, NOON, ok, readingsOf, specOf } from "./helpers.ts";

describe("forecast of the inflow one lead time ahead", () => {
  const settings = { leadMs: 480_000, trend: false, trendWindowMs: 120_000 };

  it("adds the rise the same window showed yesterday, from nothing too", () => {
    const f = forecastInflow(
      settings,
      0,
      [{ label: "yesterday", rateThen: 0.1, peakAheadThen: 6 }],
      [],
      NOON,
    );
    expect(f.inflowAhead).toBeCloseTo(5.9, 5);
    expect(f.note).toContain("yesterday the inflow rose from 0.1 to 6 req/s over the next 8 min");
  });

  it("takes the larger rise of two seasons, and never lowers today's inflow", () => {
    const seasons = [
      { label: "yesterday", rateThen: 3, peakAheadThen: 4 },
      { label: "last week", rateThen: 3, peakAheadThen: 6 },
    ];
    expect(forecastInflow(settings, 2, seasons, [], NOON).inflowAhead).toBe(5);
    const falling = [{ label: "yesterday", rateThen: 6, peakAheadThen: 6 }];
    const f = forecastInflow(settings, 2, falling, [], NOON);
    expect(f.inflowAhead).toBe(2);
    expect(f.note).toBeUndefined();
  });

  it("continues a rise when the trend is on, at most doubling", () => {
    const trend = { ...settings, trend: true };
    const first = forecastInflow(trend, 2, [], [], NOON);
    const second = forecastInflow(trend, 3, [], first.recent, NOON + 60_000);
    expect(second.inflowAhead).toBe(6);
    expect(second.note).toContain("at most ×2");
    const gentle = forecastInflow(trend, 2.1, [], first.recent, NOON + 60_000);
    expect(gentle.inflowAhead).toBeCloseTo(2.1 + 0.1 * 8, 5);
  });

  it("forecasts nothing without a readable inflow", () => {
    const f = forecastInflow(
      settings,
      undefined,
      [{ label: "yesterday", rateThen: 0, peakAheadThen: 9 }],
      [],
      NOON,
    );
    expect(f.inflowAhead).toBe(0);
    expect(f.note).toBeUndefined();
  });
});

describe("decide(): provisioning for the demand one lead time ahead", () => {
  const quiet = {
    queueBacklog: 0,
    vllmWaiting: 0,
    ttftRequestsPerSecond: 2,
    replicasReady: 2,
    replicasDesired: 2,
  };

  it("raises the answer ahead of yesterday's ramp and names the forecast in the reasons", () => {
    const d = decideOnce(specOf(), { ...quiet, inflowDayAgo: 2, inflowPeakAheadDayAgo: 8 });
    // (2 + 6) req/s at 2 req/s per replica = 4 replicas of load; ÷ 0.7 → 6.
    expect(d.loadReplicas).toBe(4);
    expect(d.desiredReplicas).toBe(6);
    expect(d.drivingFactor).toBe("forecast");
    const rule = d.rules.find((r) => r.rule === "forecast");
    expect(rule?.note).toMatch(/forecast for 12:08 UTC = 4 replicas of load at 2 req\/s each/);
    expect(d.summary).toContain("forecast 4 replicas of load one lead time ahead");
  });

  it("falls back to today's rule on a cold start (history reads 0) and ignores broken history", () => {
    const today = decideOnce(specOf(), quiet);
    const cold = decideOnce(specOf(), { ...quiet, inflowDayAgo: 0, inflowPeakAheadDayAgo: 0 });
    expect(cold.desiredReplicas).toBe(today.desiredReplicas);
    const failed = decideOnce(specOf(), {
      ...quiet,
      inflowDayAgo: broken(),
      inflowPeakAheadDayAgo: broken(),
    });
    expect(failed.desiredReplicas).toBe(today.desiredReplicas);
    // Broken history is not missing data: no "never down" hold, no fail-static rule.
    expect(failed.rules.map((r) => r.rule)).not.toContain("no-scale-down-on-missing-data");
  });

  it("does not read history with forecastSeasons=none", () => {
    const d = decideOnce(specOf({ forecastSeasons: "none" }), {
      ...quiet,
      inflowDayAgo: 2,
      inflowPeakAheadDayAgo: 8,
    });
    expect(d.drivingFactor).not.toBe("forecast");
  });

  it("plans the queue with the learned capacity once saturation lasted a rate window", () => {
    const spec = specOf({ rateWindow: "2m" });
    let memory: PolicyMemory | undefined;
    let last: ReturnType<typeof decide> | undefined;
    for (let t = 0; t <= 1800; t += 15) {
      const now = NOON + t * 1000;
      const readings = readingsOf(
        {
          queueBacklog: 0,
          vllmWaiting: 40,
          ttftRequestsPerSecond: 4,
          replicasReady: 4,
          replicasDesired: 4,
          replicasUnavailable: 0,
        },
        now,
      );
      last = decide(spec, readings, now, memory);
      memory = last.memory;
    }
    const queue = last?.decision.signals.find((v) => v.signal === "queue");
    expect(queue?.note).toContain("at 1");
    expect(last?.decision.rules.some((r) => r.rule === "learned-capacity")).toBe(true);
  });
});

/** Properties: whatever the history says, the forecast only ever raises the answer. */
describe("forecast invariants", () => {
  const rate = fc.double({ min: 0, max: 100, noNaN: true });
  const arb = fc.record({
    backlog: fc.integer({ min: 0, max: 500 }),
    waiting: fc.integer({ min: 0, max: 100 }),
    inflow: rate,
    ready: fc.integer({ min: 0, max: 20 }),
    dayThen: rate,
    dayPeak: rate,
    weekThen: rate,
    weekPeak: rate,
    minReplicas: fc.integer({ min: 0, max: 3 }),
    maxReplicas: fc.integer({ min: 3, max: 40 }),
    floor: fc.boolean(),
    previous: fc.integer({ min: 0, max: 40 }),
  });

  it("never below the warm floor or minReplicas, never above maxReplicas, never lower than without it, never down while requests wait", () => {
    fc.assert(
      fc.property(arb, (x) => {
        const metadata = {
          minReplicas: String(x.minReplicas),
          maxReplicas: String(x.maxReplicas),
          ...(x.floor ? { warmFloorSchedule: "UTC daily 06:00-18:00", warmFloorReplicas: "2" } : {}),
        };
        const base: Record<string, number> = {
          queueBacklog: x.backlog,
          vllmWaiting: x.waiting,
          ttftRequestsPerSecond: x.inflow,
          replicasReady: x.ready,
          replicasDesired: x.ready,
        };
        const history = {
          inflowDayAgo: x.dayThen,
          inflowPeakAheadDayAgo: x.dayPeak,
          inflowWeekAgo: x.weekThen,
          inflowPeakAheadWeekAgo: x.weekPeak,
        };
        const memory: PolicyMemory = { lastDesired: x.previous };
        const readings = (values: Record<string, number>): SignalReadings => {
          const out: Record<string, ReturnType<typeof ok>> = {};
          for (const [k, v] of Object.entries(values)) out[k] = ok(v, NOON);
          return out as SignalReadings;
        };
        const spec = specOf(metadata);
        const without = decide(spec, readings(base), NOON, memory).decision;
        const withForecast = decide(spec, readings({ ...base, ...history }), NOON, memory).decision;
        expect(withForecast.desiredReplicas).toBeGreaterThanOrEqual(without.desiredReplicas);
        expect(withForecast.desiredReplicas).toBeLessThanOrEqual(x.maxReplicas);
        expect(withForecast.desiredReplicas).toBeGreaterThanOrEqual(
          Math.min(x.maxReplicas, Math.max(x.minReplicas, withForecast.floorReplicas)),
        );
        if (x.backlog + x.waiting > 0)
          expect(withForecast.desiredReplicas).toBeGreaterThanOrEqual(without.desiredReplicas);
      }),
      { numRuns: 300 },
    );
  });
});
