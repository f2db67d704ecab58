import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/resolve.ts";
import { warmFloorAt } from "../../src/policy/warm-floor.ts";
import { at, decideOnce, specOf } from "./helpers.ts";

function floorAt(metadata: Record<string, string>, iso: string): number {
  return warmFloorAt(specOf(metadata).warmFloor, at(iso)).replicas;
}

function floors(metadata: Record<string, string>, instants: readonly string[]): Record<string, number> {
  const spec = specOf(metadata);
  return Object.fromEntries(instants.map((iso) => [iso, warmFloorAt(spec.warmFloor, at(iso)).replicas]));
}

function configError(metadata: Record<string, string>): string {
  try {
    specOf(metadata);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

/** An APAC service: 8 countries, UTC+2…UTC+9, hub Singapore; warm 07:45–23:30 SGT on weekdays. */
const APAC = { warmFloorSchedule: "Asia/Singapore Mon-Fri 08:00-23:00" };

describe("the warm floor: an APAC business-hours example", () => {
  it("pre-warms at 07:45 SGT, 15 minutes before the 08:00 opening", () => {
    expect(
      floors(APAC, ["2026-11-23T07:44:59+08:00", "2026-11-23T07:45:00+08:00", "2026-11-23T08:00:00+08:00"]),
    ).toEqual({
      "2026-11-23T07:44:59+08:00": 0,
      "2026-11-23T07:45:00+08:00": 1,
      "2026-11-23T08:00:00+08:00": 1,
    });
  });

  it("scales down at 23:30 SGT, 30 minutes after the 23:00 close", () => {
    expect(
      floors(APAC, ["2026-11-23T23:00:00+08:00", "2026-11-23T23:29:59+08:00", "2026-11-23T23:30:00+08:00"]),
    ).toEqual({
      "2026-11-23T23:00:00+08:00": 1,
      "2026-11-23T23:29:59+08:00": 1,
      "2026-11-23T23:30:00+08:00": 0,
    });
  });

  it("is zero all weekend, from Friday 23:30 to Monday 07:45", () => {
    expect(
      floors(APAC, [
        "2026-11-27T23:29:00+08:00",
        "2026-11-27T23:30:00+08:00",
        "2026-11-28T12:00:00+08:00",
        "2026-11-29T23:00:00+08:00",
        "2026-11-30T07:44:00+08:00",
        "2026-11-30T07:45:00+08:00",
      ]),
    ).toEqual({
      "2026-11-27T23:29:00+08:00": 1,
      "2026-11-27T23:30:00+08:00": 0,
      "2026-11-28T12:00:00+08:00": 0,
      "2026-11-29T23:00:00+08:00": 0,
      "2026-11-30T07:44:00+08:00": 0,
      "2026-11-30T07:45:00+08:00": 1,
    });
  });

  it("also follows from each country's own hours: the earliest opening and the last close set the window", () => {
    // Tokyo (UTC+9) opens at 08:00 SGT; Johannesburg (UTC+2) closes at 23:00 SGT.
    const regions = {
      warmFloorSchedule: "Asia/Tokyo Mon-Fri 09:00-17:00; Africa/Johannesburg Mon-Fri 09:00-17:00",
    };
    const instants = [
      "2026-11-23T07:44:00+08:00",
      "2026-11-23T07:45:00+08:00",
      "2026-11-23T16:30:00+08:00",
      "2026-11-23T23:29:00+08:00",
      "2026-11-23T23:30:00+08:00",
    ];
    expect(floors(regions, instants)).toEqual(floors(APAC, instants));
  });

  it("lifts a decision with no demand to the floor, and keeps the workload active", () => {
    const decision = decideOnce(specOf(APAC), { queueBacklog: 0 }, at("2026-11-23T10:00:00+08:00"));
    expect(decision).toMatchObject({
      desiredReplicas: 1,
      metricValue: 1,
      active: true,
      drivingFactor: "floor",
    });
    expect(decision.floorReason).toContain("until Mon 2026-11-23 23:30 GMT+8");
    const night = decideOnce(specOf(APAC), { queueBacklog: 0 }, at("2026-11-23T23:45:00+08:00"));
    expect(night).toMatchObject({ desiredReplicas: 0, metricValue: 0, active: false });
  });

  it("uses a configured count inside the window and outside it", () => {
    const spec = { ...APAC, warmFloorReplicas: "2", warmFloorOutsideReplicas: "1" };
    expect(floorAt(spec, "2026-11-23T12:00:00+08:00")).toBe(2);
    expect(floorAt(spec, "2026-11-28T12:00:00+08:00")).toBe(1);
  });
});

describe("windows with their own replica count (like a cron trigger's desiredReplicas per window)", () => {
  const CRON = {
    warmFloorSchedule: "UTC Mon-Fri 08:00-18:00 3; UTC Mon-Fri 08:00-10:00 5; UTC Sat 10:00-12:00",
    warmFloorReplicas: "2",
    warmFloorPrewarmMinutes: "0",
    warmFloorCloseDelayMinutes: "0",
  };

  it("holds each window's count, the highest where they overlap, and warmFloorReplicas where none is written", () => {
    expect(
      floors(CRON, [
        "2026-11-23T07:59:00Z",
        "2026-11-23T08:00:00Z",
        "2026-11-23T09:59:00Z",
        "2026-11-23T10:00:00Z",
        "2026-11-23T17:59:00Z",
        "2026-11-23T18:00:00Z",
        "2026-11-28T11:00:00Z",
      ]),
    ).toEqual({
      "2026-11-23T07:59:00Z": 0,
      "2026-11-23T08:00:00Z": 5,
      "2026-11-23T09:59:00Z": 5,
      "2026-11-23T10:00:00Z": 3,
      "2026-11-23T17:59:00Z": 3,
      "2026-11-23T18:00:00Z": 0,
      "2026-11-28T11:00:00Z": 2,
    });
  });

  it("says which window holds the floor and until when", () => {
    const spec = specOf(CRON);
    expect(warmFloorAt(spec.warmFloor, at("2026-11-23T09:00:00Z")).reason).toContain(
      'warm window "UTC Mon-Fri 08:00-10:00 5" (pre-warm 0 min, close delay 0 min) until Mon 2026-11-23 10:00 UTC',
    );
    expect(warmFloorAt(spec.warmFloor, at("2026-11-23T11:00:00Z")).reason).toContain(
      'warm window "UTC Mon-Fri 08:00-18:00 3" (pre-warm 0 min, close delay 0 min) until Mon 2026-11-23 18:00 UTC',
    );
  });

  it("lifts a decision to the window's count", () => {
    const decision = decideOnce(specOf(CRON), { queueBacklog: 0 }, at("2026-11-23T09:00:00Z"));
    expect(decision).toMatchObject({ desiredReplicas: 5, drivingFactor: "floor", active: true });
  });

  it("still merges overlapping windows of one count into one stretch", () => {
    const spec = specOf({
      warmFloorSchedule: "UTC Mon-Fri 08:00-12:00 2; UTC Mon-Fri 11:00-15:00 2",
      warmFloorPrewarmMinutes: "0",
      warmFloorCloseDelayMinutes: "0",
    });
    expect(warmFloorAt(spec.warmFloor, at("2026-11-23T09:00:00Z"))).toMatchObject({
      replicas: 2,
      untilMs: at("2026-11-23T15:00:00Z"),
    });
  });
});

describe("the warm floor across daylight-saving changes", () => {
  it("Europe/Amsterdam: pre-warms at 07:45 local on both sides of the March change", () => {
    const spec = { warmFloorSchedule: "Europe/Amsterdam Mon-Fri 08:00-20:00" };
    // Friday 27 March 2026 is CET (UTC+1); Monday 30 March is CEST (UTC+2).
    expect(floorAt(spec, "2026-03-27T06:44:00Z")).toBe(0);
    expect(floorAt(spec, "2026-03-27T06:45:00Z")).toBe(1);
    expect(floorAt(spec, "2026-03-30T05:44:00Z")).toBe(0);
    expect(floorAt(spec, "2026-03-30T05:45:00Z")).toBe(1);
    // Close + 30 min: 20:30 CEST = 18:30 UTC.
    expect(floorAt(spec, "2026-03-30T18:29:00Z")).toBe(1);
    expect(floorAt(spec, "2026-03-30T18:30:00Z")).toBe(0);
  });

  it("Europe/Amsterdam: a window over the change night is an hour shorter in March and longer in October", () => {
    const spec = {
      warmFloorSchedule: "Europe/Amsterdam daily 01:00-04:00",
      warmFloorPrewarmMinutes: "0",
      warmFloorCloseDelayMinutes: "0",
    };
    // 29 March 2026: 01:00 CET = 00:00 UTC; 04:00 CEST = 02:00 UTC (02:00–03:00 local never happens).
    expect(floorAt(spec, "2026-03-28T23:59:00Z")).toBe(0);
    expect(floorAt(spec, "2026-03-29T00:00:00Z")).toBe(1);
    expect(floorAt(spec, "2026-03-29T01:59:00Z")).toBe(1);
    expect(floorAt(spec, "2026-03-29T02:00:00Z")).toBe(0);
    // 25 October 2026: 01:00 CEST = 23:00 UTC the day before; 04:00 CET = 03:00 UTC (four hours).
    expect(floorAt(spec, "2026-10-24T22:59:00Z")).toBe(0);
    expect(floorAt(spec, "2026-10-24T23:00:00Z")).toBe(1);
    expect(floorAt(spec, "2026-10-25T02:59:00Z")).toBe(1);
    expect(floorAt(spec, "2026-10-25T03:00:00Z")).toBe(0);
  });

  it("Europe/Amsterdam: an opening inside the spring-forward gap opens when the clock jumps past it", () => {
    const spec = {
      warmFloorSchedule: "Europe/Amsterdam Sun 02:30-06:00",
      warmFloorPrewarmMinutes: "0",
      warmFloorCloseDelayMinutes: "0",
    };
    // 02:30 does not exist on 29 March 2026: at 02:00 CET (01:00 UTC) the clock shows 03:00 CEST,
    // already inside 02:30–06:00, so the window is in force from then.
    expect(floorAt(spec, "2026-03-29T00:59:00Z")).toBe(0);
    expect(floorAt(spec, "2026-03-29T01:00:00Z")).toBe(1);
  });

  it("America/New_York: opens at 09:00 local across the March and November changes", () => {
    const spec = { warmFloorSchedule: "America/New_York Mon-Fri 09:00-17:00" };
    // Friday 6 March 2026 EST (UTC−5): pre-warm 08:45 = 13:45 UTC. Monday 9 March EDT (UTC−4): 12:45 UTC.
    expect(floorAt(spec, "2026-03-06T13:44:00Z")).toBe(0);
    expect(floorAt(spec, "2026-03-06T13:45:00Z")).toBe(1);
    expect(floorAt(spec, "2026-03-09T12:44:00Z")).toBe(0);
    expect(floorAt(spec, "2026-03-09T12:45:00Z")).toBe(1);
    // Friday 30 October EDT: close + 30 = 17:30 EDT = 21:30 UTC. Monday 2 November EST: 22:30 UTC.
    expect(floorAt(spec, "2026-10-30T21:29:00Z")).toBe(1);
    expect(floorAt(spec, "2026-10-30T21:30:00Z")).toBe(0);
    expect(floorAt(spec, "2026-11-02T22:29:00Z")).toBe(1);
    expect(floorAt(spec, "2026-11-02T22:30:00Z")).toBe(0);
  });

  it("Australia/Sydney (east of UTC, southern summer time): follows the April and October changes", () => {
    const spec = { warmFloorSchedule: "Australia/Sydney Mon-Fri 09:00-17:00" };
    // Friday 3 April 2026 AEDT (UTC+11): pre-warm 08:45 = 21:45 UTC on the 2nd.
    expect(floorAt(spec, "2026-04-02T21:44:00Z")).toBe(0);
    expect(floorAt(spec, "2026-04-02T21:45:00Z")).toBe(1);
    // Monday 6 April AEST (UTC+10): 22:45 UTC on the 5th.
    expect(floorAt(spec, "2026-04-05T22:44:00Z")).toBe(0);
    expect(floorAt(spec, "2026-04-05T22:45:00Z")).toBe(1);
    // Monday 5 October AEDT again: 21:45 UTC on the 4th.
    expect(floorAt(spec, "2026-10-04T21:44:00Z")).toBe(0);
    expect(floorAt(spec, "2026-10-04T21:45:00Z")).toBe(1);
  });

  it("Europe/London: an overnight window crossing the October change closes at 06:30 local", () => {
    const spec = { warmFloorSchedule: "Europe/London Sat 22:00-06:00" };
    // Saturday 24 October 2026 22:00 BST = 21:00 UTC; Sunday 06:00 GMT + 30 min = 06:30 UTC.
    expect(floorAt(spec, "2026-10-24T20:44:00Z")).toBe(0);
    expect(floorAt(spec, "2026-10-24T20:45:00Z")).toBe(1);
    expect(floorAt(spec, "2026-10-25T06:29:00Z")).toBe(1);
    expect(floorAt(spec, "2026-10-25T06:30:00Z")).toBe(0);
  });
});

describe("dated overrides", () => {
  const MONTH_END = { ...APAC, warmFloorOverrides: "monthEnd=2 from 18:00 day before" };

  it("raises the floor to 2 from the evening before the month's last weekday", () => {
    // November 2026 ends on Monday the 30th: the override starts Sunday 18:00 SGT.
    expect(
      floors(MONTH_END, [
        "2026-11-29T17:59:00+08:00",
        "2026-11-29T18:00:00+08:00",
        "2026-11-30T12:00:00+08:00",
        "2026-11-30T23:59:00+08:00",
        "2026-12-01T00:00:00+08:00",
        "2026-11-27T12:00:00+08:00",
      ]),
    ).toEqual({
      "2026-11-29T17:59:00+08:00": 0,
      "2026-11-29T18:00:00+08:00": 2,
      "2026-11-30T12:00:00+08:00": 2,
      "2026-11-30T23:59:00+08:00": 2,
      "2026-12-01T00:00:00+08:00": 0,
      "2026-11-27T12:00:00+08:00": 1,
    });
  });

  it("takes the last weekday when the month ends on a weekend", () => {
    // October 2026 ends on Saturday the 31st: month end is Friday the 30th, from Thursday 18:00.
    expect(floorAt(MONTH_END, "2026-10-29T17:59:00+08:00")).toBe(1);
    expect(floorAt(MONTH_END, "2026-10-29T18:00:00+08:00")).toBe(2);
    expect(floorAt(MONTH_END, "2026-10-31T12:00:00+08:00")).toBe(0);
  });

  it("knows quarter ends, and the highest override in force wins", () => {
    const spec = { ...APAC, warmFloorOverrides: "monthEnd=2 from 18:00 day before; quarterEnd=3" };
    expect(floorAt(spec, "2026-12-31T10:00:00+08:00")).toBe(3);
    expect(floorAt(spec, "2026-12-30T20:00:00+08:00")).toBe(2);
    expect(floorAt(spec, "2026-11-30T10:00:00+08:00")).toBe(2);
  });

  it("replaces the floor on dated days, down to zero for a holiday", () => {
    const spec = { ...APAC, warmFloorOverrides: "2026-12-24..2026-12-25=0; Europe/Amsterdam 2026-12-07=4" };
    expect(floorAt(spec, "2026-12-24T12:00:00+08:00")).toBe(0);
    expect(floorAt(spec, "2026-12-25T12:00:00+08:00")).toBe(0);
    expect(floorAt(spec, "2026-12-23T12:00:00+08:00")).toBe(1);
    // The Amsterdam day is 23:00 UTC on the 6th to 23:00 UTC on the 7th.
    expect(floorAt(spec, "2026-12-06T22:59:00Z")).toBe(0);
    expect(floorAt(spec, "2026-12-06T23:00:00Z")).toBe(4);
  });

  it("works without a schedule when the override names its zone", () => {
    expect(floorAt({ warmFloorOverrides: "UTC 2026-11-30=2" }, "2026-11-30T00:00:00Z")).toBe(2);
    expect(floorAt({ warmFloorOverrides: "UTC 2026-11-30=2" }, "2026-11-29T23:59:00Z")).toBe(0);
    const tokyo = specOf({ warmFloorOverrides: "Asia/Tokyo 2026-11-30=2" });
    expect(warmFloorAt(tokyo.warmFloor, at("2026-11-29T15:00:00Z"))).toMatchObject({
      replicas: 2,
      reason: 'override "Asia/Tokyo 2026-11-30=2 (2026-11-30 Asia/Tokyo)" until Tue 2026-12-01 00:00 GMT+9',
    });
  });

  it("refuses an override without a zone when there is no schedule to take one from (it would silently be UTC)", () => {
    expect(configError({ warmFloorOverrides: "2026-11-30=2" })).toBe(
      'scalerMetadata.warmFloorOverrides "2026-11-30=2" has no time zone and there is no warmFloorSchedule whose first region\'s zone it could use: write the zone first, e.g. "UTC 2026-11-30=2" or "Europe/London 2026-11-30=2"',
    );
  });
});

describe("evaluation over time", () => {
  it("gives the same answers when the instants jump around as when each is asked fresh", () => {
    const spec = specOf({ ...APAC, warmFloorOverrides: "monthEnd=2 from 18:00 day before" });
    const start = at("2026-01-01T00:00:00Z");
    const instants = Array.from({ length: 120 }, (_, i) => start + ((i * 7919) % 120) * 73 * 3_600_000);
    const jumping = instants.map((ms) => warmFloorAt(spec.warmFloor, ms).replicas);
    const fresh = instants.map(
      (ms) =>
        warmFloorAt(specOf({ ...APAC, warmFloorOverrides: "monthEnd=2 from 18:00 day before" }).warmFloor, ms)
          .replicas,
    );
    expect(jumping).toEqual(fresh);
    expect(new Set(jumping)).toEqual(new Set([0, 1, 2]));
  });
});

describe("schedule configuration errors name the key and what is allowed", () => {
  it.each([
    [
      "Asia/Singapur Mon-Fri 08:00-23:00",
      '"Asia/Singapur" in "Asia/Singapur Mon-Fri 08:00-23:00" is not an IANA time zone',
    ],
    ["Asia/Singapore Mon-Fry 08:00-23:00", '"Fry" in "Asia/Singapore Mon-Fry 08:00-23:00" is not a weekday'],
    ["Asia/Singapore Mon-Fri 8-23", '"8" in "Asia/Singapore Mon-Fri 8-23" is not a time of day HH:MM'],
    [
      "Asia/Singapore Mon-Fri 08:00-25:00",
      '"25:00" in "Asia/Singapore Mon-Fri 08:00-25:00" is not a time of day',
    ],
    ["Asia/Singapore 08:00-23:00", 'must be "<IANA zone> <weekdays> <open>-<close>[ <replicas>]"'],
    ["UTC Mon-Fri 08:00-10:00 five", '"five" in "UTC Mon-Fri 08:00-10:00 five" is not a replica count'],
    ["UTC Mon-Fri 08:00-10:00 5 6", 'must be "<IANA zone> <weekdays> <open>-<close>[ <replicas>]"'],
  ])("rejects warmFloorSchedule %j", (schedule, detail) => {
    const message = configError({ warmFloorSchedule: schedule });
    expect(message).toContain("scalerMetadata.warmFloorSchedule must be business windows");
    expect(message).toContain(detail);
  });

  it.each([
    ["monthEnd=two", 'must be "[<zone>] <monthEnd|quarterEnd|YYYY-MM-DD[..YYYY-MM-DD]>=<replicas>'],
    ["2026-02-30=2", '"2026-02-30" in "2026-02-30=2" is not a calendar date YYYY-MM-DD'],
    ["2026-12-26..2026-12-24=0", "ends before it begins"],
    ["yearEnd=2", "must be monthEnd, quarterEnd, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD"],
    ["monthEnd=2 from 25:00 day before", '"25:00"'],
  ])("rejects warmFloorOverrides %j", (overrides, detail) => {
    const message = configError({ warmFloorOverrides: overrides });
    expect(message).toContain("scalerMetadata.warmFloorOverrides must be overrides");
    expect(message).toContain(detail);
  });
});

describe("the warm floor is a function of its settings and the instant alone", () => {
  it("says the same at an instant however long ago its windows were last worked out", () => {
    const metadata = { warmFloorSchedule: "UTC Mon 08:00-10:00" };
    // A Friday evening: the next pre-warm is Monday's, two and a half days away.
    const friday = at("2026-11-27T20:00:00Z");
    const fresh = warmFloorAt(specOf(metadata).warmFloor, friday);
    expect(fresh.reason).toMatch(/next pre-warm Mon 2026-11-30 07:45/);
    for (const daysEarlier of [0.5, 3, 4.9, 5.1, 8, 12.9, 13.5]) {
      // Another settings object (another spec) has its own cache: it is filled at an earlier
      // instant first, as a long-running server's would be.
      const settings = specOf(metadata).warmFloor;
      warmFloorAt(settings, friday - daysEarlier * 24 * 3_600_000);
      expect(warmFloorAt(settings, friday), `windows worked out ${daysEarlier} days earlier`).toEqual(fresh);
    }
  });
});
