import { describe, expect, it } from "vitest";
import { parseFloorOverrides, parseWarmSchedule } from "../../src/config/schedule.ts";

describe("the schedule language", () => {
  it("reads weekday lists, ranges that wrap, daily, 24:00 and overnight windows", () => {
    const schedule = parseWarmSchedule(
      "Asia/Singapore Mon-Fri 08:00-23:00;  Europe/London Fri-Mon 22:00-06:00\nUTC daily 00:00-24:00; America/New_York Mon,Wed-Thu 9:30-17:00",
    );
    expect(
      schedule.windows.map((w) => [w.zone, [...w.weekdays].sort(), w.openMinute, w.closeMinute]),
    ).toEqual([
      ["Asia/Singapore", [1, 2, 3, 4, 5], 480, 1380],
      ["Europe/London", [1, 5, 6, 7], 1320, 1800],
      ["UTC", [1, 2, 3, 4, 5, 6, 7], 0, 1440],
      ["America/New_York", [1, 3, 4], 570, 1020],
    ]);
    expect(schedule.text).toBe(
      "Asia/Singapore Mon-Fri 08:00-23:00; Europe/London Fri-Mon 22:00-06:00; UTC daily 00:00-24:00; America/New_York Mon,Wed-Thu 9:30-17:00",
    );
  });

  it("reads a window's own replica count after its hours", () => {
    const schedule = parseWarmSchedule(
      "UTC Mon-Fri 08:00-18:00 3; UTC Mon-Fri 08:00-10:00 5; UTC Sat 10:00-12:00",
    );
    expect(schedule.windows.map((w) => w.replicas)).toEqual([3, 5, undefined]);
  });

  it("reads overrides with and without a zone and an evening start", () => {
    const { overrides } = parseFloorOverrides(
      "monthEnd=2 from 18:00 day before; Europe/Amsterdam quarterEnd = 3; 2026-12-24..2026-12-26=0; 2027-01-04=4 from 20:30 the day before",
    );
    expect(overrides.map((o) => [o.days.kind, o.replicas, o.zone, o.fromPreviousDayMinute])).toEqual([
      ["monthEnd", 2, undefined, 1080],
      ["quarterEnd", 3, "Europe/Amsterdam", undefined],
      ["dates", 0, undefined, undefined],
      ["dates", 4, undefined, 1230],
    ]);
    expect(overrides[2]?.days).toEqual({
      kind: "dates",
      first: { year: 2026, month: 12, day: 24 },
      last: { year: 2026, month: 12, day: 26 },
    });
  });

  it.each([
    ["", "the schedule is empty"],
    ["Mars/Olympus Mon-Fri 08:00-23:00", "is not an IANA time zone"],
    ["UTC Mon-Fri 08:00", "must be <open>-<close>"],
    ["UTC Mon-Fri 08:60-09:00", '"08:60"'],
    ["UTC Mon--Fri 08:00-09:00", "is not a list of weekdays"],
    ["UTC Mon-Fri 24:00-09:00", '"24:00"'],
  ])("rejects the schedule %j naming the part: %s", (raw, message) => {
    expect(() => parseWarmSchedule(raw)).toThrow(message);
  });

  it("rejects an override above the replica bound", () => {
    expect(() => parseFloorOverrides("monthEnd=20", 8)).toThrow(
      '20 replicas in "monthEnd=20" is more than 8',
    );
  });
});
