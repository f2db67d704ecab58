import { describe, expect, it } from "vitest";
import { refreshScheduleOf } from "../../src/sources/refresh-schedule.ts";

const limits = {
  cacheTtlMs: 5_000,
  historyRefreshMs: 60_000,
  leadTimeRefreshMs: 600_000,
  staleAfterMs: 120_000,
};

describe("how often each batch of Prometheus readings is read", () => {
  it("reads live gauges every SOURCE_CACHE_TTL_MS, stale after SOURCE_STALE_AFTER_SECONDS", () => {
    expect(refreshScheduleOf(["vllmWaiting", "kvCacheUsage"], limits)).toEqual({
      refreshMs: 5_000,
      staleAfterMs: 120_000,
    });
  });

  it("reads the history every SOURCE_HISTORY_REFRESH_MS, at most every half the staleness limit", () => {
    expect(refreshScheduleOf(["inflowDayAgo", "inflowPeakAheadWeekAgo"], limits).refreshMs).toBe(60_000);
    expect(refreshScheduleOf(["inflowDayAgo"], { ...limits, historyRefreshMs: 600_000 })).toEqual({
      refreshMs: 60_000,
      staleAfterMs: 120_000,
    });
  });

  it("reads the measured lead time every SOURCE_LEAD_TIME_REFRESH_MS, usable for two of them", () => {
    expect(refreshScheduleOf(["leadTimeObserved", "leadTimePods"], limits)).toEqual({
      refreshMs: 600_000,
      staleAfterMs: 1_200_000,
    });
    // Never stricter than the live limit.
    expect(
      refreshScheduleOf(["leadTimeObserved"], { ...limits, leadTimeRefreshMs: 60_000, staleAfterMs: 300_000 })
        .staleAfterMs,
    ).toBe(300_000);
  });

  it("gives a batch that mixes kinds the live schedule", () => {
    expect(refreshScheduleOf(["leadTimeObserved", "vllmWaiting"], limits).refreshMs).toBe(5_000);
    expect(refreshScheduleOf(["inflowDayAgo", "leadTimeObserved"], limits).refreshMs).toBe(60_000);
  });
});
