interface Entry<T> {
  /** The latest settled answer, kept while a refresh is under way. */
  value?: T;
  settledAtMs?: number;
  /** The load under way (the first one, or a background refresh): at most one per key. */
  inFlight?: Promise<T>;
  /** When a caller last asked: a key nobody asks for is neither refreshed nor kept. */
  askedAtMs: number;
}

/**
 * A shared answer cache, stale-while-revalidate. Every ScaledObject and both RPCs of one KEDA
 * poll (GetMetrics, then IsActive) ask for the same queries within milliseconds; the upstream
 * sees one request per key per TTL, however many callers there are (single flight).
 *
 * Once a key has an answer, callers get it at once, never waiting on the upstream: an answer
 * older than the TTL starts one refresh in the background and is served meanwhile. The answers'
 * readings carry the time they were observed, so the policy — not this cache — judges how stale
 * is too stale (fail-static hold, then UNAVAILABLE) while an upstream hangs. Only the first
 * request for a key waits, bounded by the source's deadline. A refresh happens only when someone
 * asks, so a query no ScaledObject uses any more costs nothing; it is dropped after `idleMs`.
 *
 * `load` never rejects in this codebase (sources turn trouble into typed failures), so a settled
 * answer is always usable. Failures are cached like values: during an outage the upstream still
 * sees one attempt per TTL, not one per caller.
 */
export class SharedCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private hits = 0;
  private misses = 0;
  private readonly idleMs: number;
  private sweptAtMs = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
    /** Bounds memory: a ScaledObject churn cannot grow the map without limit. */
    private readonly maxEntries = 10_000,
    idleMs?: number,
  ) {
    this.idleMs = idleMs ?? Math.max(10 * ttlMs, 60_000);
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    const now = this.clock();
    const entry = this.entries.get(key);
    if (entry) {
      entry.askedAtMs = now;
      // Least recently asked first, for eviction.
      this.entries.delete(key);
      this.entries.set(key, entry);
      if (entry.settledAtMs !== undefined && "value" in entry) {
        const fresh = now - entry.settledAtMs < this.ttlMs;
        if (fresh || this.ttlMs > 0) {
          this.hits++;
          if (!fresh && !entry.inFlight) this.refresh(key, entry, load);
          return Promise.resolve(entry.value as T);
        }
      }
      if (entry.inFlight) {
        this.hits++;
        return entry.inFlight;
      }
    }
    this.misses++;
    if (!entry && (this.entries.size >= this.maxEntries || now - this.sweptAtMs >= this.idleMs))
      this.evict(now);
    const target = entry ?? { askedAtMs: now };
    if (!entry) this.entries.set(key, target);
    return this.refresh(key, target, load);
  }

  stats(): { hits: number; misses: number; size: number } {
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }

  clear(): void {
    this.entries.clear();
  }

  private refresh(key: string, entry: Entry<T>, load: () => Promise<T>): Promise<T> {
    const promise = load();
    entry.inFlight = promise;
    promise.then(
      (value) => {
        entry.inFlight = undefined;
        // A TTL of 0 still shares one in-flight request, but keeps nothing afterwards.
        if (this.ttlMs === 0) {
          if (this.entries.get(key) === entry) this.entries.delete(key);
          return;
        }
        entry.value = value;
        entry.settledAtMs = this.clock();
      },
      () => {
        entry.inFlight = undefined;
        if (this.entries.get(key) === entry && entry.settledAtMs === undefined) this.entries.delete(key);
      },
    );
    return promise;
  }

  private evict(now: number): void {
    this.sweptAtMs = now;
    for (const [key, entry] of this.entries)
      if (now - entry.askedAtMs >= this.idleMs && !entry.inFlight) this.entries.delete(key);
    // Still full: drop the least recently asked (Map keeps that order).
    for (const key of this.entries.keys()) {
      if (this.entries.size < this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
