import { DateTime } from "luxon";
import type { CalendarDate, FloorOverride, FloorOverrides, WarmSchedule } from "../config/schedule.ts";
import type { Count, Step } from "./count.ts";

/** The warm floor's settings as they appear in a ScalerSpec (group `warmFloor`). */
export interface WarmFloorSettings {
  readonly schedule: WarmSchedule | undefined;
  readonly replicas: number;
  readonly outsideReplicas: number;
  readonly prewarmMinutes: number;
  readonly closeDelayMinutes: number;
  readonly overrides: FloorOverrides | undefined;
}

export interface FloorAt {
  readonly replicas: number;
  /** Why, in words: which window or override is in force, and until when. */
  readonly reason: string;
  /** What set the floor. */
  readonly source: "window" | "outside" | "override" | "none";
  /** When the current state ends (the end of the window or override in force), if known. */
  readonly untilMs?: number;
}

interface Interval {
  readonly startMs: number;
  readonly endMs: number;
  readonly label: string;
  readonly replicas: number;
  /**
   * The answers inside the interval and before it, built on first use and kept: formatting an
   * instant with luxon costs more than the whole rest of a decision, and most intervals of a
   * fortnight are never asked about.
   */
  inside?: FloorAt;
  before?: FloorAt;
}

interface Precomputed {
  /** The instants for which `windows` and `overrides` are complete. */
  readonly validFromMs: number;
  readonly validToMs: number;
  /** Warm windows (lead and delay included), merged where they overlap, sorted. */
  /** The zone in which reasons show instants: the first region's (the hub). */
  readonly zone: string;
  readonly windows: readonly Interval[];
  readonly overrides: readonly Interval[];
}

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/** Windows are expanded for a fortnight at a time: a simulated run recomputes ~26 times a year. */
const SPAN_DAYS = 14;
/** A window covers at most lead (≤ 24 h) + an overnight day (≤ 48 h) + delay (≤ 24 h): it opens at most 4 days before. */
const LOOKBACK_DAYS = 4;

/**
 * Expanding a schedule into instants needs luxon and time-zone rules; decide() runs ~100k times
 * in one simulated run, so the expansion is cached per settings object (a spec is parsed once).
 */
const cache = new WeakMap<WarmFloorSettings, Precomputed>();

/**
 * The instant of a wall-clock time, `minuteOfDay` minutes after the start of `date` (1440 and
 * beyond: a later day). fromObject applies the zone's rules: a time inside a spring-forward gap
 * moves forward by the gap, and an ambiguous autumn time takes its first occurrence.
 */
function wallClock(date: DateTime, minuteOfDay: number, zone: string): DateTime {
  const dayOffset = Math.floor(minuteOfDay / (24 * 60));
  const minutes = minuteOfDay % (24 * 60);
  const day = dayOffset === 0 ? date : date.plus({ days: dayOffset });
  return DateTime.fromObject(
    { year: day.year, month: day.month, day: day.day, hour: Math.floor(minutes / 60), minute: minutes % 60 },
    { zone },
  );
}

function mergeWindows(intervals: Interval[]): Interval[] {
  intervals.sort((a, b) => a.startMs - b.startMs);
  const merged: Interval[] = [];
  for (const interval of intervals) {
    const last = merged[merged.length - 1];
    if (last && interval.startMs <= last.endMs) {
      merged[merged.length - 1] = {
        startMs: last.startMs,
        endMs: Math.max(last.endMs, interval.endMs),
        label: last.label.includes(interval.label) ? last.label : `${last.label} + ${interval.label}`,
        replicas: last.replicas,
      };
    } else merged.push(interval);
  }
  return merged;
}

function expandWindows(settings: WarmFloorSettings, fromMs: number, days: number): Interval[] {
  const schedule = settings.schedule;
  if (!schedule) return [];
  const intervals: Interval[] = [];
  for (const window of schedule.windows) {
    const first = DateTime.fromMillis(fromMs, { zone: window.zone }).startOf("day");
    for (let offset = 0; offset < days; offset++) {
      const date = first.plus({ days: offset });
      if (!window.weekdays.has(date.weekday)) continue;
      const open = wallClock(date, window.openMinute, window.zone);
      const close = wallClock(date, window.closeMinute, window.zone);
      intervals.push({
        startMs: open.toMillis() - settings.prewarmMinutes * MINUTE_MS,
        endMs: close.toMillis() + settings.closeDelayMinutes * MINUTE_MS,
        label: window.text,
        replicas: settings.replicas,
      });
    }
  }
  return mergeWindows(intervals);
}

function lastWeekdayOfMonth(year: number, month: number, zone: string): DateTime {
  let day = DateTime.fromObject({ year, month, day: 1 }, { zone }).endOf("month").startOf("day");
  while (day.weekday > 5) day = day.minus({ days: 1 });
  return day;
}

