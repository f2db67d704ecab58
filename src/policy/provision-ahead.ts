import type { ScalerSpec } from "../config/spec.ts";
import { HISTORY_RATE_WINDOW_SECONDS } from "../readings/history-window.ts";
import { LEAD_LADDER, type LeadFactor, PEAK_AHEAD_KEYS } from "../readings/lead-time.ts";
import type { SignalKey, SignalReadings } from "../readings/signal-table.ts";
import type { RuleFired } from "./decision.ts";
import { durationMs } from "./duration.ts";
import { forecastInflow, type SeasonHistory, type TrendMemory } from "./forecast.ts";
import { round2 } from "./format.ts";
import type { LeadTime } from "./lead-time.ts";
import type { UsableReadings } from "./usable.ts";

/**
 * The two stages that plan for the capacity a lead time ahead, around fusion:
 *
 *   seasons from the history readings → learned capacity (learned-capacity.ts)
 *   → … per-signal demand → fusion → forecast (raise the load to the inflow expected one lead
 *   time ahead) → headroom …
 *
 * Both only ever change what the drain rule divides and adds: a forecast raises the load, never
 * lowers it, and the later stages (warm floor, minReplicas, maxReplicas, fail-static) apply to
 * the raised load exactly as to any other.
 */

interface Season {
  readonly label: string;
  readonly now: SignalKey;
  /** By factor in a Map: a fractional number as an object's key is made a string at every lookup. */
  readonly peaks: ReadonlyMap<LeadFactor, SignalKey>;
}
const seasonOf = (label: string, now: SignalKey, peaks: Readonly<Record<LeadFactor, SignalKey>>): Season => ({
  label,
  now,
  peaks: new Map(LEAD_LADDER.map((factor) => [factor, peaks[factor]])),
});
const DAY = seasonOf("yesterday", "inflowDayAgo", PEAK_AHEAD_KEYS.day);
const WEEK = seasonOf("last week", "inflowWeekAgo", PEAK_AHEAD_KEYS.week);
const SEASONS_IN_USE: Readonly<Record<ScalerSpec["forecast"]["seasons"], readonly Season[]>> = {
  "day+week": [DAY, WEEK],
  day: [DAY],
  week: [WEEK],
  none: [],
};

/**
 * The seasons the history gives, where both of a season's readings came back. The peak is the one
 * over the lead-time ladder's `windowFactor` × leadTimeSeconds, or, when that one did not come
 * back, the setting's own window (what the forecast reads without a measured lead time). The
 * history stays in the readings: the stages that judge live readings pass it by (isHistory).
 */
export function historyOf(
  readings: SignalReadings,
  use: ScalerSpec["forecast"]["seasons"],
  windowFactor: LeadFactor = 1,
): {
  readonly seasons: readonly SeasonHistory[];
  /** The window the seasons' peaks were read over: the wanted one, or the setting's where it was missing. */
  readonly windowFactor: LeadFactor;
} {
  const seasons: SeasonHistory[] = [];
  let readOver: LeadFactor | undefined;
  for (const season of SEASONS_IN_USE[use]) {
    const now = readings[season.now];
    const wanted = readings[season.peaks.get(windowFactor) as SignalKey];
    const factor = wanted?.ok ? windowFactor : 1;
    const peak = readings[season.peaks.get(factor) as SignalKey];
    if (now?.ok && peak?.ok && Number.isFinite(now.value) && Number.isFinite(peak.value)) {
      seasons.push({ label: season.label, rateThen: now.value, peakAheadThen: peak.value });
      // Both seasons come in one request, so they read the same window but for a lone bad value.
      readOver ??= factor;
    }
  }
  return { seasons, windowFactor: readOver ?? windowFactor };
}

function drains(spec: ScalerSpec): boolean {
  return spec.queue.enabled && spec.queue.mode === "drain";
}

function clockText(ms: number): string {
  // UTC, not the host's zone: the policy reads no environment.
  return new Date(ms).toISOString().slice(11, 16);
}

/**
 * The load to plan for: the fused load, or more when the inflow expected one lead time ahead
 * needs more replicas (at the learned capacity) than the signals see now.
 */
export function applyForecast(
  spec: ScalerSpec,
  usable: UsableReadings,
  seasons: readonly SeasonHistory[],
  trendMemory: TrendMemory,
  fusedLoad: number,
  readyReplicas: number | undefined,
  nowMs: number,
  lead: LeadTime = { seconds: spec.forecast.leadTimeSeconds, windowFactor: 1, measured: false },
): { load: number; raised: boolean; trend: TrendMemory; reasons: RuleFired[] } {
  const trendOn = spec.forecast.trend;
  if (!drains(spec) || !spec.ttft.enabled || (seasons.length === 0 && !trendOn))
    return { load: fusedLoad, raised: false, trend: { recent: [] }, reasons: [] };
  const reading = usable.ttftRequestsPerSecond;
  const inflow = reading?.state === "fresh" ? reading.value : undefined;
  const leadMs = lead.seconds * 1000;
  const forecast = forecastInflow(
    {
      leadMs,
      seasonWindowMs: spec.forecast.leadTimeSeconds * lead.windowFactor * 1000,
      trend: trendOn,
      trendWindowMs: spec.forecast.trendWindowSeconds * 1000,
      trendMinDurationMs: spec.forecast.trendMinDurationSeconds * 1000,
      significance: spec.forecast.significance,
      rateWindowMs: durationMs(spec.sources.rateWindow),
      historyWindowMs: HISTORY_RATE_WINDOW_SECONDS * 1000,
    },
    inflow,
    seasons,
    trendMemory,
    nowMs,
    readyReplicas !== 0,
  );
  const trend: TrendMemory = {
    recent: forecast.recent,
    ...(forecast.risingSinceMs !== undefined ? { risingSinceMs: forecast.risingSinceMs } : {}),
  };
  const perReplica = spec.queue.requestsPerSecondPerReplica;
  const load = forecast.inflowAhead / perReplica;
  if (forecast.note === undefined || load <= fusedLoad)
    return { load: fusedLoad, raised: false, trend, reasons: [] };
  return {
    load,
    raised: true,
    trend,
    reasons: [
      {
        rule: "forecast",
        note: `forecast for ${clockText(nowMs + leadMs)} UTC${lead.describe ? ` (${lead.describe()})` : ""} = ${round2(load)} replicas of load at ${round2(perReplica)} req/s each (the signals see ${round2(fusedLoad)}): ${forecast.note}`,
      },
    ],
  };
}
