import type { ScalerSpec } from "../config/spec.ts";
import { NODE_WAIT_SECONDS } from "../readings/lead-time.ts";
import { failureOf, readingOf } from "../readings/reading.ts";
import type { SignalReadings } from "../readings/signal-table.ts";

const HOUR_MS = 3_600_000;
/** The longest look-back `leadTimeWindowHours` allows, with room to spare. */
const KEPT_MS = 169 * HOUR_MS;

interface PodStartup {
  readonly createdMs: number;
  readonly leadMs: number;
  /** When Prometheus can answer with it: kube-state-metrics scraped the Ready time, then the ingestion delay. */
  readonly visibleMs: number;
}

/**
 * What kube-state-metrics tells Prometheus of the serving pods' starts, read as the scaler's query
 * reads it: the median created → Ready time of the pods created within `leadTimeWindowHours` that
 * waited for a node (scheduled more than NODE_WAIT_SECONDS after they were created: node
 * provisioning and model load) and are Ready by now, and how many there were. Pods that landed on
 * a node kept warm start in a minute or two and are not counted. The simulated clock, not the wall
 * clock: a no-data interval the simulation skips is no time a pod spent starting.
 */
export class PodLeadTimes {
  private readonly startups: PodStartup[] = [];

  /** `visibleAfterMs`: a scrape interval plus the ingestion delay. */
  constructor(private readonly visibleAfterMs: number) {}

  /** A serving pod turned Ready (pods made ready by a warm start never pass here: nothing measured them). */
  record(createdMs: number, scheduledMs: number, readyMs: number): void {
    while (this.startups.length > 0 && (this.startups[0] as PodStartup).createdMs < readyMs - KEPT_MS)
      this.startups.shift();
    if (scheduledMs - createdMs <= NODE_WAIT_SECONDS * 1000) return;
    this.startups.push({ createdMs, leadMs: readyMs - createdMs, visibleMs: readyMs + this.visibleAfterMs });
  }

  /** leadTimeObserved and leadTimePods at `nowMs`, dated `observedAtMs` (the wall clock the policy runs on). */
  readings(spec: ScalerSpec, nowMs: number, observedAtMs: number): SignalReadings {
    if (!spec.forecast.leadTimeMeasured) return {};
    const since = nowMs - spec.forecast.leadTimeWindowHours * HOUR_MS;
    const leads: number[] = [];
    for (const s of this.startups) if (s.createdMs >= since && s.visibleMs <= nowMs) leads.push(s.leadMs);
    if (leads.length === 0) {
      const none = failureOf(
        "prometheus",
        "empty",
        "no pod of the target created within the window waited for a node and became Ready",
      );
      return { leadTimeObserved: none, leadTimePods: none };
    }
    return {
      leadTimeObserved: readingOf(prometheusMedian(leads) / 1000, observedAtMs),
      leadTimePods: readingOf(leads.length, observedAtMs),
    };
  }
}

/** quantile(0.5, …) as Prometheus computes it: linear between the two middle values of an even count. */
export function prometheusMedian(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = 0.5 * (sorted.length - 1);
  const below = Math.floor(rank);
  const above = Math.min(sorted.length - 1, below + 1);
  const low = sorted[below] as number;
  return low + ((sorted[above] as number) - low) * (rank - below);
}
