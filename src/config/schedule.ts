import { IANAZone } from "luxon";
import { excerpt } from "./excerpt.ts";

/**
 * The warm floor's configuration language: business windows per region and dated overrides,
 * written as compact strings because KEDA passes every trigger metadata value as one string.
 *
 *   schedule:  "Asia/Singapore Mon-Fri 08:00-23:00; Europe/London Mon-Fri 09:00-17:30"
 *              "UTC Mon-Fri 08:00-18:00 3; UTC Mon-Fri 08:00-10:00 5"   (a window's own floor)
 *   overrides: "monthEnd=2 from 18:00 day before; quarterEnd=3; 2026-12-24..2026-12-26=0"
 *
 * Parsing only: evaluating a schedule at an instant is warm-floor.ts.
 */

const MINUTES_PER_DAY = 24 * 60;

/** ISO weekday numbers, as luxon counts them: Monday = 1 … Sunday = 7. */
const WEEKDAYS: Readonly<Record<string, number>> = {
  mon: 1,
  tue: 2,
  wed: 3,
  thu: 4,
  fri: 5,
  sat: 6,
  sun: 7,
};

export interface BusinessWindow {
  /** IANA time zone in which `openMinute` and `closeMinute` are wall-clock times. */
  readonly zone: string;
  /** ISO weekdays (1 = Monday) on which the window opens. */
  readonly weekdays: ReadonlySet<number>;
  /** Minutes after local midnight. */
  readonly openMinute: number;
  /** Minutes after local midnight of the opening day; at or before `openMinute` means the next day. */
  readonly closeMinute: number;
  /** The window's own floor; unset: warmFloorReplicas. */
  readonly replicas?: number;
  /** The entry as written, for reasons and errors. */
  readonly text: string;
}

export interface WarmSchedule {
  readonly windows: readonly BusinessWindow[];
  readonly text: string;
}

export interface CalendarDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

export type OverrideDays =
  /** The last weekday (Mon–Fri) of every month: month-end close. */
  | { readonly kind: "monthEnd" }
  /** The last weekday of March, June, September and December. */
  | { readonly kind: "quarterEnd" }
  /** Every calendar day from `first` to `last`, inclusive. */
  | { readonly kind: "dates"; readonly first: CalendarDate; readonly last: CalendarDate };

export interface FloorOverride {
  readonly days: OverrideDays;
  readonly replicas: number;
  /** Zone in which days begin and end; unset: the first schedule region's zone (the hub). */
  readonly zone?: string;
  /** "from 18:00 day before": the override starts this many minutes after midnight of the previous day. */
  readonly fromPreviousDayMinute?: number;
  readonly text: string;
}

export interface FloorOverrides {
  readonly overrides: readonly FloorOverride[];
  readonly text: string;
}

function entries(raw: string): string[] {
  return raw
    .split(/[;\n]/)
    .map((entry) => entry.trim().replace(/\s+/g, " "))
    .filter((entry) => entry !== "");
}

function zoneOf(word: string, entry: string): string {
  if (!IANAZone.isValidZone(word))
    throw new Error(
      `${excerpt(word)} in ${excerpt(entry)} is not an IANA time zone (e.g. Asia/Singapore, Europe/Amsterdam)`,
    );
  return word;
}

/** "08:00" → 480; "24:00" is allowed as a closing time (end of the day). */
export function parseClock(word: string, entry: string, allowEndOfDay: boolean): number {
  const match = /^(\d{1,2}):(\d{2})$/.exec(word);
  const hours = match ? Number(match[1]) : Number.NaN;
  const minutes = match ? Number(match[2]) : Number.NaN;
  const valid =
    match !== null && minutes < 60 && (hours < 24 || (allowEndOfDay && hours === 24 && minutes === 0));
  if (!valid)
    throw new Error(`${excerpt(word)} in ${excerpt(entry)} is not a time of day HH:MM (00:00 to 24:00)`);
  return hours * 60 + minutes;
}

function weekdayOf(word: string, entry: string): number {
  const day = WEEKDAYS[word.toLowerCase()];
  if (day === undefined)
    throw new Error(
      `${excerpt(word)} in ${excerpt(entry)} is not a weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun)`,
    );
  return day;
}

/** "Mon-Fri", "Sat,Sun", "Mon,Wed-Fri", "Fri-Mon" (wraps), "daily". */
export function parseWeekdays(word: string, entry: string): ReadonlySet<number> {
  if (word.toLowerCase() === "daily") return new Set([1, 2, 3, 4, 5, 6, 7]);
  const days = new Set<number>();
  for (const part of word.split(",")) {
    const [from, to, ...rest] = part.split("-");
    if (from === undefined || from === "" || rest.length > 0)
      throw new Error(
        `${excerpt(word)} in ${excerpt(entry)} is not a list of weekdays such as Mon-Fri or Sat,Sun or daily`,
      );
    const first = weekdayOf(from, entry);
    const last = to === undefined ? first : weekdayOf(to, entry);
    for (let day = first; ; day = (day % 7) + 1) {
      days.add(day);
      if (day === last) break;
    }
  }
  return days;
}

const REPLICAS = /^\d{1,5}$/;

