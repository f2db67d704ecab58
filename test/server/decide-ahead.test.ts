import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SignalReadings } from "../../src/readings/signal-table.ts";
import { DecisionBook } from "../../src/server/decision-book.ts";
import { PollRhythm } from "../../src/server/poll-rhythm.ts";
import type { SignalSource } from "../../src/sources/signal-source.ts";
import { ONE_PER_MESSAGE } from "../support/scaler-harness.ts";

describe("PollRhythm: when KEDA asks next", () => {
  it("knows nothing until a method has been called twice", () => {
    const rhythm = new PollRhythm(1000);
    rhythm.note("GetMetrics", 0);
    expect(rhythm.nextCallAtMs()).toBeUndefined();
    rhythm.note("GetMetrics", 15_000);
    expect(rhythm.nextCallAtMs()).toBe(30_000);
  });

  it("takes the earliest of the methods' own clocks (HPA every 15 s, operator every 30 s)", () => {
    const rhythm = new PollRhythm(1000);
    rhythm.note("IsActive", 7_000);
    rhythm.note("GetMetrics", 10_000);
    rhythm.note("GetMetrics", 25_000);
    rhythm.note("IsActive", 37_000);
    // GetMetrics is next due at 40 s, IsActive at 67 s.
    expect(rhythm.nextCallAtMs()).toBe(40_000);
    rhythm.note("GetMetrics", 40_000);
    rhythm.note("GetMetrics", 55_000);
    expect(rhythm.nextCallAtMs()).toBe(67_000);
  });

  it("counts calls of one method closer than the minimum gap as one call", () => {
    const rhythm = new PollRhythm(1000);
    rhythm.note("IsActive", 0);
    rhythm.note("IsActive", 300);
    expect(rhythm.nextCallAtMs()).toBeUndefined();
    rhythm.note("IsActive", 8_000);
    expect(rhythm.nextCallAtMs()).toBe(16_000);
  });
});

/** A source whose readings are always in memory, counting the decisions it feeds. */
class InMemorySource implements SignalSource {
  reads = 0;
  async read(): Promise<SignalReadings> {
    return this.readNowOrLater();
  }
  readNowOrLater(): SignalReadings {
    this.reads++;
    return { queueBacklog: { ok: true, value: 3, observedAtMs: Date.now() } };
  }
}

describe("DecisionBook: deciding ahead of KEDA's next call", () => {
  const TTL_MS = 5000;
  const request = { name: "chat", namespace: "team-a", scalerMetadata: { ...ONE_PER_MESSAGE } };
  let source: InMemorySource;
  let book: DecisionBook;

  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse("2026-11-30T09:00:00Z") });
    source = new InMemorySource();
    book = new DecisionBook({ source, env: {}, clock: Date.now, decisionTtlMs: TTL_MS });
  });
  afterEach(() => {
    book.close();
    vi.useRealTimers();
  });

  /** One KEDA poll: GetMetrics, then IsActive; whether each found its decision made before it came. */
  function poll(): { fromMemory: boolean[] } {
    const fromMemory = ["GetMetrics", "IsActive"].map((method) => {
      const readsBefore = source.reads;
      book.decisionOf(book.lookup(request), method);
      return source.reads === readsBefore;
    });
    return { fromMemory };
  }

  it("answers a steady 8 s poll from a decision made before it, not while KEDA waits", () => {
    expect(poll().fromMemory).toEqual([false, true]);
    vi.advanceTimersByTime(8000);
    // The rhythm is not known yet: this call decides while it waits.
    expect(poll().fromMemory).toEqual([false, true]);
    // Known now: the next decision is made half a TTL before the poll is due.
    vi.advanceTimersByTime(8000 - TTL_MS / 2 - 1);
    expect(source.reads).toBe(2);
    vi.advanceTimersByTime(1);
    expect(source.reads).toBe(3);
    vi.advanceTimersByTime(TTL_MS / 2);
    expect(poll().fromMemory).toEqual([true, true]);
    const decided = book.latestDecisions()[0];
    expect(decided?.atMs).toBe(Date.now() - TTL_MS / 2);
    // And so on, one decision per poll.
    vi.advanceTimersByTime(8000);
    expect(poll().fromMemory).toEqual([true, true]);
    expect(source.reads).toBe(4);
  });

  it("decides nothing ahead when polls come within the TTL anyway", () => {
    for (let i = 0; i < 4; i++) {
      poll();
      vi.advanceTimersByTime(3000);
    }
    vi.advanceTimersByTime(60_000);
    // 0 s and 6 s decided (the decision of 0 s expired at 5 s); 3 and 9 s reused one.
    expect(source.reads).toBe(2);
  });

  it("skips the decision ahead when a stream's refresh decided meanwhile", async () => {
    poll();
    vi.advanceTimersByTime(10_000);
    poll();
    // Ahead is planned at 10 + 10 - 2.5 = 17.5 s; a StreamIsActive refresh at 16 s decides first.
    vi.advanceTimersByTime(6_000);
    await book.decisionFor(request);
    expect(source.reads).toBe(3);
    vi.advanceTimersByTime(1_600);
    expect(source.reads).toBe(3);
  });

  it("drops the plan when the calls come faster than the TTL again", () => {
    poll();
    vi.advanceTimersByTime(10_000);
    poll();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(3_000);
    poll();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stops deciding ahead when the book closes or forgets the ScaledObject", () => {
    poll();
    vi.advanceTimersByTime(8000);
    poll();
    book.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(source.reads).toBe(2);

    const small = new DecisionBook({
      source,
      env: {},
      clock: Date.now,
      decisionTtlMs: TTL_MS,
      maxEntries: 1,
    });
    const other = { ...request, name: "other" };
    small.decisionOf(small.lookup(request), "IsActive");
    vi.advanceTimersByTime(8000);
    small.decisionOf(small.lookup(request), "IsActive");
    expect(vi.getTimerCount()).toBe(1);
    const reads = source.reads;
    // A second ScaledObject pushes the first out of the one-entry book: its planned decision goes too.
    small.decisionOf(small.lookup(other), "IsActive");
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(source.reads).toBe(reads + 1);
    small.close();
  });
});
