import fc from "fast-check";
import { DateTime, IANAZone } from "luxon";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseWarmSchedule } from "../../src/config/schedule.ts";
import { decide } from "../../src/policy/decide.ts";
import { type WarmFloorSettings, warmFloorAt } from "../../src/policy/warm-floor.ts";
import { at, readingsOf, specOf } from "./helpers.ts";

/**
 * Times that happen twice (the clock falls back) or never (it springs forward), decided the same
 * whatever the host's clock says. The rule, in every zone: a window is in force whenever the
 * zone's wall clock shows a time inside it — it opens at the first occurrence of an ambiguous
 * opening time, closes at the second occurrence of an ambiguous closing time, and a time the
 * clock skips opens or closes the window at the jump.
 */

/** Host clocks in northern summer and winter: a zone's offset "now" differs between them. */
const HOST_CLOCKS = ["2026-07-15T12:00:00Z", "2026-11-20T12:00:00Z"] as const;

function floorsAt(schedule: string, instants: readonly string[]): Record<string, number> {
  const spec = specOf({
    warmFloorSchedule: schedule,
    warmFloorPrewarmMinutes: "0",
    warmFloorCloseDelayMinutes: "0",
  });
  return Object.fromEntries(instants.map((iso) => [iso, warmFloorAt(spec.warmFloor, at(iso)).replicas]));
}

function withHostClock(iso: string): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(iso));
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

