import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide, type PolicyMemory } from "../../src/policy/decide.ts";
import { leadTimeFor } from "../../src/policy/lead-time.ts";
import { LEAD_LADDER, PEAK_AHEAD_KEYS } from "../../src/readings/lead-time.ts";
import type { Reading } from "../../src/readings/reading.ts";
import type { SignalReadings } from "../../src/readings/signal-table.ts";
import { broken, decideOnce, empty, NOON, ok, readingsOf, specOf } from "./helpers.ts";

/** Yesterday's peak over each window of the ladder (8 min setting): the rise comes 9–10 min ahead. */
function lateRise(then: number, peak: number): Record<string, number> {
  const out: Record<string, number> = { inflowDayAgo: then };
  for (const factor of LEAD_LADDER) out[PEAK_AHEAD_KEYS.day[factor]] = factor >= 1.25 ? peak : then;
  return out;
}

const quiet = {
  queueBacklog: 0,
  vllmWaiting: 0,
  ttftRequestsPerSecond: 2,
  replicasReady: 2,
  replicasDesired: 2,
};

describe("the lead time the forecast plans with", () => {
  const spec = specOf();

  it("is leadTimeSeconds until something is measured (absent or empty: nothing to say either)", () => {
    for (const readings of [{}, readingsOf({ leadTimeObserved: empty(), leadTimePods: empty() }, NOON)]) {
      const lead = leadTimeFor(spec, readings, NOON);
      expect(lead).toMatchObject({ seconds: 480, windowFactor: 1, measured: false });
      expect(lead.describe).toBeUndefined();
    }
  });

  it("is the measurement, explained, with the ladder's window nearest it", () => {
    const lead = leadTimeFor(spec, readingsOf({ leadTimeObserved: 612, leadTimePods: 6 }, NOON), NOON);
    expect(lead).toMatchObject({ seconds: 612, windowFactor: 1.25, measured: true });
    expect(lead.describe?.()).toBe(
      "lead time 10.2 min, measured: the 6 pod(s) created in the last 24 h that waited for a node took a median 10.2 min from created to Ready (leadTimeSeconds 8 min)",
    );
    // Within an eighth of the setting, the setting's own window (no jump a quarter up).
    expect(leadTimeFor(spec, readingsOf({ leadTimeObserved: 530 }, NOON), NOON).windowFactor).toBe(1);
    // Exactly between two windows (540 s: 1.125 × 480), the longer one: better early than late.
    expect(leadTimeFor(spec, readingsOf({ leadTimeObserved: 540 }, NOON), NOON).windowFactor).toBe(1.25);
  });

  it("is bounded to half and twice the setting, and an hour", () => {
    const fast = leadTimeFor(spec, readingsOf({ leadTimeObserved: 30, leadTimePods: 2 }, NOON), NOON);
    expect(fast).toMatchObject({ seconds: 240, windowFactor: 0.5 });
    expect(fast.describe?.()).toContain("bounded to 0.5 × the setting");
    const slow = leadTimeFor(spec, readingsOf({ leadTimeObserved: 5000 }, NOON), NOON);
    expect(slow).toMatchObject({ seconds: 960, windowFactor: 2 });
    const long = specOf({ leadTimeSeconds: "2400" });
    const capped = leadTimeFor(long, readingsOf({ leadTimeObserved: 9000 }, NOON), NOON);
    expect(capped.seconds).toBe(3600);
    expect(capped.describe?.()).toContain("took a median 150 min from created to Ready, bounded to an hour");
    expect(slow.describe?.()).toContain("bounded to 2 × the setting");
  });

  it("falls back to the setting, saying why, on a failed, impossible or stale measurement", () => {
    const cases: [Reading, string][] = [
      [broken(), "failed (unreachable)"],
      [ok(Number.NaN, NOON), "is not a number"],
      [ok(Number.POSITIVE_INFINITY, NOON), "is not a number"],
      [ok(-40, NOON), "is negative"],
      [ok(600, NOON - 3_601_000), "is stale"],
    ];
    for (const [reading, why] of cases) {
      const lead = leadTimeFor(spec, { leadTimeObserved: reading }, NOON);
      expect(lead).toMatchObject({ seconds: 480, windowFactor: 1, measured: false });
      expect(lead.describe?.()).toContain(`the measured lead time ${why}`);
    }
    // Forty minutes old is not stale: the source reads it every 10 min, and a day's median
    // does not move in an hour; maxReadingAgeSeconds (300) is for live gauges.
    const recent = leadTimeFor(spec, { leadTimeObserved: ok(600, NOON - 2_400_000) }, NOON);
    expect(recent).toMatchObject({ seconds: 600, measured: true });
    // A count of no pod says the value stands for nothing.
    expect(
      leadTimeFor(spec, readingsOf({ leadTimeObserved: 600, leadTimePods: 0 }, NOON), NOON).measured,
    ).toBe(false);
  });

  it("is the setting with leadTimeMeasured=false, whatever is read", () => {
    const off = specOf({ leadTimeMeasured: "false" });
    expect(leadTimeFor(off, readingsOf({ leadTimeObserved: 900 }, NOON), NOON)).toMatchObject({
      seconds: 480,
      measured: false,
    });
  });

  it("property: within [0.5, 2] × the setting (≤ 3600 s), on the ladder's nearest window", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3600 }),
        fc.double({ min: 0, max: 100_000, noNaN: true }),
        (setting, observed) => {
          const lead = leadTimeFor(
            specOf({ leadTimeSeconds: String(setting) }),
            readingsOf({ leadTimeObserved: observed }, NOON),
            NOON,
          );
          expect(lead.seconds).toBeGreaterThanOrEqual(setting * 0.5);
          expect(lead.seconds).toBeLessThanOrEqual(Math.min(setting * 2, 3600) + 1e-9);
          const distance = Math.abs(setting * lead.windowFactor - lead.seconds);
          for (const factor of LEAD_LADDER)
            expect(distance).toBeLessThanOrEqual(Math.abs(setting * factor - lead.seconds) + 1e-6);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("decide(): the measured lead time in the forecast", () => {
  it("looks as far ahead as the nodes really take: a rise 9–10 min ahead yesterday raises it only when measured", () => {
    const setting = decideOnce(specOf(), { ...quiet, ...lateRise(2, 8) });
    expect(setting.drivingFactor).not.toBe("forecast");
    const measured = decideOnce(specOf(), {
      ...quiet,
      ...lateRise(2, 8),
      leadTimeObserved: 600,
      leadTimePods: 5,
    });
    expect(measured.drivingFactor).toBe("forecast");
    expect(measured.desiredReplicas).toBe(6);
    const forecast = measured.rules.find((r) => r.rule === "forecast")?.note;
    expect(forecast).toContain("forecast for 12:10 UTC (lead time 10 min, measured: the 5 pod(s)");
    expect(forecast).toContain("over the next 10 min");
    // A measured lead time that raises nothing is no reason of the decision.
    const calm = decideOnce(specOf(), { ...quiet, ...lateRise(2, 2), leadTimeObserved: 600 });
    expect(calm.rules.map((r) => r.note).join(" ")).not.toContain("lead time");
  });

  it("names a measurement it could not use in the forecast's reason", () => {
    const d = decideOnce(specOf(), {
      ...quiet,
      inflowDayAgo: 2,
      inflowPeakAheadDayAgo: 8,
      leadTimeObserved: -40,
    });
    expect(d.rules.find((r) => r.rule === "forecast")?.note).toContain(
      "forecast for 12:08 UTC (lead time 8 min (leadTimeSeconds): the measured lead time is negative (-40 s: a pod Ready before it was created)) = 4 replicas of load",
    );
  });

  it("uses the setting's window when the ladder's own reading did not come back", () => {
    const readings = { ...quiet, inflowDayAgo: 2, inflowPeakAheadDayAgo: 8, leadTimeObserved: 600 };
    // The 10-minute window's peak is missing: the 8-minute one (the setting's) still counts,
    // and the reason names the window the peak was read over.
    const d = decideOnce(specOf(), readings);
    expect(d.drivingFactor).toBe("forecast");
    const forecast = d.rules.find((r) => r.rule === "forecast")?.note;
    expect(forecast).toContain("over the next 8 min");
    expect(forecast).not.toContain("over the next 10 min");
  });
});

/** Properties: a measured lead time moves the horizon, never the bounds, and bad data moves nothing. */
describe("measured lead time invariants", () => {
  const rate = fc.double({ min: 0, max: 100, noNaN: true });
  const observation = fc.oneof(
    fc.double({ min: -1000, max: 20_000, noNaN: false }).map((v) => ({ value: v, fresh: true })),
    fc.double({ min: 0, max: 20_000, noNaN: true }).map((v) => ({ value: v, fresh: false })),
    fc.constant(undefined),
  );
  const arb = fc.record({
    backlog: fc.integer({ min: 0, max: 500 }),
    waiting: fc.integer({ min: 0, max: 100 }),
    inflow: rate,
    ready: fc.integer({ min: 0, max: 20 }),
    rateThen: rate,
    peaks: fc.array(rate, { minLength: LEAD_LADDER.length, maxLength: LEAD_LADDER.length }),
    observed: observation,
    setting: fc.integer({ min: 0, max: 3600 }),
    minReplicas: fc.integer({ min: 0, max: 3 }),
    maxReplicas: fc.integer({ min: 3, max: 40 }),
    floor: fc.boolean(),
    previous: fc.integer({ min: 0, max: 40 }),
  });

  it("never below the warm floor or minReplicas, never above maxReplicas, never below the answer without a forecast; a bad observation changes nothing", () => {
    fc.assert(
      fc.property(arb, (x) => {
        const spec = specOf({
          minReplicas: String(x.minReplicas),
          maxReplicas: String(x.maxReplicas),
          leadTimeSeconds: String(x.setting),
          ...(x.floor ? { warmFloorSchedule: "UTC daily 06:00-18:00", warmFloorReplicas: "2" } : {}),
        });
        const base: Record<string, Reading> = {};
        const put = (values: Record<string, number>) => {
          for (const [k, v] of Object.entries(values)) base[k] = ok(v, NOON);
        };
        put({
          queueBacklog: x.backlog,
          vllmWaiting: x.waiting,
          ttftRequestsPerSecond: x.inflow,
          replicasReady: x.ready,
          replicasDesired: x.ready,
        });
        const today = { ...base } as SignalReadings;
        put({ inflowDayAgo: x.rateThen });
        LEAD_LADDER.forEach((factor, i) => {
          base[PEAK_AHEAD_KEYS.day[factor]] = ok(x.peaks[i] as number, NOON);
        });
        const history = { ...base } as SignalReadings;
        const measured: SignalReadings =
          x.observed === undefined
            ? history
            : {
                ...history,
                leadTimeObserved: ok(x.observed.value, x.observed.fresh ? NOON : NOON - 86_400_000),
                leadTimePods: ok(3, NOON),
              };
        const memory: PolicyMemory = { lastDesired: x.previous };
        const without = decide(spec, today, NOON, memory).decision;
        const settingOnly = decide(spec, history, NOON, memory).decision;
        const d = decide(spec, measured, NOON, memory).decision;
        expect(d.desiredReplicas).toBeLessThanOrEqual(x.maxReplicas);
        expect(d.desiredReplicas).toBeGreaterThanOrEqual(
          Math.min(x.maxReplicas, Math.max(x.minReplicas, d.floorReplicas)),
        );
        // A forecast only raises, whatever lead time it plans with.
        expect(d.desiredReplicas).toBeGreaterThanOrEqual(without.desiredReplicas);
        const usable =
          x.observed?.fresh === true && Number.isFinite(x.observed.value) && x.observed.value >= 0;
        if (!usable) expect(d.desiredReplicas).toBe(settingOnly.desiredReplicas);
      }),
      { numRuns: 300 },
    );
  });
});
