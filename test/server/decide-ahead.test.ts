import * as grpc from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InProcessMemoryStore } from "../../src/policy/decider.ts";
import type { SignalReadings } from "../../src/readings/signal-table.ts";
import { DeadlineQueue } from "../../src/server/deadline-queue.ts";
import { DecisionBook } from "../../src/server/decision-book.ts";
import { PollRhythm } from "../../src/server/poll-rhythm.ts";
import type { SignalSource } from "../../src/sources/signal-source.ts";
import { eventually, ONE_PER_MESSAGE, ref, useHarness } from "../support/scaler-harness.ts";

describe("PollRhythm: when KEDA polls next", () => {
  it("knows a clock once three gaps in a row agree", () => {
    const rhythm = new PollRhythm(2500, 500);
    for (const atMs of [0, 30_000, 60_020]) rhythm.note(atMs);
    expect(rhythm.nextPollAtMs()).toBeUndefined();
    rhythm.note(89_990);
    expect(rhythm.nextPollAtMs()).toBe(119_960);
  });

  it("counts the two calls of one poll (GetMetrics, then IsActive) as one", () => {
    const rhythm = new PollRhythm(2500, 500);
    for (const atMs of [0, 3, 8_000, 8_004, 16_000, 16_002, 24_000, 24_001]) rhythm.note(atMs);
    expect(rhythm.nextPollAtMs()).toBe(32_000);
  });

  it("claims no clock for KEDA's two loops interleaved (HPA every 15 s, pollingInterval 30 s)", () => {
    // Scale-loop phases at least the minimum gap away from the HPA's polls (nearer ones are the
    // same poll, and then the HPA's clock is the rhythm, rightly).
    for (const phaseMs of [2_500, 5_000, 7_000, 7_500, 8_000, 12_500]) {
      const rhythm = new PollRhythm(2500, 500);
      const polls = [
        ...Array.from({ length: 20 }, (_, i) => i * 15_000),
        ...Array.from({ length: 10 }, (_, i) => phaseMs + i * 30_000),
      ].sort((a, b) => a - b);
      for (const atMs of polls) {
        rhythm.note(atMs);
        expect(rhythm.nextPollAtMs(), `phase ${phaseMs} ms, poll at ${atMs} ms`).toBeUndefined();
      }
    }
  });

  it("loses the clock after a one-off call, and finds it again after three polls", () => {
    const rhythm = new PollRhythm(2500, 500);
    for (const atMs of [0, 30_000, 60_000, 90_000]) rhythm.note(atMs);
    expect(rhythm.nextPollAtMs()).toBe(120_000);
    // A person's grpcurl at 101 s, then KEDA's clock again.
    for (const atMs of [101_000, 120_000, 150_000, 180_000]) {
      rhythm.note(atMs);
      expect(rhythm.nextPollAtMs()).toBeUndefined();
    }
    rhythm.note(210_000);
    expect(rhythm.nextPollAtMs()).toBe(240_000);
  });
});

/** A source whose readings are in memory (or, when `slow`, a read that waits to be released). */
class CountingSource implements SignalSource {
  reads = 0;
  slow = false;
  fail = false;
  release: () => void = () => {};
  async read(): Promise<SignalReadings> {
    return this.readNowOrLater();
  }
  readNowOrLater(): SignalReadings | Promise<SignalReadings> {
    this.reads++;
    if (this.fail) throw new Error("the source broke");
    const readings = { queueBacklog: { ok: true as const, value: 3, observedAtMs: Date.now() } };
    if (!this.slow) return readings;
    return new Promise((resolve) => {
      this.release = () => resolve(readings);
    });
  }
}

