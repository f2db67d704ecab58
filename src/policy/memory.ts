import type { Reading } from "../readings/reading.ts";
import type { SignalKey } from "../readings/signal-table.ts";
import type { CapacityMemory } from "./capacity.ts";
import type { InflowSample } from "./forecast.ts";
import type { RecentAnswer } from "./scale-down-delay.ts";
import type { SmoothedReadings } from "./smoothing.ts";

/**
 * A signal's last good reading: the source's own reading object, kept rather than copied. The
 * memory lives until the ScaledObject's next poll, seconds later, so whatever a decision creates
 * for it is copied by a young-generation collection and moved to the old one; a copy of every
 * reading was some 40 % of what a poll left alive at 4,000 ScaledObjects (`npm run bench:retention`).
 */
export type LastGood = Extract<Reading, { readonly ok: true }>;

export type LastGoodReadings = Partial<Record<SignalKey, LastGood>>;

/**
 * What a decision remembers between polls of one ScaledObject. Small and bounded (one entry per
 * signal kind, plus a window of recent answers when scaleDownDelaySeconds is set), plain data
 * (it survives JSON), and rebuilt from the sources after a restart. Opaque to callers.
 */
export interface PolicyMemory {
  readonly lastGood?: LastGoodReadings;
  /** The previous answer: the baseline for hysteresis and for "never down on missing data". */
  readonly lastDesired?: number;
  /** The last instant some signal had a good (not held) reading. */
  readonly lastSignalAtMs?: number;
  readonly recent?: readonly RecentAnswer[];
  /** Running averages of GPU utilisation and KV-cache usage. */
  readonly smoothed?: SmoothedReadings;
  /** The learned requests per second per replica (capacity.ts). */
  readonly capacity?: CapacityMemory;
  /** Recent inflow samples for the forecast's trend, bounded to its window (forecast.ts). */
  readonly inflowRecent?: readonly InflowSample[];
  /** Since when the trend's rise has been significant without a break (forecast.ts). */
  readonly inflowRisingSinceMs?: number;
}
