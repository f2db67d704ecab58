/**
 * Demand one lead time ahead. A GPU node asked for now serves in 5–8 minutes (provisioning plus
 * model load); the 70 % target is applied to the inflow expected when that capacity arrives, not
 * to today's. Two predictors, each optional, each explained; the forecast only ever raises the
 * inflow the decision plans for (today's reading is a lower bound of what must be carried):
 *
 * - **season**: what the inflow did over the same lead-time window one period ago (yesterday,
 *   last week). Its rise over that window — peak of the window minus the rate at its start — is
 *   added to today's inflow. Additive, not a ratio: a ramp that starts from nothing at 09:00
 *   every morning is seen coming even at 08:52 when today's inflow is still 0.
 * - **trend** (Knative's panic idea): the rise over the last `trendWindowMs`, continued over the
 *   lead time, at most doubling today's inflow.
 *
 * A cold start (no history in Prometheus yet: the readings are missing) leaves the inflow as it is.
 */

export interface SeasonHistory {
  /** "yesterday", "last week": how the reason names it. */
  readonly label: string;
  /** Inflow (req/s) one period ago, at this time of day. */
  readonly rateThen: number;
  /** Highest inflow (req/s) one period ago over the lead time that followed. */
  readonly peakAheadThen: number;
}

export interface InflowSample {
  readonly atMs: number;
  readonly inflow: number;
}

export interface ForecastSettings {
  readonly leadMs: number;
  readonly trend: boolean;
  readonly trendWindowMs: number;
}

export interface InflowForecast {
  /** The inflow (req/s) to plan for: ≥ today's. */
  readonly inflowAhead: number;
  /** What raised it, when something did. */
  readonly note?: string;
  /** Recent inflow samples for the trend, bounded to the trend window. */
  readonly recent: readonly InflowSample[];
}

/** Enough for one sample per 5 s poll over a 5-minute trend window. */
const MAX_SAMPLES = 64;
/** The trend may at most double the inflow (Knative's panic threshold: a burst doubles). */
const MAX_TREND_FACTOR = 2;

const round2 = (n: number): number => Math.round(n * 100) / 100;

function seasonalRise(
  seasons: readonly SeasonHistory[],
): { rise: number; season: SeasonHistory } | undefined {
  let best: { rise: number; season: SeasonHistory } | undefined;
  for (const season of seasons) {
    if (!Number.isFinite(season.rateThen) || !Number.isFinite(season.peakAheadThen)) continue;
    if (season.rateThen < 0 || season.peakAheadThen < 0) continue;
    const rise = season.peakAheadThen - season.rateThen;
    if (rise > 0 && (!best || rise > best.rise)) best = { rise, season };
  }
  return best;
}

function keepRecent(recent: readonly InflowSample[], sample: InflowSample, windowMs: number): InflowSample[] {
  const kept = recent.filter((s) => s.atMs < sample.atMs && sample.atMs - s.atMs <= windowMs);
  kept.push(sample);
  return kept.slice(-MAX_SAMPLES);
}

/**
 * The inflow to plan for one lead time from `nowMs`. `inflowNow` undefined (the rate cannot be
 * read) means no forecast: the decision keeps its other signals and today's rules.
 */
export function forecastInflow(
  settings: ForecastSettings,
  inflowNow: number | undefined,
  seasons: readonly SeasonHistory[],
  recent: readonly InflowSample[],
  nowMs: number,
): InflowForecast {
  if (inflowNow === undefined || !Number.isFinite(inflowNow) || inflowNow < 0)
    return { inflowAhead: 0, recent };
  const kept = settings.trend
    ? keepRecent(recent, { atMs: nowMs, inflow: inflowNow }, settings.trendWindowMs)
    : [];
  const leadMinutes = Math.round(settings.leadMs / 60_000);
  const candidates: { inflow: number; note: string }[] = [];

  const seasonal = seasonalRise(seasons);
  if (seasonal) {
    const { rise, season } = seasonal;
    candidates.push({
      inflow: inflowNow + rise,
      note: `${season.label} the inflow rose from ${round2(season.rateThen)} to ${round2(season.peakAheadThen)} req/s over the next ${leadMinutes} min: planning for ${round2(inflowNow)} + ${round2(rise)} = ${round2(inflowNow + rise)} req/s`,
    });
  }

  const oldest = kept[0];
  if (settings.trend && oldest && oldest.atMs < nowMs && inflowNow > oldest.inflow) {
    const spanMs = nowMs - oldest.atMs;
    const projected = inflowNow + ((inflowNow - oldest.inflow) * settings.leadMs) / spanMs;
    const inflow = Math.min(projected, inflowNow * MAX_TREND_FACTOR);
    candidates.push({
      inflow,
      note: `the inflow rose from ${round2(oldest.inflow)} to ${round2(inflowNow)} req/s in the last ${Math.round(spanMs / 1000)} s: continued over ${leadMinutes} min${inflow < projected ? ` (at most ×${MAX_TREND_FACTOR})` : ""}, ${round2(inflow)} req/s`,
    });
  }

  let best: { inflow: number; note: string } | undefined;
  for (const candidate of candidates) if (!best || candidate.inflow > best.inflow) best = candidate;
  if (!best || best.inflow <= inflowNow) return { inflowAhead: inflowNow, recent: kept };
  return { inflowAhead: best.inflow, note: best.note, recent: kept };
}
