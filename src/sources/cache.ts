interface Entry<T> {
  /** The latest settled answer, kept while a refresh is under way. */
  value?: T;
  settledAtMs?: number;
  /** When the latest load ended, answered or not: the schedule counts from there. */
  doneAtMs?: number;
  /** The load under way (the first one, or a background refresh): at most one per key. */
  inFlight?: Promise<T>;
  /** When a caller last asked: a key nobody asks for is neither refreshed nor kept. */
  askedAtMs: number;
  /** This key's own refresh period (a slow history query has a longer one than a live gauge). */
  refreshMs: number;
  /** How to load it again, for the background refresh. */
  load: () => Promise<T>;
  /** The next background refresh. */
  timer?: ReturnType<typeof setTimeout>;
  /** Whether an answer worth keeping has come yet, and whether the key's phase was spread. */
  usable: boolean;
  spread: boolean;
  /** Unusable answers in a row before the first usable one: the retry backs off with them. */
  misses: number;
}

/**
 * A key that has never had a usable answer (the upstream timed out at start-up) tries again
 * after 1 s, then 2 s, 4 s… up to its period: soon, without hammering an upstream that is down.
 */
const FIRST_ANSWER_RETRY_MS = 1000;

/**
 * A shared answer cache that keeps itself fresh. Every ScaledObject and both RPCs of one KEDA
 * poll (GetMetrics, then IsActive) ask for the same queries within milliseconds; the upstream
 * sees one request per key per refresh period, however many callers there are (single flight).
 *
 * Once a key has an answer, callers get it at once, never waiting on the upstream: each key is
 * refreshed in the background on its own schedule (its refresh period after its last answer),
 * and a caller who finds an answer older than that (a timer delayed by a busy event loop) starts
 * the refresh itself, still without waiting for it. The answers' readings carry the time they
 * were observed, so the policy — not this cache — judges how stale is too stale (fail-static
 * hold, then UNAVAILABLE) while an upstream hangs. Only the first request for a key waits,
 * bounded by the source's deadline. A key nobody asked for within `idleMs` is dropped at its
 * next refresh instead of being refreshed, so a query no ScaledObject uses any more costs nothing.
 *
 * `load` never rejects in this codebase (sources turn trouble into typed failures), so a settled
 * answer is always usable. Failures are cached like values: during an outage the upstream still
 * sees one attempt per refresh period, not one per caller.
 */