describe.each(HOST_CLOCKS)("with the host clock at %s", (hostClock) => {
  withHostClock(hostClock);

  it("the fake host clock is in force (luxon reads the current time from Date)", () => {
    expect(DateTime.now().toISO()).toContain(hostClock.slice(0, 10));
  });

  it("America/New_York: Sun 01:30-03:00 opens at the first 01:30 (EDT) on 1 November 2026", () => {
    // 02:00 EDT (06:00 UTC) falls back to 01:00 EST: 01:00–02:00 happens twice.
    expect(
      floorsAt("America/New_York Sun 01:30-03:00", [
        "2026-11-01T05:29:00Z",
        "2026-11-01T05:30:00Z", // 01:30 EDT, the first
        "2026-11-01T05:45:00Z", // 01:45 EDT: the instant the independent check found host-dependent
        "2026-11-01T06:45:00Z", // 01:45 EST, the second
        "2026-11-01T07:59:00Z", // 02:59 EST
        "2026-11-01T08:00:00Z", // 03:00 EST
      ]),
    ).toEqual({
      "2026-11-01T05:29:00Z": 0,
      "2026-11-01T05:30:00Z": 1,
      "2026-11-01T05:45:00Z": 1,
      "2026-11-01T06:45:00Z": 1,
      "2026-11-01T07:59:00Z": 1,
      "2026-11-01T08:00:00Z": 0,
    });
  });

  it("America/New_York: a decision at 01:45 EDT is lifted to the floor", () => {
    const spec = specOf({
      warmFloorSchedule: "America/New_York Sun 01:30-03:00",
      warmFloorPrewarmMinutes: "0",
      warmFloorCloseDelayMinutes: "0",
    });
    const nowMs = at("2026-11-01T05:45:00Z");
    const { decision } = decide(spec, readingsOf({ queueBacklog: 0, replicasReady: 0 }, nowMs), nowMs);
    expect(decision).toMatchObject({ desiredReplicas: 1, active: true });
    expect(decision.floorReason).toContain("until Sun 2026-11-01 03:00 EST");
  });

  it("America/New_York: Sun 00:00-01:30 closes at the second 01:30 (EST)", () => {
    expect(
      floorsAt("America/New_York Sun 00:00-01:30", [
        "2026-11-01T03:59:00Z",
        "2026-11-01T04:00:00Z", // 00:00 EDT
        "2026-11-01T05:30:00Z", // 01:30 EDT: the clock will show 01:xx again
        "2026-11-01T06:29:00Z", // 01:29 EST
        "2026-11-01T06:30:00Z", // 01:30 EST, the second
      ]),
    ).toEqual({
      "2026-11-01T03:59:00Z": 0,
      "2026-11-01T04:00:00Z": 1,
      "2026-11-01T05:30:00Z": 1,
      "2026-11-01T06:29:00Z": 1,
      "2026-11-01T06:30:00Z": 0,
    });
  });

  it("Europe/London: Sun 01:30-03:00 opens at the first 01:30 (BST) and Sun 00:00-01:30 closes at the second (GMT) on 25 October 2026", () => {
    // 02:00 BST (01:00 UTC) falls back to 01:00 GMT.
    expect(
      floorsAt("Europe/London Sun 01:30-03:00", [
        "2026-10-25T00:29:00Z",
        "2026-10-25T00:30:00Z", // 01:30 BST
        "2026-10-25T02:59:00Z",
        "2026-10-25T03:00:00Z", // 03:00 GMT
      ]),
    ).toEqual({
      "2026-10-25T00:29:00Z": 0,
      "2026-10-25T00:30:00Z": 1,
      "2026-10-25T02:59:00Z": 1,
      "2026-10-25T03:00:00Z": 0,
    });
    expect(
      floorsAt("Europe/London Sun 00:00-01:30", [
        "2026-10-24T22:59:00Z",
        "2026-10-24T23:00:00Z", // 00:00 BST
        "2026-10-25T01:29:00Z", // 01:29 GMT
        "2026-10-25T01:30:00Z", // 01:30 GMT, the second
      ]),
    ).toEqual({
      "2026-10-24T22:59:00Z": 0,
      "2026-10-24T23:00:00Z": 1,
      "2026-10-25T01:29:00Z": 1,
      "2026-10-25T01:30:00Z": 0,
    });
  });

  it("Australia/Sydney: Sun 02:30-04:00 opens at the first 02:30 (AEDT) and Sun 00:00-02:30 closes at the second (AEST) on 5 April 2026", () => {
    // 03:00 AEDT (16:00 UTC on the 4th) falls back to 02:00 AEST.
    expect(
      floorsAt("Australia/Sydney Sun 02:30-04:00", [
        "2026-04-04T15:29:00Z",
        "2026-04-04T15:30:00Z", // 02:30 AEDT
        "2026-04-04T17:59:00Z",
        "2026-04-04T18:00:00Z", // 04:00 AEST
      ]),
    ).toEqual({
      "2026-04-04T15:29:00Z": 0,
      "2026-04-04T15:30:00Z": 1,
      "2026-04-04T17:59:00Z": 1,
      "2026-04-04T18:00:00Z": 0,
    });
    expect(
      floorsAt("Australia/Sydney Sun 00:00-02:30", [
        "2026-04-04T12:59:00Z",
        "2026-04-04T13:00:00Z", // 00:00 AEDT
        "2026-04-04T16:29:00Z", // 02:29 AEST
        "2026-04-04T16:30:00Z", // 02:30 AEST, the second
      ]),
    ).toEqual({
      "2026-04-04T12:59:00Z": 0,
      "2026-04-04T13:00:00Z": 1,
      "2026-04-04T16:29:00Z": 1,
      "2026-04-04T16:30:00Z": 0,
    });
  });

  it("spring-forward gaps: a skipped opening or closing time takes effect when the clock jumps", () => {
    // New York 8 March 2026: 02:00 EST (07:00 UTC) jumps to 03:00 EDT.
    expect(
      floorsAt("America/New_York Sun 02:30-04:00", [
        "2026-03-08T06:59:00Z",
        "2026-03-08T07:00:00Z",
        "2026-03-08T07:59:00Z",
        "2026-03-08T08:00:00Z",
      ]),
    ).toEqual({
      "2026-03-08T06:59:00Z": 0,
      "2026-03-08T07:00:00Z": 1,
      "2026-03-08T07:59:00Z": 1,
      "2026-03-08T08:00:00Z": 0,
    });
    expect(
      floorsAt("America/New_York Sun 01:00-02:30", ["2026-03-08T06:59:00Z", "2026-03-08T07:00:00Z"]),
    ).toEqual({ "2026-03-08T06:59:00Z": 1, "2026-03-08T07:00:00Z": 0 });
    // London 29 March 2026: 01:00 GMT jumps to 02:00 BST.
    expect(
      floorsAt("Europe/London Sun 01:30-03:00", ["2026-03-29T00:59:00Z", "2026-03-29T01:00:00Z"]),
    ).toEqual({ "2026-03-29T00:59:00Z": 0, "2026-03-29T01:00:00Z": 1 });
    // Sydney 4 October 2026: 02:00 AEST (16:00 UTC on the 3rd) jumps to 03:00 AEDT.
    expect(
      floorsAt("Australia/Sydney Sun 02:30-05:00", ["2026-10-03T15:59:00Z", "2026-10-03T16:00:00Z"]),
    ).toEqual({ "2026-10-03T15:59:00Z": 0, "2026-10-03T16:00:00Z": 1 });
  });

  it("an override starting at an ambiguous evening time starts at its first occurrence", () => {
    const spec = specOf({ warmFloorOverrides: "America/New_York 2026-11-02=3 from 01:30 day before" });
    expect(warmFloorAt(spec.warmFloor, at("2026-11-01T05:29:00Z")).replicas).toBe(0);
    expect(warmFloorAt(spec.warmFloor, at("2026-11-01T05:30:00Z")).replicas).toBe(3);
    // Midnight EST ends 2 November: 05:00 UTC on the 3rd.
    expect(warmFloorAt(spec.warmFloor, at("2026-11-03T04:59:00Z")).replicas).toBe(3);
    expect(warmFloorAt(spec.warmFloor, at("2026-11-03T05:00:00Z")).replicas).toBe(0);
  });
});

