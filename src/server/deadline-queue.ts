/**
 * Many deadlines on one timer. Each item is due at its `atMs` on the queue's clock; the queue keeps
 * them in a binary heap and one unreferenced timer for the earliest.
 *
 * Why not a timer each: a decision planned ahead of every poll made a Node timer (and its closure)
 * that lived until the next poll, seconds later, so each was copied by a young-generation
 * collection and then promoted, a sixth to a fifth of what a poll left alive at 4,000
 * ScaledObjects (`npm run bench:retention`). A plan in the heap is one small object.
 *
 * Cancelling is lazy: the owner says which items are still wanted (`isLive`), a cancelled item is
 * skipped when its time comes, and cancelled ones at the front are dropped when the owner says it
 * cancelled one, so the timer never waits for cancelled items alone. An item is dropped at its
 * deadline at the latest: the heap holds at most what was planned within one deadline's horizon.
 *
 * At most MAX_DUE_PER_TURN items are handed over per turn of the event loop, the rest a turn
 * later: deadlines are on the owner's clock (the wall clock in the server), and a step forward
 * makes every pending item due at once — thousands of decisions that must not hold KEDA's calls.
 *
 * With `resolutionMs`, the timer fires only at multiples of it, each time for every item due by
 * then: an item is handed over up to that much late, and items spread over time share a timer.
 * At 4,000 ScaledObjects, decisions planned ahead come due every 2 ms on average; each had a
 * timer of its own to arm, fire and re-arm.
 */
const MAX_DUE_PER_TURN = 100;

export class DeadlineQueue<T extends { readonly atMs: number }> {
  private readonly heap: T[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private readonly clock: () => number;
  private readonly isLive: (item: T) => boolean;
  private readonly due: (item: T) => void;
  private readonly resolutionMs: number;

  constructor(options: {
    clock: () => number;
    isLive: (item: T) => boolean;
    due: (item: T) => void;
    /** Fire only at multiples of this (ms on the clock); 0 (the default) fires at each item's instant. */
    resolutionMs?: number;
  }) {
    this.clock = options.clock;
    this.isLive = options.isLive;
    this.due = options.due;
    this.resolutionMs = options.resolutionMs ?? 0;
  }

  add(item: T): void {
    const heap = this.heap;
    heap.push(item);
    let at = heap.length - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if ((heap[parent] as T).atMs <= item.atMs) break;
      heap[at] = heap[parent] as T;
      at = parent;
    }
    heap[at] = item;
    if (this.firingAt(item.atMs) < this.timerAtMs) this.schedule();
  }

  /** An item was cancelled: drops cancelled ones from the front and moves the timer if that changed it. */
  cancelled(): void {
    this.schedule();
  }

  /** Drops every item and the timer. */
  clear(): void {
    this.heap.length = 0;
    this.stopTimer();
  }

  /** Items held, cancelled ones not yet dropped included. */
  get size(): number {
    return this.heap.length;
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAtMs = Number.POSITIVE_INFINITY;
    const nowMs = this.clock();
    let handed = 0;
    // Re-armed whatever `due` does: one failing item must not strand the ones after it.
    try {
      while (handed < MAX_DUE_PER_TURN && this.heap.length > 0 && (this.heap[0] as T).atMs <= nowMs) {
        const item = this.pop();
        if (!this.isLive(item)) continue;
        handed++;
        this.due(item);
      }
    } finally {
      this.schedule();
    }
  }

  /** The timer for the earliest live item, or none. */
  private schedule(): void {
    while (this.heap.length > 0 && !this.isLive(this.heap[0] as T)) this.pop();
    const first = this.heap[0];
    if (!first) {
      this.stopTimer();
      return;
    }
    const atMs = this.firingAt(first.atMs);
    if (this.timer !== undefined && atMs === this.timerAtMs) return;
    this.stopTimer();
    // The delay is worked out on the queue's clock (Date.now in the server) and waited on the
    // event loop's monotonic timers; a wall-clock step in between moves the firing, which checks
    // the clock again (and, for a step forward, hands the items over a turn at a time).
    this.timer = setTimeout(() => this.fire(), Math.max(0, atMs - this.clock()));
    this.timer.unref();
    this.timerAtMs = atMs;
  }

  /** When the timer fires for an item due at `atMs`: then, or at the next multiple of the resolution. */
  private firingAt(atMs: number): number {
    const resolution = this.resolutionMs;
    return resolution > 0 ? Math.ceil(atMs / resolution) * resolution : atMs;
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAtMs = Number.POSITIVE_INFINITY;
  }

  private pop(): T {
    const heap = this.heap;
    const first = heap[0] as T;
    const last = heap.pop() as T;
    if (heap.length === 0) return first;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && (heap[right] as T).atMs < (heap[left] as T).atMs ? right : left;
      if ((heap[child] as T).atMs >= last.atMs) break;
      heap[at] = heap[child] as T;
      at = child;
    }
    heap[at] = last;
    return first;
  }
}
