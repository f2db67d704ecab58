import { DateTime } from "luxon";
import type { FloorOverride, FloorOverrides, WarmSchedule } from "../config/schedule.ts";
import type { Count, Step } from "./count.ts";
import {
  calendarOf,
  closingInstant,
  DAY_MS,
  type DayNumber,
  dayNumberOf,
  isoDateOf,
  localDayAt,
  MINUTE_MS,
  openingInstant,
  weekdayOf,
} from "./wall-clock.ts";

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
  /** The zone in which reasons show instants: the first region's (the hub). */
  readonly zone: string;
  /** Warm windows (lead and delay included), sorted by start; those of one count merged where they overlap. */
  readonly windows: readonly Interval[];
  readonly overrides: readonly Interval[];
}

const MINUTES_PER_DAY = 24 * 60;
/** Windows are expanded for a fortnight at a time, and again every few days (see NEXT_WINDOW_DAYS). */
const SPAN_DAYS = 14;
/**
 * "Next pre-warm" names a window that opens within this many days (a weekly schedule always has
 * one). An expansion is used only while it still reaches this far ahead, so the reason does not
 * depend on when the expansion was made: decide() stays a function of its arguments, and a
 * decision made again from its inputs (the server's /debug/decisions) reads the same.
 */
const NEXT_WINDOW_DAYS = 8;
/** A window covers at most lead (≤ 24 h) + an overnight day (≤ 48 h) + delay (≤ 24 h): it opens at most 4 days before. */
const LOOKBACK_DAYS = 4;

/**
 * Expanding a schedule into instants needs time-zone rules; decide() runs ~100k times in one
 * simulated run, so the expansion is cached per settings object (a spec is parsed once).
 */
const cache = new WeakMap<WarmFloorSettings, Precomputed>();

/** Joins overlapping windows that hold the same count, so "until" names the end of the whole stretch. */
function mergeWindows(intervals: Interval[]): Interval[] {
  intervals.sort((a, b) => a.startMs - b.startMs || b.replicas - a.replicas);
  const merged: Interval[] = [];
  for (const interval of intervals) {
    const joinable = merged.findLast(
      (earlier) => earlier.replicas === interval.replicas && interval.startMs <= earlier.endMs,
    );
    if (joinable) {
      const joined: Interval = {
        startMs: joinable.startMs,
        endMs: Math.max(joinable.endMs, interval.endMs),
        label: joinable.label.includes(interval.label)
          ? joinable.label
          : `${joinable.label} + ${interval.label}`,
        replicas: joinable.replicas,
      };
      merged[merged.indexOf(joinable)] = joined;
    } else merged.push(interval);
  }
  return merged;
}

function expandWindows(settings: WarmFloorSettings, fromMs: number, days: number): Interval[] {
  const schedule = settings.schedule;
  if (!schedule) return [];
  const intervals: Interval[] = [];
  for (const window of schedule.windows) {
    const first = localDayAt(window.zone, fromMs);
    for (let day = first; day < first + days; day++) {
      if (!window.weekdays.has(weekdayOf(day))) continue;
      intervals.push({
        startMs: openingInstant(window.zone, day, window.openMinute) - settings.prewarmMinutes * MINUTE_MS,
        endMs: closingInstant(window.zone, day, window.closeMinute) + settings.closeDelayMinutes * MINUTE_MS,
        label: window.text,
        replicas: window.replicas ?? settings.replicas,
      });
    }
  }
  return mergeWindows(intervals);
}

/** The last Monday-to-Friday day of a month. */
function lastWeekdayOfMonth(year: number, month: number): DayNumber {
  let day = dayNumberOf(year, month + 1, 0);
  while (weekdayOf(day) > 5) day--;
  return day;
}

