import { measuresLeadTime, type PrometheusSignal, readsThePast } from "./prometheus/queries.ts";

/** What the schedule of a batch of Prometheus readings depends on, in milliseconds. */
export interface RefreshLimits {
  /** Live gauges and rates: SOURCE_CACHE_TTL_MS. */
  readonly cacheTtlMs: number;
  /** The forecast's history: SOURCE_HISTORY_REFRESH_MS. */
  readonly historyRefreshMs: number;
  /** The measured lead time: SOURCE_LEAD_TIME_REFRESH_MS. */
  readonly leadTimeRefreshMs: number;
  /** A live sample older than this is stale: SOURCE_STALE_AFTER_SECONDS. */
  readonly staleAfterMs: number;
}

export interface RefreshSchedule {
  /** How often the batch's query is sent again. */
  readonly refreshMs: number;
  /** How old its answer may grow before its readings are `stale`. */
  readonly staleAfterMs: number;
}

/** The history's refresh period: at most half the staleness limit (see refreshScheduleOf). */
export function historyRefreshMs(limits: RefreshLimits): number {
  return Math.min(limits.historyRefreshMs, limits.staleAfterMs / 2);
}

/**
 * How often a batch of readings is read, and how old its answer may be.
 *
 * - Live readings: every SOURCE_CACHE_TTL_MS, stale after SOURCE_STALE_AFTER_SECONDS.
 * - The forecast's history: every SOURCE_HISTORY_REFRESH_MS, at most every half the staleness
 *   limit, because a history answer is as old as its evaluation and must not read as stale
 *   between refreshes.
 * - The measured lead time: a median over leadTimeWindowHours (a day by default) that moves by a
 *   pod at a time, read by a query over every pod's timestamps in that window. Sending it every
 *   minute cost Prometheus eight day-long range selections per minute per Deployment for a figure
 *   that had not moved; it is read every SOURCE_LEAD_TIME_REFRESH_MS (10 min) and stays usable
 *   for two refreshes.
 */
export function refreshScheduleOf(
  signals: readonly PrometheusSignal[],
  limits: RefreshLimits,
): RefreshSchedule {
  if (signals.length > 0 && signals.every(measuresLeadTime))
    return {
      refreshMs: limits.leadTimeRefreshMs,
      staleAfterMs: Math.max(limits.staleAfterMs, 2 * limits.leadTimeRefreshMs),
    };
  if (signals.length > 0 && signals.every(readsThePast))
    return {
      refreshMs: historyRefreshMs(limits),
      staleAfterMs: limits.staleAfterMs,
    };
  return { refreshMs: limits.cacheTtlMs, staleAfterMs: limits.staleAfterMs };
}