/** Zones with the changes people meet: north and south, whole and half-hour offsets and a 30-minute change. */
const ZONES = [
  "America/New_York",
  "Europe/London",
  "Australia/Sydney",
  "America/St_Johns",
  "Australia/Lord_Howe",
  "Asia/Kolkata",
] as const;

/** Every offset change of a zone in 2026, to the minute. */
function changesIn2026(zoneName: string): number[] {
  const zone = IANAZone.create(zoneName);
  const changes: number[] = [];
  const step = 3 * 3_600_000;
  for (let t = at("2026-01-01T00:00:00Z"); t < at("2027-01-01T00:00:00Z"); t += step) {
    if (zone.offset(t) === zone.offset(t + step)) continue;
    let low = t;
    let high = t + step;
    while (high - low > 60_000) {
      const middle = low + Math.floor((high - low) / 120_000) * 60_000;
      if (zone.offset(middle) === zone.offset(t)) low = middle;
      else high = middle;
    }
    changes.push(high);
  }
  return changes;
}

const CHANGES = Object.fromEntries(ZONES.map((zone) => [zone, changesIn2026(zone)]));

describe("properties of wall-clock windows around clock changes", () => {
  const caseArb = fc
    .record({
      zone: fc.constantFrom(...ZONES),
      openQuarter: fc.integer({ min: 0, max: 95 }),
      lengthQuarters: fc.integer({ min: 1, max: 95 }),
      nearChange: fc.nat(),
      offsetMinutes: fc.integer({ min: -36 * 60, max: 36 * 60 }),
      hostClock: fc.constantFrom(...HOST_CLOCKS),
    })
    .map((c) => {
      const changes = CHANGES[c.zone] ?? [];
      const base = changes.length > 0 ? changes[c.nearChange % changes.length]! : at("2026-06-01T00:00:00Z");
      const open = c.openQuarter * 15;
      const close = Math.min(open + c.lengthQuarters * 15, 24 * 60);
      return { ...c, open, close, instantMs: base + c.offsetMinutes * 60_000 };
    });

  const clock = (minute: number) =>
    minute === 24 * 60
      ? "24:00"
      : `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;

  it("is warm at every instant whose wall-clock time lies inside the window, whatever the host clock", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const settings: WarmFloorSettings = {
          schedule: parseWarmSchedule(`${c.zone} daily ${clock(c.open)}-${clock(c.close)}`),
          replicas: 1,
          outsideReplicas: 0,
          prewarmMinutes: 0,
          closeDelayMinutes: 0,
          overrides: undefined,
        };
        vi.useFakeTimers({ toFake: ["Date"] });
        try {
          vi.setSystemTime(new Date(c.hostClock));
          const floor = warmFloorAt(settings, c.instantMs).replicas;
          const local = DateTime.fromMillis(c.instantMs, { zone: c.zone });
          const minute = local.hour * 60 + local.minute;
          if (minute >= c.open && minute < c.close) expect(floor).toBe(1);
          // Away from any clock change a window is exactly its wall-clock hours.
          const zone = IANAZone.create(c.zone);
          const steady =
            zone.offset(c.instantMs - 26 * 3_600_000) === zone.offset(c.instantMs + 26 * 3_600_000);
          if (steady && (minute < c.open || minute >= c.close)) expect(floor).toBe(0);
          // The same answer under the other host clock, from a fresh settings object (no cache).
          vi.setSystemTime(new Date(HOST_CLOCKS.find((h) => h !== c.hostClock) ?? c.hostClock));
          expect(warmFloorAt({ ...settings }, c.instantMs).replicas).toBe(floor);
        } finally {
          vi.useRealTimers();
        }
      }),
      { numRuns: 300 },
    );
  });
});