describe("DecisionBook: deciding ahead of KEDA's next poll", () => {
  const TTL_MS = 5000;
  const request = { name: "chat", namespace: "team-a", scalerMetadata: { ...ONE_PER_MESSAGE } };
  let source: CountingSource;
  let errors: unknown[];
  let book: DecisionBook;
  let startMs = 0;

  const bookOver = (extra: { maxEntries?: number; memoryStore?: InProcessMemoryStore } = {}) =>
    new DecisionBook({
      source,
      env: {},
      clock: Date.now,
      decisionTtlMs: TTL_MS,
      onError: (error) => errors.push(error),
      ...extra,
    });

  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse("2026-11-30T09:00:00Z") });
    source = new CountingSource();
    errors = [];
    book = bookOver();
    startMs = Date.now();
  });
  afterEach(() => {
    book.close();
    vi.useRealTimers();
  });

  /** One KEDA poll, GetMetrics then IsActive: whether it found a decision made before it came. */
  function poll(target = book, polled = true): boolean {
    const readsBefore = source.reads;
    target.decisionOf(target.lookup(request), polled);
    target.decisionOf(target.lookup(request), polled);
    return source.reads === readsBefore;
  }

  /** Runs the timers up to `ms` after the test's start. */
  const until = (ms: number) => vi.advanceTimersByTime(startMs + ms - Date.now());

  /**
   * The decisions a fresh book makes for polls at these instants (ms after now), and in the minute
   * after the last: with the rhythm learned (`polled`) or without.
   */
  function decisionsOver(polls: readonly number[], polled: boolean): number {
    startMs = Date.now();
    const target = bookOver();
    const readsBefore = source.reads;
    for (const atMs of polls) {
      until(atMs);
      poll(target, polled);
    }
    until((polls.at(-1) ?? 0) + 60_000);
    target.close();
    return source.reads - readsBefore;
  }

  /** Polls at 0, 8, 16 and 24 s: each decides while it waits; after the fourth the clock is known. */
  function learnAnEightSecondClock(target = book): void {
    for (const atS of [0, 8, 16, 24]) {
      until(atS * 1000);
      expect(poll(target)).toBe(false);
    }
  }

  it("answers polls on one 8 s clock from a decision made a second before each", () => {
    learnAnEightSecondClock();
    expect(source.reads).toBe(4);
    until(30_999);
    expect(source.reads).toBe(4);
    until(31_000);
    expect(source.reads).toBe(5);
    for (const atS of [32, 40, 48, 56]) {
      until(atS * 1000);
      expect(poll()).toBe(true);
      expect(book.latestDecisions()[0]?.atMs).toBe(Date.now() - 1000);
    }
    // Still one decision per poll, the next one planned.
    expect(source.reads).toBe(8);
    expect(vi.getTimerCount()).toBe(1);
  });

  it("plans every ScaledObject's next decision on one timer, each still a second before its poll", () => {
    const fleet = Array.from({ length: 40 }, (_, i) => ({ ...request, name: `chat-${i}` }));
    const decidedAt = (name: string) =>
      book.latestDecisions().find((d) => d.scaledObject.name === name)?.atMs;
    // Each on the same 8 s clock, 150 ms after the one before (KEDA spreads its polls). For each
    // poll: how long before it its decision was made, or that it decided while KEDA waited.
    const pollFleet = (atS: number) =>
      fleet.map((each, i) => {
        until(atS * 1000 + i * 150);
        const readsBefore = source.reads;
        book.decisionOf(book.lookup(each), true);
        book.decisionOf(book.lookup(each), true);
        return source.reads === readsBefore ? Date.now() - (decidedAt(each.name) ?? 0) : "while waiting";
      });
    for (const atS of [0, 8, 16, 24]) pollFleet(atS);
    expect(vi.getTimerCount()).toBe(1);
    expect(pollFleet(32)).toEqual(fleet.map(() => 1000));
    expect(vi.getTimerCount()).toBe(1);
  });

  it("decides no more than without a rhythm when KEDA's two loops interleave", () => {
    const polls = [
      ...Array.from({ length: 20 }, (_, i) => i * 15_000),
      ...Array.from({ length: 10 }, (_, i) => 7_500 + i * 30_000),
    ].sort((a, b) => a - b);
    const without = decisionsOver(polls, false);
    expect(decisionsOver(polls, true)).toBe(without);
  });

  it("decides no more often than without a rhythm when polls come within the TTL", () => {
    const polls = Array.from({ length: 21 }, (_, i) => i * 3000);
    // Each decision lasts 5 s: every other poll of a 3 s clock decides, planned or not.
    expect(decisionsOver(polls, false)).toBe(11);
    expect(decisionsOver(polls, true)).toBe(11);
  });

  it("plans once per poll: the IsActive after GetMetrics keeps the plan its GetMetrics made", () => {
    learnAnEightSecondClock();
    const planned = vi.spyOn(DeadlineQueue.prototype, "add");
    until(32_000);
    poll();
    expect(planned).toHaveBeenCalledTimes(1);
    planned.mockRestore();
  });

  it("skips the decision ahead when a stream's refresh decided just before it", async () => {
    learnAnEightSecondClock();
    // Planned at 31 s; a StreamIsActive refresh decides at 30.5 s.
    until(30_500);
    await book.decisionFor(request);
    expect(source.reads).toBe(5);
    until(31_500);
    expect(source.reads).toBe(5);
  });

  it("skips it too when a refresh seconds earlier still answers the poll", async () => {
    learnAnEightSecondClock();
    // Planned at 31 s for the poll at 32 s; a refresh at 29.5 s lasts until 34.5 s.
    until(29_500);
    await book.decisionFor(request);
    expect(source.reads).toBe(5);
    until(32_000);
    expect(source.reads).toBe(5);
    expect(poll()).toBe(true);
  });

  it("treats a decision from the future (the wall clock stepped back) as expired", () => {
    poll();
    expect(source.reads).toBe(1);
    vi.setSystemTime(Date.now() - 60_000);
    expect(poll()).toBe(false);
    expect(source.reads).toBe(2);
  });

  it("keeps no policy memory for a ScaledObject forgotten while its read was under way", async () => {
    const memories = new InProcessMemoryStore();
    const small = bookOver({ maxEntries: 1, memoryStore: memories });
    source.slow = true;
    const first = small.decisionOf(small.lookup(request), true);
    const release = source.release;
    source.slow = false;
    small.decisionOf(small.lookup({ ...request, name: "other" }), true);
    expect(memories.size).toBe(1);
    release();
    // The caller still gets its answer; the forgotten entry's memory does not stay behind.
    await expect(first).resolves.toMatchObject({ available: true });
    expect(memories.size).toBe(1);
    small.close();
  });

  it("leaves a new entry's memory as it was when a forgotten entry's read of the same ScaledObject ends", async () => {
    const small = bookOver({ maxEntries: 1 });
    source.slow = true;
    const forgotten = small.decisionOf(small.lookup(request), true);
    const release = source.release;
    source.slow = false;
    vi.advanceTimersByTime(2000);
    // Evicted by another ScaledObject, then back as a new entry that decides twice.
    small.decisionOf(small.lookup({ ...request, name: "other" }), true);
    small.decisionOf(small.lookup(request), true);
    vi.advanceTimersByTime(TTL_MS + 1000);
    small.decisionOf(small.lookup(request), true);
    const kept = small.latestDecisions()[0]!;
    const startedFrom = JSON.stringify(kept.inputs.memory);
    expect(startedFrom).toMatch(/lastDesired/);
    vi.advanceTimersByTime(1000);
    release();
    await expect(forgotten).resolves.toMatchObject({ available: true });
    // The memory the live entry's decision started from (what /debug/decisions decides again
    // from) is untouched.
    expect(JSON.stringify(kept.inputs.memory)).toBe(startedFrom);
    expect(small.latestDecisions()[0]).toBe(kept);
    small.close();
  });

  it("starts no second read while one is under way", () => {
    learnAnEightSecondClock();
    // A stream's refresh at 30.5 s finds the reading missing and waits for it.
    until(30_500);
    source.slow = true;
    void book.decisionFor(request);
    expect(source.reads).toBe(5);
    until(31_500);
    expect(source.reads).toBe(5);
    source.release();
  });

  it("reports a decision ahead that throws, and the next poll decides as before", () => {
    learnAnEightSecondClock();
    source.fail = true;
    expect(() => until(31_000)).not.toThrow();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain("the source broke");
    source.fail = false;
    until(32_000);
    expect(poll()).toBe(false);
  });

  it("reports a decision ahead whose read fails later", async () => {
    learnAnEightSecondClock();
    vi.spyOn(source, "readNowOrLater").mockImplementationOnce(() =>
      Promise.reject(new Error("late failure")),
    );
    until(31_000);
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(String(errors[0])).toContain("late failure");
  });

  it("stops deciding ahead when the book closes or forgets the ScaledObject", () => {
    learnAnEightSecondClock();
    expect(vi.getTimerCount()).toBe(1);
    book.close();
    expect(vi.getTimerCount()).toBe(0);
    // Nor plans again once closed.
    until(32_000);
    poll();
    expect(vi.getTimerCount()).toBe(0);
    until(100_000);
    expect(source.reads).toBe(5);

    startMs = Date.now();
    const small = bookOver({ maxEntries: 1 });
    learnAnEightSecondClock(small);
    expect(vi.getTimerCount()).toBe(1);
    const reads = source.reads;
    // A second ScaledObject pushes the first out of the one-entry book: its planned decision goes too.
    small.decisionOf(small.lookup({ ...request, name: "other" }), true);
    expect(vi.getTimerCount()).toBe(0);
    until(100_000);
    expect(source.reads).toBe(reads + 1);
    small.close();
  });
});

