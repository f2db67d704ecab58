/**
 * When KEDA will next poll one ScaledObject, when it polls on one steady clock.
 *
 * KEDA polls an external scaler with GetMetrics and IsActive together (its GetMetricsAndActivity),
 * from two loops: the HPA's metric requests (every 15 s by default) and its own scale loop
 * (every pollingInterval, 30 s by default), each with its own phase. With `useCachedMetrics: true`
 * the HPA's requests are answered from KEDA's cache and only the scale loop polls: one clock.
 *
 * A poll is a call at least `minGapMs` after the previous one (the second call of a pair is part
 * of the same poll). The rhythm is known once three gaps in a row each differ from the one before
 * by at most `toleranceMs`: one clock. Two interleaved clocks make gaps that change from one to the next (7, 8, 15 s…; at
 * 7.5 s apart, 7.5, 7.5, 15 s…), so no rhythm is claimed for them and nothing is decided ahead —
 * a guess would cost decisions made for nothing — and every call decides as it did without a
 * rhythm. A one-off call (a person with grpcurl) breaks the rhythm for the next three polls.
 */
export class PollRhythm {
  private lastPollAtMs: number | undefined;
  private lastGapMs: number | undefined;
  /** Gaps in a row that agreed with the one before. */
  private agreeing = 0;
  private readonly minGapMs: number;
  private readonly toleranceMs: number;

  constructor(minGapMs: number, toleranceMs: number) {
    this.minGapMs = minGapMs;
    this.toleranceMs = toleranceMs;
  }

  /** A call at `nowMs`. */
  note(nowMs: number): void {
    if (this.lastPollAtMs === undefined) {
      this.lastPollAtMs = nowMs;
      return;
    }
    const gapMs = nowMs - this.lastPollAtMs;
    if (gapMs < this.minGapMs) return;
    const agrees = this.lastGapMs !== undefined && Math.abs(gapMs - this.lastGapMs) <= this.toleranceMs;
    this.agreeing = agrees ? this.agreeing + 1 : 0;
    this.lastGapMs = gapMs;
    this.lastPollAtMs = nowMs;
  }

  /** When the next poll is due, while the polls come on one steady clock; otherwise undefined. */
  nextPollAtMs(): number | undefined {
    if (this.agreeing < 2 || this.lastPollAtMs === undefined || this.lastGapMs === undefined)
      return undefined;
    return this.lastPollAtMs + this.lastGapMs;
  }
}
