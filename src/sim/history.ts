import type { ScalerSpec } from "../config/spec.ts";
import { HISTORY_RATE_WINDOW_SECONDS } from "../readings/history-window.ts";
import { LEAD_LADDER, type LeadFactor, PEAK_AHEAD_KEYS } from "../readings/lead-time.ts";
import { readingOf } from "../readings/reading.ts";
import type { SignalKey, SignalReadings } from "../readings/signal-table.ts";
import type { Observer } from "./observe.ts";

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** A week and a lead time of minutes, with room to spare: older points are never asked for. */
const KEPT_MINUTES = (WEEK_MS + DAY_MS) / MINUTE_MS;
/** The history queries' rate window, in minutes. */
const WINDOW_MINUTES = HISTORY_RATE_WINDOW_SECONDS / 60;

/**
 * What Prometheus holds of the TTFT request rate, one point a minute: the history the forecast's
 * offset queries read. Only what has been scraped so far is in it (no peeking into the trace's
 * future), and before the first scrape, or with no pod serving, it reads 0 — as the scaler's
 * query does (`… or vector(0)`).
 */
export class InflowHistory {
  private readonly rates = new Float64Array(KEPT_MINUTES);
  private readonly minuteOf = new Float64Array(KEPT_MINUTES).fill(Number.NaN);

  /**
   * Takes the newest scrape Prometheus can answer with at `nowMs`, filed under its wall-clock
   * minute (`wallOffsetMs` past the simulated clock once no-data intervals have been skipped).
   */
  recordFrom(observer: Observer, nowMs: number, wallOffsetMs = 0): void {
    const snapshot = observer.visibleSnapshot(nowMs);
    if (!snapshot) return;
    const minute = Math.floor((snapshot.atMs + wallOffsetMs) / MINUTE_MS);
    const slot = minute % KEPT_MINUTES;
    this.minuteOf[slot] = minute;
    this.rates[slot] = snapshot.servingPods > 0 ? snapshot.ttftRequestsPerSecond : 0;
  }

  private rateAtMinute(minute: number): number {
    const slot = ((minute % KEPT_MINUTES) + KEPT_MINUTES) % KEPT_MINUTES;
    return this.minuteOf[slot] === minute ? (this.rates[slot] as number) : 0;
  }

  /** The rate over the history's 10-minute window ending in the minute of `atMs` (rate(…[10m])). */
  rateAt(atMs: number): number {
    const last = Math.floor(atMs / MINUTE_MS);
    let sum = 0;
    for (let minute = last - WINDOW_MINUTES + 1; minute <= last; minute++) sum += this.rateAtMinute(minute);
    return sum / WINDOW_MINUTES;
  }

  /**
   * The peaks over [fromMs, end] for each of the ascending `endsMs`, in one pass: the ladder's
   * windows all start one period ago, so each is the running peak at its end.
   */
  peaksOver(fromMs: number, endsMs: readonly number[]): number[] {
    const peaks: number[] = [];
    let peak = 0;
    let minute = Math.floor(fromMs / MINUTE_MS);
    for (const endMs of endsMs) {
      for (; minute <= Math.floor(endMs / MINUTE_MS); minute++)
        peak = Math.max(peak, this.rateAt(minute * MINUTE_MS));
      peaks.push(peak);
    }
    return peaks;
  }

  /** The history readings the spec's forecast reads, as of `nowMs`. */
  readings(spec: ScalerSpec, nowMs: number): SignalReadings {
    const { seasons, leadTimeSeconds, leadTimeMeasured } = spec.forecast;
    // The peaks over the lead-time ladder's windows when the lead time is measured, as the
    // scaler's queries read them; the setting's own window otherwise.
    const factors = leadTimeMeasured ? LEAD_LADDER : ([1] as const);
    const out: { -readonly [K in keyof SignalReadings]: SignalReadings[K] } = {};
    const season = (
      periodMs: number,
      now: "inflowDayAgo" | "inflowWeekAgo",
      keys: Record<LeadFactor, SignalKey>,
    ) => {
      const thenMs = nowMs - periodMs;
      out[now] = readingOf(this.rateAt(thenMs), nowMs);
      const peaks = this.peaksOver(
        thenMs,
        factors.map((factor) => thenMs + leadTimeSeconds * factor * 1000),
      );
      factors.forEach((factor, i) => {
        out[keys[factor]] = readingOf(peaks[i] as number, nowMs);
      });
    };
    if (seasons === "day" || seasons === "day+week") season(DAY_MS, "inflowDayAgo", PEAK_AHEAD_KEYS.day);
    if (seasons === "week" || seasons === "day+week") season(WEEK_MS, "inflowWeekAgo", PEAK_AHEAD_KEYS.week);
    return out;
  }
}