describe("the service tells the book which calls are KEDA's polls", () => {
  const running = useHarness({}, 2);

  it("GetMetrics and IsActive are polls; a stream's refresh is not", async () => {
    const { book } = running.harness.scaler;
    // A poll reaches the book as a decisionOf(…, true) when it has to wait for the decision, or,
    // answered on the answer thread from a decision in hand, as a note (notePoll).
    const decisionOf = vi.spyOn(book, "decisionOf");
    const notePoll = vi.spyOn(book, "notePoll");
    const polls = () =>
      decisionOf.mock.calls.filter((call) => call[1] === true).length + notePoll.mock.calls.length;
    const so = ref("polled", { ...ONE_PER_MESSAGE });
    await running.client.call("GetMetrics", { scaledObjectRef: so, metricName: "llm-desired-replicas" });
    await running.client.call("IsActive", so);
    await eventually(() => expect(polls()).toBe(2));
    // The stream's messages come from decisions it asked for (or found) without saying "poll".
    const stream = running.client.stream("StreamIsActive", so);
    // Cancelling below ends the stream with CANCELLED on this side: expected, not a failure. Any
    // other error before the first message fails the test at once.
    const firstMessage = new Promise((resolve, reject) => {
      stream.once("data", resolve);
      stream.on("error", (error: grpc.ServiceError) => {
        if (error.code !== grpc.status.CANCELLED) reject(error);
      });
    });
    await firstMessage;
    // A few of the stream's refreshes (STREAM_REFRESH_SECONDS is 0.05 here), and a note's batch.
    await new Promise((resolve) => setTimeout(resolve, 200));
    stream.cancel();
    expect(polls()).toBe(2);
    notePoll.mockRestore();
    decisionOf.mockRestore();
  });
});