function overrideDays(override: FloorOverride, zone: string, from: DateTime, to: DateTime): DateTime[] {
  const days = override.days;
  if (days.kind === "dates") {
    const result: DateTime[] = [];
    const first = dateInZone(days.first, zone);
    const last = dateInZone(days.last, zone);
    for (let day = first; day <= last; day = day.plus({ days: 1 })) {
      if (day >= from.minus({ days: 1 }) && day <= to) result.push(day);
    }
    return result;
  }
  const result: DateTime[] = [];
  for (
    let month = from.startOf("month").minus({ months: 1 });
    month <= to;
    month = month.plus({ months: 1 })
  ) {
    if (days.kind === "quarterEnd" && month.month % 3 !== 0) continue;
    result.push(lastWeekdayOfMonth(month.year, month.month, zone));
  }
  return result;
}

function dateInZone(date: CalendarDate, zone: string): DateTime {
  return DateTime.fromObject({ year: date.year, month: date.month, day: date.day }, { zone });
}

function expandOverrides(settings: WarmFloorSettings, fromMs: number, days: number): Interval[] {
  const overrides = settings.overrides?.overrides ?? [];
  const hubZone = settings.schedule?.windows[0]?.zone ?? "UTC";
  const intervals: Interval[] = [];
  for (const override of overrides) {
    const zone = override.zone ?? hubZone;
    const from = DateTime.fromMillis(fromMs, { zone }).startOf("day");
    const to = from.plus({ days });
    for (const day of overrideDays(override, zone, from, to)) {
      const start =
        override.fromPreviousDayMinute === undefined
          ? wallClock(day, 0, zone)
          : wallClock(day.minus({ days: 1 }), override.fromPreviousDayMinute, zone);
      const end = wallClock(day, 24 * 60, zone);
      intervals.push({
        startMs: start.toMillis(),
        endMs: end.toMillis(),
        label: `${override.text} (${day.toISODate()} ${zone})`,
        replicas: override.replicas,
      });
    }
  }
  return intervals.sort((a, b) => a.startMs - b.startMs);
}

function precompute(settings: WarmFloorSettings, nowMs: number): Precomputed {
  const fromMs = nowMs - LOOKBACK_DAYS * DAY_MS;
  const days = LOOKBACK_DAYS + SPAN_DAYS + 1;
  return {
    validFromMs: nowMs - DAY_MS,
    validToMs: nowMs + (SPAN_DAYS - 1) * DAY_MS,
    zone: settings.schedule?.windows[0]?.zone ?? "UTC",
    windows: expandWindows(settings, fromMs, days),
    overrides: expandOverrides(settings, fromMs, days),
  };
}

function precomputedFor(settings: WarmFloorSettings, nowMs: number): Precomputed {
  const cached = cache.get(settings);
  if (cached && nowMs >= cached.validFromMs && nowMs <= cached.validToMs) return cached;
  const fresh = precompute(settings, nowMs);
  cache.set(settings, fresh);
  return fresh;
}

function formatInstant(ms: number, zone: string): string {
  return DateTime.fromMillis(ms, { zone }).toFormat("ccc yyyy-MM-dd HH:mm ZZZZ");
}

const NO_SCHEDULE = "no warm floor schedule";
const OUTSIDE = "outside the warm window";

/**
 * The warm floor at an instant: an override in force sets it (the highest of several wins),
 * else inside a business window (widened by the pre-warm lead and the close delay) it is
 * `replicas`, else `outsideReplicas`.
 */
export function warmFloorAt(settings: WarmFloorSettings, nowMs: number): FloorAt {
  if (!settings.schedule && !settings.overrides)
    return { replicas: settings.outsideReplicas, reason: NO_SCHEDULE, source: "none" };
  const pre = precomputedFor(settings, nowMs);
  let override: Interval | undefined;
  for (const interval of pre.overrides) {
    if (interval.startMs > nowMs) break;
    if (nowMs < interval.endMs && (!override || interval.replicas > override.replicas)) override = interval;
  }
  if (override) {
    override.inside ??= {
      replicas: override.replicas,
      reason: `override "${override.label}" until ${formatInstant(override.endMs, pre.zone)}`,
      source: "override",
      untilMs: override.endMs,
    };
    return override.inside;
  }
  for (const window of pre.windows) {
    if (window.startMs > nowMs) {
      window.before ??= {
        replicas: settings.outsideReplicas,
        reason: `outside the warm window; next pre-warm ${formatInstant(window.startMs, pre.zone)}`,
        source: "outside",
        untilMs: window.startMs,
      };
      return window.before;
    }
    if (nowMs < window.endMs) {
      window.inside ??= {
        replicas: settings.replicas,
        reason: `warm window "${window.label}" (pre-warm ${settings.prewarmMinutes} min, close delay ${settings.closeDelayMinutes} min) until ${formatInstant(window.endMs, pre.zone)}`,
        source: "window",
        untilMs: window.endMs,
      };
      return window.inside;
    }
  }
  return { replicas: settings.outsideReplicas, reason: OUTSIDE, source: "outside" };
}

/**
 * The warm floor stage: the count never goes below the floor in force (business hours, a dated
 * override), so replicas — and their GPU nodes — are warm before the traffic they expect.
 */
export function raiseToWarmFloor(count: Count, floor: number): Step {
  return floor > count.desired
    ? { count: { ...count, desired: floor, driving: "floor" }, reasons: [] }
    : { count, reasons: [] };
}
