/**
 * The lead time the forecast plans with may differ from `leadTimeSeconds` when it is measured
 * (recent pods' created → Ready), but the history queries are built once per spec and their
 * windows cannot follow a number read in the same poll. So they read the peak one period ago over
 * a fixed ladder of windows, fractions and multiples of the setting, and the policy takes the one
 * nearest the lead time it uses (the longer of two equally near). Nearest, not the next longer:
 * the measured lead is a median, half the nodes arrive later than it anyway, and a setting within
 * an eighth of the measurement keeps its own window instead of jumping a quarter up. The ladder
 * also bounds the measured lead: half the setting at least, twice (and an hour) at most.
 * Shared by the Prometheus queries, the simulator that replays them and the policy.
 */
export const LEAD_LADDER = [0.5, 0.75, 1, 1.25, 1.5, 2] as const;

export type LeadFactor = (typeof LEAD_LADDER)[number];

/** The measured lead time is used between these multiples of the setting. */
export const LEAD_MIN_FACTOR = LEAD_LADDER[0];
export const LEAD_MAX_FACTOR = LEAD_LADDER[LEAD_LADDER.length - 1] as LeadFactor;
/** And never above an hour, the setting's own upper limit. */
export const LEAD_MAX_SECONDS = 3600;

/** The peak reading of each season for each window of the ladder (× 1 is the setting's own). */
export const PEAK_AHEAD_KEYS = {
  day: {
    0.5: "inflowPeakAhead50DayAgo",
    0.75: "inflowPeakAhead75DayAgo",
    1: "inflowPeakAheadDayAgo",
    1.25: "inflowPeakAhead125DayAgo",
    1.5: "inflowPeakAhead150DayAgo",
    2: "inflowPeakAhead200DayAgo",
  },
  week: {
    0.5: "inflowPeakAhead50WeekAgo",
    0.75: "inflowPeakAhead75WeekAgo",
    1: "inflowPeakAheadWeekAgo",
    1.25: "inflowPeakAhead125WeekAgo",
    1.5: "inflowPeakAhead150WeekAgo",
    2: "inflowPeakAhead200WeekAgo",
  },
} as const satisfies Record<"day" | "week", Record<LeadFactor, string>>;

/** The window of the ladder nearest `leadSeconds` (the longer of two equally near). */
export function nearestFactor(settingSeconds: number, leadSeconds: number): LeadFactor {
  let best: LeadFactor = 1;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const factor of LEAD_LADDER) {
    const distance = Math.abs(settingSeconds * factor - leadSeconds);
    if (distance <= bestDistance + 1e-9) {
      best = factor;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * A pod scheduled this long after it was created waited for a node (the scheduler binds a pod that
 * fits in well under a second; a new GPU node takes minutes): only such pods measure the lead time
 * a forecast plans for. One that landed on a node kept warm (the Cluster Autoscaler's 10-minute
 * tail, a preempted placeholder) starts in a minute or two and would make the next node look near.
 */
export const NODE_WAIT_SECONDS = 60;
