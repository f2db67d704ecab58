import { leastRealRise } from "./counting-noise.ts";

/**
 * Demand one lead time ahead. A GPU node asked for now serves in 5–8 minutes (provisioning plus
 * model load); the 70 % target is applied to the inflow expected when that capacity arrives, not
 * to today's. Two predictors, each optional, each explained; the forecast only ever raises the
 * inflow the decision plans for (today's reading is a lower bound of what must be carried):
 *
 * - **season**: what the inflow did over the same lead-time window one period ago (yesterday,
 *   last week). Its rise over that window — peak of the window minus the rate at its start — is
 *   added to today's inflow. Additive, not a ratio: a ramp that starts from nothing at 09:00
 *   every morning is seen coming even at 08:52 when today's inflow is still 0. Two guards keep it
 *   from buying nodes for nothing: a rise within the counting noise of the history's rate window
 *   is no rise (the peak of a window of noisy points always stands above its start), and the rise
 *   is scaled down by how far today runs below that period at this time (a Saturday after a
 *   Friday: yesterday's morning ramp is not today's).
 * - **trend** (Knative's panic idea, made to ignore noise): the least-squares slope of the inflow
 *   over the last `trendWindowMs`, believed only when its rise over the window stands
 *   `significance` standard errors above the counting noise of the rate and has done so for
 *   `trendMinDurationMs`; then continued over the lead time, at most doubling today's inflow.
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
  /** The window after "then" the seasons' peak was read over (≥ the lead); default `leadMs`. */
  readonly seasonWindowMs?: number;
  readonly trend: boolean;
  readonly trendWindowMs: number;
  /** A significant rise of the trend must last this long before it is continued. */
  readonly trendMinDurationMs: number;
  /** Standard errors of counting noise a rise must exceed. */
  readonly significance: number;
  /** The window today's inflow is a rate over (its counting noise). */
  readonly rateWindowMs: number;
  /** The window the history's rates are read over. */
  readonly historyWindowMs: number;
}

/** What the trend carries from one poll to the next. */
export interface TrendMemory {
  readonly recent: readonly InflowSample[];
  /** Since when the rise has been significant, without a break. */
  readonly risingSinceMs?: number;
}

export interface InflowForecast extends TrendMemory {
  /** The inflow (req/s) to plan for: ≥ today's. */
  readonly inflowAhead: number;
  /** What raised it, when something did. */
  readonly note?: string;
}

/** Enough for one sample per 5 s poll over a 5-minute trend window. */
const MAX_SAMPLES = 64;
/** The trend may at most double the inflow (Knative's panic threshold: a burst doubles). */
const MAX_TREND_FACTOR = 2;
/** A line needs a few points before its slope means anything. */
const MIN_TREND_SAMPLES = 4;

const round2 = (n: number): number => Math.round(n * 100) / 100;

interface Candidate {
  readonly inflow: number;
  readonly note: string;
}

function seasonalCandidate(
  settings: ForecastSettings,
  inflowNow: number,
  seasons: readonly SeasonHistory[],
  leadMinutes: number,
  observable: boolean,
): Candidate | undefined {
  const windowSeconds = settings.historyWindowMs / 1000;
  const todaySeconds = Math.max(1, settings.rateWindowMs / 1000);
  let best: Candidate | undefined;
  for (const season of seasons) {
    const { rateThen, peakAheadThen } = season;
    if (!Number.isFinite(rateThen) || !Number.isFinite(peakAheadThen)) continue;
    if (rateThen < 0 || peakAheadThen < 0) continue;
    const rise = peakAheadThen - rateThen;
    if (rise <= leastRealRise(peakAheadThen, rateThen, windowSeconds, settings.significance)) continue;
    // How well that period predicts today: where it ran above today at this time by more than
    // the noise of the two rates, its rise is scaled down in proportion (never up: a forecast is
    // a floor, not an amplifier).
    const margin = settings.significance * Math.sqrt(rateThen / windowSeconds + inflowNow / todaySeconds);
    // With no replica ready, today's inflow reads 0 because nothing measures it: no evidence
    // against the season, whose rise is then the only sign of the demand coming.
    const agreement = observable && rateThen > 0 ? Math.min(1, (inflowNow + margin) / rateThen) : 1;
    const added = rise * agreement;
    if (added <= 0) continue;
    const scaled =
      agreement < 1
        ? ` × ${round2(agreement)} (today runs at ${Math.round(agreement * 100)} % of ${season.label}'s rate at this time)`
        : "";
    const candidate = {
      inflow: inflowNow + added,
      note: `${season.label} the inflow rose from ${round2(rateThen)} to ${round2(peakAheadThen)} req/s over the next ${leadMinutes} min: planning for ${round2(inflowNow)} + ${round2(rise)}${scaled} = ${round2(inflowNow + added)} req/s`,
    };
    if (!best || candidate.inflow > best.inflow) best = candidate;
  }
  return best;
}

