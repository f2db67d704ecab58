/**
 * When KEDA will next ask about one ScaledObject. KEDA asks on fixed clocks of its own: the HPA
 * calls GetMetrics every sync period (15 s by default) and the operator calls IsActive every
 * pollingInterval (30 s by default), each loop with its own phase. Each method's rhythm is the
 * gap between its last two calls; the next call expected is the earliest of the methods' next ones.
 * A one-off call (a person with grpcurl, KEDA restarting) misleads it for one call at most: the
 * cost is one decision made ahead for nothing, or one call that decides while it waits, as
 * without a rhythm.
 *
 * Knowing it, the decision book decides a little before that call instead of during it, so the
 * call is answered from memory like the second call of a pair.
 */

interface MethodRhythm {
  readonly method: string;
  lastAtMs: number;
  /** The gap between the last two calls, once there were two. */
  periodMs: number | undefined;
}

/** The methods with a rhythm: KEDA's two polled RPCs, and room for a third; others are not tracked. */
const MAX_METHODS = 3;

export class PollRhythm {
  /** One per RPC method seen (KEDA uses two): a list is smaller than a map, per ScaledObject. */
  private readonly methods: MethodRhythm[] = [];
  private readonly minGapMs: number;

  /** Calls of one method closer together than `minGapMs` count as one (retries, a pair's repeat). */
  constructor(minGapMs: number) {
    this.minGapMs = minGapMs;
  }

  /** A call of `method` at `nowMs`. */
  note(method: string, nowMs: number): void {
    const rhythm = this.methods.find((known) => known.method === method);
    if (!rhythm) {
      if (this.methods.length < MAX_METHODS)
        this.methods.push({ method, lastAtMs: nowMs, periodMs: undefined });
      return;
    }
    const gapMs = nowMs - rhythm.lastAtMs;
    if (gapMs < this.minGapMs) return;
    rhythm.periodMs = gapMs;
    rhythm.lastAtMs = nowMs;
  }

  /** When the next call of any method with a known rhythm is due, or undefined while none has one. */
  nextCallAtMs(): number | undefined {
    let next: number | undefined;
    for (const rhythm of this.methods) {
      if (rhythm.periodMs === undefined) continue;
      const due = rhythm.lastAtMs + rhythm.periodMs;
      if (next === undefined || due < next) next = due;
    }
    return next;
  }
}
