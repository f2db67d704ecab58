/**
 * A shared answer cache with single-flight. Every ScaledObject and both RPCs of one KEDA poll
 * (GetMetrics, then IsActive) ask for the same queries within milliseconds; the upstream should
 * see one request per key per TTL, however many callers there are.
 *
 * `load` never rejects in this codebase (sources turn trouble into typed failures), so a settled
 * entry is always a usable answer. Failures are cached like values: during an outage the
 * upstream still sees one attempt per TTL, not one per caller.
 */
export class SharedCache<T> {
  private readonly entries = new Map<string, { promise: Promise<T>; settledAtMs?: number }>();
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
    /** Bounds memory: a ScaledObject churn cannot grow the map without limit. */
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string, load: () => Promise<T>): Promise<T> {
    const now = this.clock();
    const entry = this.entries.get(key);
    if (entry && (entry.settledAtMs === undefined || now - entry.settledAtMs < this.ttlMs)) {
      this.hits++;
      return entry.promise;
    }
    this.misses++;
    if (this.entries.size >= this.maxEntries) this.evictSettled(now);
    const fresh: { promise: Promise<T>; settledAtMs?: number } = { promise: load() };
    fresh.promise.then(
      () => {
        fresh.settledAtMs = this.clock();
        // A TTL of 0 still shares one in-flight request, but keeps nothing afterwards.
        if (this.ttlMs === 0 && this.entries.get(key) === fresh) this.entries.delete(key);
      },
      () => this.entries.get(key) === fresh && this.entries.delete(key),
    );
    this.entries.set(key, fresh);
    return fresh.promise;
  }

  stats(): { hits: number; misses: number; size: number } {
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }

  clear(): void {
    this.entries.clear();
  }

  private evictSettled(now: number): void {
    for (const [key, entry] of this.entries)
      if (entry.settledAtMs !== undefined && now - entry.settledAtMs >= this.ttlMs) this.entries.delete(key);
    // Still full of live entries: drop the oldest insertions (Map keeps insertion order).
    for (const key of this.entries.keys()) {
      if (this.entries.size < this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
