import { DateTime, IANAZone } from "luxon";

/**
 * Wall-clock ↔ instant conversion for traces. Trace timestamps without an offset are local
 * times in a named zone (the NASA log is EDT; the Azure traces state none): the warm floor and
 * the baselines' cron schedules then meet the trace's own clock.
 */
export function checkTimeZone(zone: string): string {
  if (!IANAZone.isValidZone(zone)) {
    throw new Error(
      `--tz must be an IANA time zone such as America/New_York or UTC, got ${JSON.stringify(zone)}`,
    );
  }
  return zone;
}

const NAIVE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?$/;
const WITH_OFFSET = /(Z|[+-]\d{2}:?\d{2})$/i;

/** Parses trace timestamps fast (luxon is asked once per hour of local time, not per row). */
export class TimestampParser {
  private readonly offsetByHour = new Map<number, number>();

  constructor(private readonly zone: string) {}

  /** Milliseconds since the epoch, or throws naming the bad value. */
  parse(raw: string): number {
    const text = raw.trim();
    if (WITH_OFFSET.test(text)) {
      const parsed = DateTime.fromISO(text.replace(" ", "T"), { setZone: true });
      if (!parsed.isValid) throw new Error(`not a timestamp: ${JSON.stringify(text)}`);
      return parsed.toMillis();
    }
    const m = NAIVE.exec(text);
    if (!m)
      throw new Error(`not a timestamp (expected YYYY-MM-DD HH:MM[:SS[.fff]]): ${JSON.stringify(text)}`);
    const fraction = m[7] ? Number(m[7]) * 1000 : 0;
    const naiveMs =
      Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)) +
      fraction;
    return naiveMs - this.offsetMinutesAt(naiveMs) * 60_000;
  }

  /** The zone's offset for a local wall time (two passes settle DST edges). */
  private offsetMinutesAt(naiveMs: number): number {
    const hour = Math.floor(naiveMs / 3_600_000);
    const cached = this.offsetByHour.get(hour);
    if (cached !== undefined) return cached;
    const first = DateTime.fromMillis(naiveMs, { zone: this.zone }).offset;
    const second = DateTime.fromMillis(naiveMs - first * 60_000, { zone: this.zone }).offset;
    this.offsetByHour.set(hour, second);
    return second;
  }
}

/** Local wall-clock parts of an instant in a zone (for cron-like schedules). */
export interface LocalTime {
  /** 1 = Monday … 7 = Sunday (ISO). */
  readonly weekday: number;
  /** Minutes since local midnight. */
  readonly minuteOfDay: number;
}

export class LocalClock {
  private readonly offsetByHour = new Map<number, number>();

  constructor(readonly zone: string) {}

  at(ms: number): LocalTime {
    const hour = Math.floor(ms / 3_600_000);
    let offset = this.offsetByHour.get(hour);
    if (offset === undefined) {
      offset = DateTime.fromMillis(ms, { zone: this.zone }).offset;
      this.offsetByHour.set(hour, offset);
    }
    const local = new Date(ms + offset * 60_000);
    const weekday = local.getUTCDay() === 0 ? 7 : local.getUTCDay();
    return { weekday, minuteOfDay: local.getUTCHours() * 60 + local.getUTCMinutes() };
  }
}

export function formatInZone(ms: number, zone: string): string {
  return DateTime.fromMillis(ms, { zone }).toFormat("yyyy-LL-dd HH:mm ZZZZ");
}