/** The days an override is in force on, among `from` (minus one, for "day before") to `to`. */
function overrideDays(override: FloorOverride, from: DayNumber, to: DayNumber): DayNumber[] {
  const days = override.days;
  const result: DayNumber[] = [];
  if (days.kind === "dates") {
    const first = Math.max(dayNumberOf(days.first.year, days.first.month, days.first.day), from - 1);
    const last = Math.min(dayNumberOf(days.last.year, days.last.month, days.last.day), to);
    for (let day = first; day <= last; day++) result.push(day);
    return result;
  }
  const start = calendarOf(from);
  const end = calendarOf(to);
  // From the month before (its last weekday may be "the day before" of this span) to the last.
  for (let index = start.year * 12 + start.month - 2; index <= end.year * 12 + end.month - 1; index++) {
    const year = Math.floor(index / 12);
    const month = (index % 12) + 1;
    if (days.kind === "quarterEnd" && month % 3 !== 0) continue;
    result.push(lastWeekdayOfMonth(year, month));
  }
  return result;
}

/** Where an override without a zone counts its days: the first region's (the configuration requires one of the two). */
function overrideZone(override: FloorOverride, settings: WarmFloorSettings): string {
  return override.zone ?? settings.schedule?.windows[0]?.zone ?? "UTC";
}

function expandOverrides(settings: WarmFloorSettings, fromMs: number, days: number): Interval[] {
  const overrides = settings.overrides?.overrides ?? [];
  const intervals: Interval[] = [];
  for (const override of overrides) {
    const zone = overrideZone(override, settings);
    const from = localDayAt(zone, fromMs);
    for (const day of overrideDays(override, from, from + days)) {
      const startMs =
        override.fromPreviousDayMinute === undefined
          ? openingInstant(zone, day, 0)
          : openingInstant(zone, day - 1, override.fromPreviousDayMinute);
      intervals.push({
        startMs,
        endMs: closingInstant(zone, day, MINUTES_PER_DAY),
        label: `${override.text} (${isoDateOf(day)} ${zone})`,
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
    validToMs: nowMs + (SPAN_DAYS - 1 - NEXT_WINDOW_DAYS) * DAY_MS,
    zone: settings.schedule?.windows[0]?.zone ?? settings.overrides?.overrides[0]?.zone ?? "UTC",
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
  // A fixed locale: the host's would change the weekday and zone names in reasons.
  return DateTime.fromMillis(ms, { zone, locale: "en-US" }).toFormat("ccc yyyy-MM-dd HH:mm ZZZZ");
}

const NO_SCHEDULE = "no warm floor schedule";
const OUTSIDE = "outside the warm window";

/**
 * The warm floor at an instant: an override in force sets it (the highest of several wins),
 * else inside a business window (widened by the pre-warm lead and the close delay) it is the
 * window's own count or `replicas` (the highest of overlapping windows wins), else
 * `outsideReplicas`. Wall-clock times follow wall-clock.ts: the same rule in every zone, and
 * nothing read from the host's clock.
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
  // Windows may overlap with different counts: the highest in force wins.
  let window: Interval | undefined;
  let next: Interval | undefined;
  for (const interval of pre.windows) {
    if (interval.startMs > nowMs) {
      if (interval.startMs - nowMs <= NEXT_WINDOW_DAYS * DAY_MS) next = interval;
      break;
    }
    if (nowMs < interval.endMs && (!window || interval.replicas > window.replicas)) window = interval;
  }
  if (window) {
    window.inside ??= {
      replicas: window.replicas,
      reason: `warm window "${window.label}" (pre-warm ${settings.prewarmMinutes} min, close delay ${settings.closeDelayMinutes} min) until ${formatInstant(window.endMs, pre.zone)}`,
      source: "window",
      untilMs: window.endMs,
    };
    return window.inside;
  }
  if (next) {
    next.before ??= {
      replicas: settings.outsideReplicas,
      reason: `outside the warm window; next pre-warm ${formatInstant(next.startMs, pre.zone)}`,
      source: "outside",
      untilMs: next.startMs,
    };
    return next.before;
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