function keepRecent(recent: readonly InflowSample[], sample: InflowSample, windowMs: number): InflowSample[] {
  const kept = recent.filter((s) => s.atMs < sample.atMs && sample.atMs - s.atMs <= windowMs);
  kept.push(sample);
  return kept.slice(-MAX_SAMPLES);
}

/** Least-squares line through the samples: its slope (req/s per ms) and its value at `atMs`. */
function fitLine(samples: readonly InflowSample[]): { slope: number; at: (ms: number) => number } {
  const n = samples.length;
  let meanT = 0;
  let meanY = 0;
  for (const s of samples) {
    meanT += s.atMs / n;
    meanY += s.inflow / n;
  }
  let sxy = 0;
  let sxx = 0;
  for (const s of samples) {
    sxy += (s.atMs - meanT) * (s.inflow - meanY);
    sxx += (s.atMs - meanT) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return { slope, at: (ms) => meanY + slope * (ms - meanT) };
}

/** The trend's continuation, when its rise is real and has lasted; and since when it has been. */
function trendCandidate(
  settings: ForecastSettings,
  inflowNow: number,
  kept: readonly InflowSample[],
  risingSinceMs: number | undefined,
  nowMs: number,
  leadMinutes: number,
): { candidate?: Candidate; risingSinceMs?: number } {
  const oldest = kept[0];
  if (!oldest || kept.length < MIN_TREND_SAMPLES) return {};
  const spanMs = nowMs - oldest.atMs;
  const line = fitLine(kept);
  const from = line.at(oldest.atMs);
  const to = line.at(nowMs);
  const rise = to - from;
  const least = leastRealRise(from, to, settings.rateWindowMs / 1000, settings.significance);
  if (!(line.slope > 0) || rise <= least) return {};
  const since = risingSinceMs !== undefined && risingSinceMs <= nowMs ? risingSinceMs : nowMs;
  if (nowMs - since < settings.trendMinDurationMs) return { risingSinceMs: since };
  const projected = inflowNow + line.slope * settings.leadMs;
  const inflow = Math.min(projected, inflowNow * MAX_TREND_FACTOR);
  return {
    risingSinceMs: since,
    candidate: {
      inflow,
      note: `the inflow rose from ${round2(from)} to ${round2(to)} req/s over the last ${Math.round(spanMs / 1000)} s (more than ${settings.significance} standard errors of counting noise, ${round2(least)} req/s, for ${Math.round((nowMs - since) / 1000)} s): continued over ${leadMinutes} min${inflow < projected ? ` (at most ×${MAX_TREND_FACTOR})` : ""}, ${round2(inflow)} req/s`,
    },
  };
}

/**
 * The inflow to plan for one lead time from `nowMs`. `inflowNow` undefined (the rate cannot be
 * read) means no forecast: the decision keeps its other signals and today's rules. `observable`
 * false: no replica is ready, so `inflowNow` is 0 for want of a pod to count requests, not a
 * measurement that today differs from the season.
 */
export function forecastInflow(
  settings: ForecastSettings,
  inflowNow: number | undefined,
  seasons: readonly SeasonHistory[],
  memory: TrendMemory,
  nowMs: number,
  observable = true,
): InflowForecast {
  if (inflowNow === undefined || !Number.isFinite(inflowNow) || inflowNow < 0)
    return { inflowAhead: 0, ...memory };
  const kept = settings.trend
    ? keepRecent(memory.recent, { atMs: nowMs, inflow: inflowNow }, settings.trendWindowMs)
    : [];
  const leadMinutes = Math.round(settings.leadMs / 60_000);
  const seasonMinutes = Math.round((settings.seasonWindowMs ?? settings.leadMs) / 60_000);
  const candidates: Candidate[] = [];
  const seasonal = seasonalCandidate(settings, inflowNow, seasons, seasonMinutes, observable);
  if (seasonal) candidates.push(seasonal);
  const trend = settings.trend
    ? trendCandidate(settings, inflowNow, kept, memory.risingSinceMs, nowMs, leadMinutes)
    : {};
  if (trend.candidate) candidates.push(trend.candidate);
  const next: TrendMemory = {
    recent: kept,
    ...(trend.risingSinceMs !== undefined ? { risingSinceMs: trend.risingSinceMs } : {}),
  };

  let best: Candidate | undefined;
  for (const candidate of candidates) if (!best || candidate.inflow > best.inflow) best = candidate;
  if (!best || best.inflow <= inflowNow) return { inflowAhead: inflowNow, ...next };
  return { inflowAhead: best.inflow, note: best.note, ...next };
}
