import { describe, expect, it } from "vitest";
import { parseScalerSpec } from "../../src/config/spec.ts";
import { LEAD_LADDER, PEAK_AHEAD_KEYS } from "../../src/readings/lead-time.ts";
import { InflowHistory } from "../../src/sim/history.ts";
import type { Observer } from "../../src/sim/observe.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;
/** A Monday, midnight UTC: the history starts a day before the instant the forecast reads at. */
const START = Date.parse("2026-11-23T00:00:00Z");

/** Prometheus' scrapes of the TTFT request rate, one a minute, as the simulator's observer gives them. */
function historyOf(ratePerMinute: (minute: number) => number, minutes: number): InflowHistory {
  const history = new InflowHistory();
  for (let minute = 0; minute < minutes; minute++) {
    const observer = {
      visibleSnapshot: (atMs: number) => ({
        atMs,
        servingPods: 1,
        ttftRequestsPerSecond: ratePerMinute(minute),
      }),
    } as unknown as Observer;
    history.recordFrom(observer, START + minute * MINUTE);
  }
  return history;
}

/** The peak of the 10-minute rate over [from, end], minute by minute: what max_over_time reads. */
function peakBetween(history: InflowHistory, fromMs: number, endMs: number): number {
  let peak = 0;
  for (let at = fromMs; at <= endMs; at += MINUTE) peak = Math.max(peak, history.rateAt(at));
  return peak;
}

describe("the simulated Prometheus history of the inflow", () => {
  // 1 req/s, a step to 5 at 00:30 yesterday, back to 2 at 01:00.
  const step = (minute: number) => (minute < 30 ? 1 : minute < 60 ? 5 : 2);
  const history = historyOf(step, 24 * 60 + 120);

  it("gives the peak over each window of the ladder, as separate max_over_time reads would", () => {
    const fromMs = START + 10 * MINUTE;
    const ends = [20, 35, 50, 90, 200].map((minute) => START + minute * MINUTE);
    const peaks = history.peaksOver(fromMs, ends);
    expect(peaks).toEqual(ends.map((endMs) => peakBetween(history, fromMs, endMs)));
    // Before the step, into it (the 10-minute rate half way up), past it.
    expect(peaks[0]).toBe(1);
    expect(peaks[1]).toBeCloseTo((6 * 5 + 4 * 1) / 10, 9);
    expect(peaks[3]).toBe(5);
    expect(peaks[4]).toBe(5); // a running peak: the step is inside every window that reaches past it
  });

  it("reads yesterday's peak over every window of the ladder when the lead time is measured, the setting's alone otherwise", () => {
    const nowMs = START + DAY + 20 * MINUTE; // 00:20 today: yesterday's step came 10 minutes later
    const spec = (leadTimeMeasured: string) =>
      parseScalerSpec(
        { name: "chat", namespace: "team-a" },
        { leadTimeSeconds: "960", leadTimeMeasured, forecastSeasons: "day" },
        {},
      );
    const measured = history.readings(spec("true"), nowMs);
    for (const factor of LEAD_LADDER) {
      const key = PEAK_AHEAD_KEYS.day[factor];
      const thenMs = nowMs - DAY;
      expect(measured[key], key).toMatchObject({
        ok: true,
        value: peakBetween(history, thenMs, thenMs + 960 * factor * 1000),
      });
    }
    // 8 min ahead sees none of the step; 32 min ahead sees all of it.
    expect(measured[PEAK_AHEAD_KEYS.day[0.5]]).toMatchObject({ value: 1 });
    expect(measured[PEAK_AHEAD_KEYS.day[2]]).toMatchObject({ value: 5 });
    const setting = history.readings(spec("false"), nowMs);
    expect(Object.keys(setting).sort()).toEqual(["inflowDayAgo", "inflowPeakAheadDayAgo"]);
  });
});