/**
 * Parses "<IANA zone> <weekdays> <HH:MM>-<HH:MM>[ <replicas>]" entries separated by ";" (or new
 * lines). A closing time at or before the opening time closes on the next day (an overnight
 * window). A window's own replica count is its floor; without one the floor is warmFloorReplicas.
 */
export function parseWarmSchedule(raw: string): WarmSchedule {
  const list = entries(raw);
  if (list.length === 0) throw new Error("the schedule is empty");
  const windows = list.map((entry): BusinessWindow => {
    const words = entry.split(" ");
    if (words.length !== 3 && words.length !== 4)
      throw new Error(
        `${excerpt(entry)} must be "<IANA zone> <weekdays> <open>-<close>[ <replicas>]", e.g. "Asia/Singapore Mon-Fri 08:00-23:00" or "UTC Mon-Fri 08:00-10:00 5"`,
      );
    const [zoneWord = "", daysWord = "", hoursWord = "", replicasWord] = words;
    const [openWord = "", closeWord = "", ...extra] = hoursWord.split("-");
    if (extra.length > 0 || closeWord === "")
      throw new Error(`${excerpt(hoursWord)} in ${excerpt(entry)} must be <open>-<close>, e.g. 08:00-23:00`);
    if (replicasWord !== undefined && !REPLICAS.test(replicasWord))
      throw new Error(
        `${excerpt(replicasWord)} in ${excerpt(entry)} is not a replica count (a whole number, e.g. 5)`,
      );
    const openMinute = parseClock(openWord, entry, false);
    const closeMinute = parseClock(closeWord, entry, true);
    return {
      zone: zoneOf(zoneWord, entry),
      weekdays: parseWeekdays(daysWord, entry),
      openMinute,
      closeMinute: closeMinute <= openMinute ? closeMinute + MINUTES_PER_DAY : closeMinute,
      ...(replicasWord !== undefined ? { replicas: Number(replicasWord) } : {}),
      text: entry,
    };
  });
  return { windows, text: list.join("; ") };
}

function parseDate(word: string, entry: string): CalendarDate {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(word);
  const date = match ? { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) } : undefined;
  const check = date ? new Date(Date.UTC(date.year, date.month - 1, date.day)) : undefined;
  if (
    !date ||
    !check ||
    check.getUTCFullYear() !== date.year ||
    check.getUTCMonth() !== date.month - 1 ||
    check.getUTCDate() !== date.day
  )
    throw new Error(`${excerpt(word)} in ${excerpt(entry)} is not a calendar date YYYY-MM-DD`);
  return date;
}

function dateKey(date: CalendarDate): number {
  return date.year * 10_000 + date.month * 100 + date.day;
}

function parseDays(word: string, entry: string): OverrideDays {
  if (word === "monthEnd") return { kind: "monthEnd" };
  if (word === "quarterEnd") return { kind: "quarterEnd" };
  const [firstWord = "", lastWord, ...rest] = word.split("..");
  if (rest.length > 0)
    throw new Error(
      `${excerpt(word)} in ${excerpt(entry)} must be monthEnd, quarterEnd, a date or a date range`,
    );
  if (!/^\d/.test(firstWord))
    throw new Error(
      `${excerpt(word)} in ${excerpt(entry)} must be monthEnd, quarterEnd, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD`,
    );
  const first = parseDate(firstWord, entry);
  const last = lastWord === undefined ? first : parseDate(lastWord, entry);
  if (dateKey(last) < dateKey(first))
    throw new Error(`the range ${excerpt(word)} in ${excerpt(entry)} ends before it begins`);
  return { kind: "dates", first, last };
}

const OVERRIDE =
  /^(?:(?<zone>\S+) )?(?<days>\S+?) ?= ?(?<replicas>\d+)(?: from (?<from>\d{1,2}:\d{2}) (?:the )?day before)?$/;

/**
 * Parses "[<IANA zone>] <days>=<replicas>[ from <HH:MM> day before]" entries separated by ";".
 * <days> is monthEnd, quarterEnd, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD.
 */
export function parseFloorOverrides(raw: string, maxReplicas = 10_000): FloorOverrides {
  const list = entries(raw);
  if (list.length === 0) throw new Error("no overrides given");
  const overrides = list.map((entry): FloorOverride => {
    const groups = OVERRIDE.exec(entry)?.groups;
    if (!groups)
      throw new Error(
        `${excerpt(entry)} must be "[<zone>] <monthEnd|quarterEnd|YYYY-MM-DD[..YYYY-MM-DD]>=<replicas>[ from HH:MM day before]"`,
      );
    const replicas = Number(groups.replicas);
    if (replicas > maxReplicas)
      throw new Error(`${replicas} replicas in ${excerpt(entry)} is more than ${maxReplicas}`);
    return {
      days: parseDays(groups.days ?? "", entry),
      replicas,
      ...(groups.zone !== undefined ? { zone: zoneOf(groups.zone, entry) } : {}),
      ...(groups.from !== undefined ? { fromPreviousDayMinute: parseClock(groups.from, entry, false) } : {}),
      text: entry,
    };
  });
  return { overrides, text: list.join("; ") };
}