export class SharedCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private hits = 0;
  private misses = 0;
  private readonly idleMs: number;
  private sweptAtMs = 0;
  private readonly ttlMs: number;
  private readonly clock: () => number;
  /** Bounds memory: a ScaledObject churn cannot grow the map without limit. */
  private readonly maxEntries: number;
  /**
   * Each refresh comes up to this fraction of its period early, at random, and a key's first
   * refresh up to five times that: keys first loaded together (a restart, KEDA's first poll of
   * many ScaledObjects) take phases of their own instead of hitting the upstream, and the event
   * loop, in one burst every period.
   */
  private readonly jitter: number;
  /** Whether an answer is a failure (sources return failures as values, they do not throw). */
  private readonly unusable: (value: T) => boolean;

  constructor(
    ttlMs: number,
    clock: () => number = Date.now,
    maxEntries = 10_000,
    idleMs?: number,
    jitter = 0.1,
    unusable: (value: T) => boolean = () => false,
  ) {
    this.ttlMs = ttlMs;
    this.clock = clock;
    this.maxEntries = maxEntries;
    this.jitter = jitter;
    this.unusable = unusable;
    this.idleMs = idleMs ?? Math.max(10 * ttlMs, 60_000);
  }

  /**
   * The answer for `key`, loading it only when there is none yet. `refreshMs` (default: the
   * cache's TTL) is the key's refresh period; the first caller's choice sticks.
   */
  get(key: string, load: () => Promise<T>, refreshMs = this.ttlMs): Promise<T> {
    const now = this.clock();
    const entry = this.entries.get(key);
    if (entry) {
      const held = this.held(key, entry, load, now);
      if (held) return Promise.resolve(held.value);
      if (entry.inFlight) {
        this.hits++;
        return entry.inFlight;
      }
    }
    this.misses++;
    if (!entry && (this.entries.size >= this.maxEntries || now - this.sweptAtMs >= this.idleMs))
      this.evict(now);
    const target: Entry<T> = entry ?? {
      askedAtMs: now,
      refreshMs,
      load,
      usable: false,
      spread: false,
      misses: 0,
    };
    if (!entry) this.entries.set(key, target);
    return this.refresh(key, target);
  }

  /**
   * The answer for `key` when it can be given at once, as `get` would give it, without a promise:
   * a decision whose every read is answered from memory is made synchronously. Undefined when the
   * caller would have to wait (no answer yet, or a first answer's retry under way); then `get`.
   */
  peek(key: string, load: () => Promise<T>): { value: T } | undefined {
    const entry = this.entries.get(key);
    return entry ? this.held(key, entry, load, this.clock()) : undefined;
  }

  /** The settled answer a caller gets at once, or undefined when it must wait or load. */
  private held(key: string, entry: Entry<T>, load: () => Promise<T>, now: number): { value: T } | undefined {
    entry.askedAtMs = now;
    // The latest caller's way to load is the one refreshes use.
    entry.load = load;
    if (entry.settledAtMs === undefined || !("value" in entry) || this.ttlMs <= 0) return undefined;
    // No usable answer yet and a retry under way (the first read timed out in a start-up
    // burst): waiting for it, within its deadline, beats repeating the failure.
    if (!entry.usable && entry.inFlight) return undefined;
    this.hits++;
    // The timer is late (a busy event loop): this caller starts the refresh, still without waiting.
    if (!entry.inFlight && now - (entry.doneAtMs ?? entry.settledAtMs) >= entry.refreshMs)
      this.refresh(key, entry);
    return { value: entry.value as T };
  }

  stats(): { hits: number; misses: number; size: number } {
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }

  clear(): void {
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
    this.entries.clear();
  }

  private refresh(key: string, entry: Entry<T>): Promise<T> {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    const promise = entry.load();
    entry.inFlight = promise;
    promise.then(
      (value) => {
        entry.inFlight = undefined;
        entry.doneAtMs = this.clock();
        if (this.entries.get(key) !== entry) return;
        // A TTL of 0 still shares one in-flight request, but keeps nothing afterwards.
        if (this.ttlMs === 0) {
          this.entries.delete(key);
          return;
        }
        entry.value = value;
        entry.settledAtMs = entry.doneAtMs;
        if (!this.unusable(value)) entry.usable = true;
        else if (!entry.usable) entry.misses++;
        this.schedule(key, entry);
      },
      () => {
        entry.inFlight = undefined;
        entry.doneAtMs = this.clock();
        if (this.entries.get(key) !== entry) return;
        if (entry.settledAtMs === undefined) this.entries.delete(key);
        else this.schedule(key, entry);
      },
    );
    return promise;
  }

  /** The key's next background refresh; unreferenced, so it never keeps the process alive. */
  private schedule(key: string, entry: Entry<T>): void {
    if (entry.refreshMs <= 0) return;
    let delayMs: number;
    if (!entry.usable)
      delayMs = Math.min(entry.refreshMs, FIRST_ANSWER_RETRY_MS * 2 ** Math.max(0, entry.misses - 1));
    else if (!entry.spread) {
      entry.spread = true;
      delayMs = entry.refreshMs * (1 - 5 * this.jitter * Math.random());
    } else delayMs = entry.refreshMs * (1 - this.jitter * Math.random());
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (this.entries.get(key) !== entry || entry.inFlight) return;
      // Asked for within the idle time, or within two of its own (longer) periods: still in use.
      if (this.clock() - entry.askedAtMs >= Math.max(this.idleMs, 2 * entry.refreshMs)) {
        this.entries.delete(key);
        return;
      }
      this.refresh(key, entry);
    }, delayMs);
    entry.timer.unref?.();
  }

  private evict(now: number): void {
    this.sweptAtMs = now;
    for (const [key, entry] of this.entries)
      if (now - entry.askedAtMs >= this.idleMs && !entry.inFlight) this.forget(key, entry);
    if (this.entries.size < this.maxEntries) return;
    // Still full: drop the least recently asked tenth at once, so a churn sorts rarely.
    const byAsked = [...this.entries].sort(([, a], [, b]) => a.askedAtMs - b.askedAtMs);
    const excess = this.entries.size - this.maxEntries + 1;
    for (const [key, entry] of byAsked.slice(0, Math.max(excess, Math.ceil(this.maxEntries / 10))))
      this.forget(key, entry);
  }

  private forget(key: string, entry: Entry<T>): void {
    clearTimeout(entry.timer);
    this.entries.delete(key);
  }
}
