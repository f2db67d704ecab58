import { IANAZone } from "luxon";

/**
 * Wall-clock times of a time zone turned into instants, as a function of its inputs only.
 *
 * luxon's DateTime.fromObject guesses the zone's offset from the host's current time before it
 * settles on one, so an ambiguous autumn time resolved to a different instant in July than in
 * November. Here the zone's offsets are read around the wall-clock time itself.
 *
 * The rule, the same in every zone: a window is in force whenever the zone's wall clock shows a
 * time inside it.
 * - When the clock falls back and a time happens twice, a window opens at the first occurrence
 *   of its opening time and closes at the second occurrence of its closing time: it is warm for
 *   every moment the clock shows a time inside it. A warm floor that errs is better an hour too
 *   warm than an hour cold during the hours people wrote down.
 * - When the clock springs forward over a time, that time never shows: a window opening or
 *   closing inside the gap does so at the moment the clock jumps.
 */

export const MINUTE_MS = 60_000;
export const DAY_MS = 24 * 60 * MINUTE_MS;
/** UTC offsets lie between −12 h and +14 h: every instant of a wall-clock time is this close to it. */
const REACH_MS = 14 * 60 * MINUTE_MS;

/** A calendar date as a count of days since 1970-01-01 (negative before). */
export type DayNumber = number;

const zones = new Map<string, IANAZone>();

function zoneNamed(zone: string): IANAZone {
  let found = zones.get(zone);
  if (!found) {
    found = IANAZone.create(zone);
    if (!found.isValid) throw new Error(`"${zone}" is not an IANA time zone`);
    zones.set(zone, found);
  }
  return found;
}

function offsetMs(zone: IANAZone, instantMs: number): number {
  return zone.offset(instantMs) * MINUTE_MS;
}

/** The calendar day the zone's wall clock shows at an instant. */
export function localDayAt(zone: string, instantMs: number): DayNumber {
  return Math.floor((instantMs + offsetMs(zoneNamed(zone), instantMs)) / DAY_MS);
}

/** ISO weekday (Monday = 1 … Sunday = 7) of a day; 1970-01-01 was a Thursday. */
export function weekdayOf(day: DayNumber): number {
  return ((((day + 3) % 7) + 7) % 7) + 1;
}

export function dayNumberOf(year: number, month: number, day: number): DayNumber {
  return Date.UTC(year, month - 1, day) / DAY_MS;
}

export function calendarOf(day: DayNumber): { year: number; month: number; day: number } {
  const date = new Date(day * DAY_MS);
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
}

export function isoDateOf(day: DayNumber): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/**
 * The instants at which the zone's wall clock shows `minute` minutes after the start of `day`
 * (1440 and beyond: a later day): one, two in a fall-back hour, none in a spring-forward gap.
 * Also returns the offsets in force just before and just after, for the gap.
 */
function occurrences(zone: IANAZone, day: DayNumber, minute: number) {
  const wallMs = day * DAY_MS + minute * MINUTE_MS;
  // The instants lie within REACH_MS of the wall time; time zones change offset at most once in
  // such a span, so the offsets at its two ends are all the candidates.
  const before = offsetMs(zone, wallMs - REACH_MS);
  const after = offsetMs(zone, wallMs + REACH_MS);
  const found = [...new Set([before, after])]
    .map((offset) => wallMs - offset)
    .filter((instant) => instant + offsetMs(zone, instant) === wallMs)
    .sort((a, b) => a - b);
  return { wallMs, found, before, after };
}

/** The moment a spring-forward gap ends: the offset switches between the two bounds. */
function transitionBetween(zone: IANAZone, earlyMs: number, lateMs: number, earlyOffset: number): number {
  let low = earlyMs;
  let high = lateMs;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (offsetMs(zone, middle) === earlyOffset) low = middle;
    else high = middle;
  }
  return high;
}

/** The instant of a wall-clock time where a window opens: its first occurrence, or the jump over a gap. */
export function openingInstant(zoneName: string, day: DayNumber, minute: number): number {
  const zone = zoneNamed(zoneName);
  const { wallMs, found, before, after } = occurrences(zone, day, minute);
  const first = found[0];
  if (first !== undefined) return first;
  return transitionBetween(zone, wallMs - after, wallMs - before, before);
}

/** The instant of a wall-clock time where a window closes: its last occurrence, or the jump over a gap. */
export function closingInstant(zoneName: string, day: DayNumber, minute: number): number {
  const zone = zoneNamed(zoneName);
  const { wallMs, found, before, after } = occurrences(zone, day, minute);
  const last = found[found.length - 1];
  if (last !== undefined) return last;
  return transitionBetween(zone, wallMs - after, wallMs - before, before);
}
