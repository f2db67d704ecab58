import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide, type PolicyMemory } from "../../src/policy/decide.ts";
import { type ForecastSettings, forecastInflow, type TrendMemory } from "../../src/policy/forecast.ts";
import { historyOf } from "../../src/policy/provision-ahead.ts";
import type { SignalReadings } from "../../src/readings/signal-table.ts";
import { broken, decideOnce, NOON, ok, specOf } from "./helpers.ts";

describe("forecast of the inflow one lead time ahead", () => {
  const settings: ForecastSettings = {
    leadMs: 480_000,
    trend: false,
    trendWindowMs: 300_000,
    trendMinDurationMs: 60_000,
    significance: 3,
    rateWindowMs: 120_000,
    historyWindowMs: 600_000,
  };
  const none = { recent: [] };

  it("adds the rise the same window showed yesterday, from nothing too", () => {
    const f = forecastInflow(
      settings,
      0,
      [{ label: "yesterday", rateThen: 0, peakAheadThen: 6 }],
      none,
      NOON,
    );
    expect(f.inflowAhead).toBeCloseTo(6, 5);
    expect(f.note).toContain("yesterday the inflow rose from 0 to 6 req/s over the next 8 min");
  });

  it("takes the larger rise of two seasons, and never lowers today's inflow", () => {
    const seasons = [
      { label: "yesterday", rateThen: 3, peakAheadThen: 4 },
      { label: "last week", rateThen: 3, peakAheadThen: 6 },
    ];
    expect(forecastInflow(settings, 3, seasons, none, NOON).inflowAhead).toBe(6);
    const falling = [{ label: "yesterday", rateThen: 6, peakAheadThen: 6 }];
    const f = forecastInflow(settings, 2, falling, none, NOON);
    expect(f.inflowAhead).toBe(2);
    expect(f.note).toBeUndefined();
  });

  it("ignores a seasonal rise within the counting noise of the history's 10-minute rate", () => {
    // √((3.2 + 3) / 600) ≈ 0.10 req/s: a 0.2 req/s "rise" is two standard errors, the peak of
    // eight noisy points standing over the first.
    const noise = [{ label: "yesterday", rateThen: 3, peakAheadThen: 3.2 }];
    expect(forecastInflow(settings, 3, noise, none, NOON).note).toBeUndefined();
    const real = [{ label: "yesterday", rateThen: 3, peakAheadThen: 4 }];
    expect(forecastInflow(settings, 3, real, none, NOON).inflowAhead).toBeCloseTo(4, 5);
  });

  it("scales a season's rise by how far today runs below it (a Saturday after a Friday)", () => {
    const friday = [{ label: "yesterday", rateThen: 20, peakAheadThen: 30 }];
    const saturday = forecastInflow(settings, 5, friday, none, NOON);
    // (5 + 3 √(20/600 + 5/120)) / 20 ≈ 0.29 of the 10 req/s rise.
    expect(saturday.inflowAhead).toBeGreaterThan(7.5);
    expect(saturday.inflowAhead).toBeLessThan(8.5);
    expect(saturday.note).toContain("today runs at 29 % of yesterday's rate at this time");
    // A day like yesterday (within noise of it) gets the whole rise; a busier one no more.
    expect(forecastInflow(settings, 19.5, friday, none, NOON).inflowAhead).toBeCloseTo(29.5, 5);
    expect(forecastInflow(settings, 40, friday, none, NOON).inflowAhead).toBeCloseTo(50, 5);
  });

  /** Polls every 15 s for the given inflows, carrying the trend's memory. */
  function pollTrend(inflows: readonly number[], trendSettings = { ...settings, trend: true }) {
    let memory: TrendMemory = { recent: [] };
    const out: ReturnType<typeof forecastInflow>[] = [];
    inflows.forEach((inflow, i) => {
      const f = forecastInflow(trendSettings, inflow, [], memory, NOON + i * 15_000);
      memory = f;
      out.push(f);
    });
    return out;
  }

  it("continues a sustained real ramp over the lead time, at most doubling", () => {
    // 2 → 6 req/s over 5 minutes: far above the noise of a 2-minute rate.
    const ramp = Array.from({ length: 21 }, (_, i) => 2 + (4 * i) / 20);
    const last = pollTrend(ramp).at(-1);
    expect(last?.inflowAhead).toBe(12);
    expect(last?.note).toContain("at most ×2");
    expect(last?.note).toContain("standard errors of counting noise");
    // +0.1 req/s a poll from 20: 2 req/s over the 5-minute window is beyond 3 × √(42/120) ≈ 1.8
    // req/s once the window is full, and lasts a minute by the 31st poll: continued over 8 min.
    const gentle = Array.from({ length: 31 }, (_, i) => 20 + i / 10);
    const g = pollTrend(gentle).at(-1);
    expect(g?.inflowAhead).toBeCloseTo(23 + 3.2, 1);
  });

  it("does not fire on Poisson noise around a steady rate", () => {
    // Deterministic Poisson-like noise: ±1 standard error of a 2-minute rate at 6 req/s.
    const sd = Math.sqrt(6 / 120);
    const noisy = Array.from({ length: 80 }, (_, i) => 6 + sd * Math.sin(i * 2.3) * 1.4);
    expect(pollTrend(noisy).every((f) => f.note === undefined)).toBe(true);
  });

  it("waits for a rise to last trendMinDurationMs, and starts over when it breaks", () => {
    const ramp = Array.from({ length: 21 }, (_, i) => 2 + (4 * i) / 20);
    const polls = pollTrend(ramp);
    const firstSignificant = polls.findIndex((f) => f.risingSinceMs !== undefined);
    const firstFired = polls.findIndex((f) => f.note !== undefined);
    expect(firstSignificant).toBeGreaterThanOrEqual(0);
    expect(firstFired - firstSignificant).toBe(4);
    // A burst that is over (the rate falls back) clears the memory of the rise.
    const burst = pollTrend([...ramp.slice(0, 8), 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    expect(burst.at(-1)?.risingSinceMs).toBeUndefined();
    expect(burst.at(-1)?.note).toBeUndefined();
    // With no minimum duration it fires as soon as the rise is significant.
    const eager = pollTrend(ramp, { ...settings, trend: true, trendMinDurationMs: 0 });
    expect(eager.findIndex((f) => f.note !== undefined)).toBe(firstSignificant);
  });

  it("does not scale a season down when no replica is ready to measure today's inflow", () => {
    const lastWeek = [{ label: "last week", rateThen: 4, peakAheadThen: 8 }];
    expect(forecastInflow(settings, 0, lastWeek, none, NOON).inflowAhead).toBeLessThan(4);
    const unseen = forecastInflow(settings, 0, lastWeek, none, NOON, false);
    expect(unseen.inflowAhead).toBeCloseTo(4, 5);
  });

  it("property: the trend only raises, and at most doubles, whatever the inflow does", () => {
    const trend = { ...settings, trend: true, trendMinDurationMs: 0 };
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 1, maxLength: 60 }),
        (inflows) => {
          let memory: TrendMemory = { recent: [] };
          inflows.forEach((inflow, i) => {
            const f = forecastInflow(trend, inflow, [], memory, NOON + i * 15_000);
            expect(f.inflowAhead).toBeGreaterThanOrEqual(inflow);
            expect(f.inflowAhead).toBeLessThanOrEqual(2 * inflow + 1e-9);
            expect(f.recent.length).toBeLessThanOrEqual(64);
            memory = f;
          });
        },
      ),
    );
  });

  it("forecasts nothing without a readable inflow", () => {
    const f = forecastInflow(
      settings,
      undefined,
      [{ label: "yesterday", rateThen: 0, peakAheadThen: 9 }],
      none,
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

  it("wakes a Deployment at zero when the season expects demand within a lead time", () => {
    // Behind an HTTP front end no pod counts the requests that reach a Deployment at zero; only
    // the history says they are coming.
    const atZero = {
      queueBacklog: 0,
      vllmWaiting: 0,
      ttftRequestsPerSecond: 0,
      replicasReady: 0,
      replicasDesired: 0,
    };
    const asleep = decideOnce(specOf(), atZero, NOON, { lastDesired: 0 });
    expect(asleep.active).toBe(false);
    const woken = decideOnce(specOf(), { ...atZero, inflowWeekAgo: 1, inflowPeakAheadWeekAgo: 3 }, NOON, {
      lastDesired: 0,
    });
    expect(woken.active).toBe(true);
    expect(woken.desiredReplicas).toBeGreaterThanOrEqual(1);
    expect(woken.rules.find((r) => r.rule === "forecast")?.note).toContain("last week the inflow rose");
    // History within noise of nothing wakes nothing.
    const faint = decideOnce(specOf(), { ...atZero, inflowWeekAgo: 0, inflowPeakAheadWeekAgo: 0.001 }, NOON, {
      lastDesired: 0,
    });
    expect(faint.active).toBe(false);
  });

  it("does not read history with forecastSeasons=none", () => {
    const d = decideOnce(specOf({ forecastSeasons: "none" }), {
      ...quiet,
      inflowDayAgo: 2,
      inflowPeakAheadDayAgo: 8,
    });
    expect(d.drivingFactor).not.toBe("forecast");
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

describe("history readings, which only the forecast reads", () => {
  const current: SignalReadings = { vllmWaiting: ok(3), replicasReady: ok(2) };

  it("give the seasons where both of a season's readings came back", () => {
    const history = historyOf({ ...current, inflowDayAgo: ok(4), inflowPeakAheadDayAgo: ok(9) }, "day");
    expect(history.seasons).toEqual([{ label: "yesterday", rateThen: 4, peakAheadThen: 9 }]);
    expect(historyOf({ ...current, inflowDayAgo: ok(4) }, "day").seasons).toEqual([]);
    // A peak of the ladder's window, or the setting's own when that one did not come back.
    const ladder = {
      ...current,
      inflowDayAgo: ok(4),
      inflowPeakAheadDayAgo: ok(9),
      inflowPeakAhead125DayAgo: ok(11),
    };
    expect(historyOf(ladder, "day", 1.25)).toEqual({
      seasons: [{ label: "yesterday", rateThen: 4, peakAheadThen: 11 }],
      windowFactor: 1.25,
    });
    expect(historyOf(ladder, "day", 0.75)).toEqual({
      seasons: [{ label: "yesterday", rateThen: 4, peakAheadThen: 9 }],
      windowFactor: 1,
    });
  });

  it("are never screened or held as live readings: old by design, and absent on a cold start", () => {
    const spec = specOf();
    const dayOld = NOON - 86_400_000;
    const live = { vllmWaiting: ok(3, NOON), replicasReady: ok(2, NOON), queueBacklog: ok(0, NOON) };
    const readings: SignalReadings = {
      ...live,
      inflowDayAgo: ok(4, dayOld),
      inflowPeakAheadDayAgo: ok(-1, dayOld),
    };
    const { decision, memory } = decide(spec, readings, NOON);
    expect(decision.rules.map((rule) => rule.rule)).not.toContain("bad-reading");
    expect(Object.keys(memory.lastGood ?? {})).not.toContain("inflowDayAgo");
  });
});
