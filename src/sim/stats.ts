/**
 * Time-to-first-token figures over every request of a run: exact share within the SLA, and
 * percentiles from a fine log-spaced histogram (2 % wide buckets from 10 ms up).
 */
const BUCKET_GROWTH = 1.02;
const SMALLEST_SECONDS = 0.01;
const BUCKETS = 1200;

/** The share of values spread evenly between `a` and `b` (either order) that are ≤ `limit`. */
export function shareAtMost(limit: number, a: number, b: number): number {
  const low = Math.min(a, b);
  const high = Math.max(a, b);
  if (high <= limit) return 1;
  if (low > limit) return 0;
  return (limit - low) / (high - low);
}

export class TtftStats {
  private readonly buckets = new Float64Array(BUCKETS);
  requests = 0;
  withinSla = 0;
  worstQueueWaitSeconds = 0;

  constructor(private readonly slaSeconds: number) {}

  private bucketOf(seconds: number): number {
    if (seconds <= SMALLEST_SECONDS) return 0;
    const i = Math.floor(Math.log(seconds / SMALLEST_SECONDS) / Math.log(BUCKET_GROWTH)) + 1;
    return Math.min(BUCKETS - 1, i);
  }

  /**
   * `count` first tokens with TTFTs spread evenly from `firstSeconds` (the cohort's first request)
   * to `lastSeconds` (its last, which may have waited less); `worstWaitSeconds` is the longest
   * any of them queued.
   */
  record(count: number, firstSeconds: number, lastSeconds: number, worstWaitSeconds: number): void {
    this.requests += count;
    this.withinSla += count * shareAtMost(this.slaSeconds, firstSeconds, lastSeconds);
    const points = Math.min(count, 8);
    for (let k = 0; k < points; k++) {
      const ttft =
        points === 1
          ? (firstSeconds + lastSeconds) / 2
          : firstSeconds + ((lastSeconds - firstSeconds) * k) / (points - 1);
      const b = this.bucketOf(ttft);
      this.buckets[b] = (this.buckets[b] as number) + count / points;
    }
    this.worstQueueWaitSeconds = Math.max(this.worstQueueWaitSeconds, worstWaitSeconds);
  }

  /**
   * Requests still without a first token when the run ends: SLA misses, counted in the
   * percentiles at the wait they had so far (a lower bound on their TTFT).
   */
  recordUnserved(count: number, waitSoFarSeconds: number): void {
    this.requests += count;
    const b = this.bucketOf(waitSoFarSeconds);
    this.buckets[b] = (this.buckets[b] as number) + count;
    this.worstQueueWaitSeconds = Math.max(this.worstQueueWaitSeconds, waitSoFarSeconds);
  }

  quantile(q: number): number {
    if (this.requests === 0) return 0;
    const rank = q * this.requests;
    let cumulative = 0;
    for (let b = 0; b < BUCKETS; b++) {
      cumulative += this.buckets[b] as number;
      if (cumulative >= rank) return b === 0 ? SMALLEST_SECONDS : SMALLEST_SECONDS * BUCKET_GROWTH ** b;
    }
    return SMALLEST_SECONDS * BUCKET_GROWTH ** (BUCKETS - 1);
  }

  withinSlaFraction(): number {
    return this.requests === 0 ? 1 : this.withinSla / this.requests;
  }
}

/** One point of the report's time series (a bucket of one or more minutes). */
export interface TimelinePoint {
  readonly atMs: number;
  /** Replicas' worth of arriving work at 100 % utilisation (the work bound's capacity). */
  demandReplicas: number;
  readyReplicas: number;
  desiredReplicas: number;
  nodes: number;
  queueMax: number;
  ttftMaxSeconds: number;
  slaMisses: number;
  floorReplicas: number;
  /** Ticks averaged into the point. */
  samples: number;
}

export class Timeline {
  readonly points: TimelinePoint[] = [];

  constructor(
    private readonly startMs: number,
    readonly bucketMs: number,
  ) {}

  at(nowMs: number): TimelinePoint {
    const index = Math.floor((nowMs - this.startMs) / this.bucketMs);
    while (this.points.length <= index)
      this.points.push({
        atMs: this.startMs + this.points.length * this.bucketMs,
        demandReplicas: 0,
        readyReplicas: 0,
        desiredReplicas: 0,
        nodes: 0,
        queueMax: 0,
        ttftMaxSeconds: 0,
        slaMisses: 0,
        floorReplicas: 0,
        samples: 0,
      });
    return this.points[index] as TimelinePoint;
  }
}
