import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeadlineQueue } from "../../src/server/deadline-queue.ts";

interface Item {
  readonly atMs: number;
  readonly name: string;
  live: boolean;
}

describe("DeadlineQueue: many deadlines on one timer", () => {
  let fired: string[];
  let queue: DeadlineQueue<Item>;
  /** The fake clock's start, a whole second: a resolution's multiples fall at whole offsets from it. */
  const START_MS = Date.parse("2026-11-30T09:00:00Z");
  const item = (name: string, inMs: number): Item => ({ atMs: Date.now() + inMs, name, live: true });
  /** A queue that records each item it hands over as `name@ms since START_MS`. */
  const recordingQueue = (resolutionMs?: number) =>
    new DeadlineQueue<Item>({
      clock: Date.now,
      isLive: (i) => i.live,
      due: (i) => fired.push(`${i.name}@${Date.now() - START_MS}`),
      ...(resolutionMs !== undefined ? { resolutionMs } : {}),
    });

  beforeEach(() => {
    vi.useFakeTimers({ now: START_MS });
    fired = [];
    queue = recordingQueue();
  });
  afterEach(() => {
    queue.clear();
    vi.useRealTimers();
  });

  it("fires each item at its instant, in order, with one timer for all", () => {
    for (const [name, inMs] of [
      ["c", 3000],
      ["a", 1000],
      ["d", 3000],
      ["b", 2000],
    ] as const)
      queue.add(item(name, inMs));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(999);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(5000);
    expect(fired.slice(0, 2)).toEqual(["a@1000", "b@2000"]);
    // Two items at one instant fire together, in either order.
    expect(fired.slice(2).sort()).toEqual(["c@3000", "d@3000"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("skips a cancelled item, and lets the timer go when only cancelled ones are left", () => {
    const early = item("early", 1000);
    queue.add(early);
    queue.add(item("late", 5000));
    early.live = false;
    queue.cancelled();
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(4000);
    expect(fired).toEqual(["late@5000"]);

    const alone = item("alone", 1000);
    queue.add(alone);
    expect(vi.getTimerCount()).toBe(1);
    alone.live = false;
    queue.cancelled();
    expect(vi.getTimerCount()).toBe(0);
    expect(queue.size).toBe(0);
  });

  it("hands over at most a hundred due items per turn of the event loop, the rest a turn later", () => {
    // All due at once, as after the wall clock steps forward past every pending deadline.
    for (let i = 0; i < 250; i++) queue.add(item(String(i), 1000));
    vi.advanceTimersToNextTimer();
    expect(fired).toHaveLength(100);
    vi.advanceTimersToNextTimer();
    expect(fired).toHaveLength(200);
    vi.advanceTimersToNextTimer();
    expect(fired).toHaveLength(250);
    expect(new Set(fired).size).toBe(250);
  });

  it("skips an item cancelled by one that fires before it, and fires one added meanwhile", () => {
    const second = item("second", 1000);
    queue = new DeadlineQueue<Item>({
      clock: Date.now,
      isLive: (i) => i.live,
      due: (i) => {
        fired.push(i.name);
        if (i.name !== "first") return;
        second.live = false;
        queue.cancelled();
        queue.add(item("added", 500));
      },
    });
    queue.add(item("first", 999));
    queue.add(second);
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual(["first"]);
    vi.advanceTimersByTime(500);
    expect(fired).toEqual(["first", "added"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("with a resolution, fires only at its multiples, each time for every item due by then", () => {
    // Multiples of 25 ms fall at 25, 50, 75… ms after the test's start.
    queue = recordingQueue(25);
    for (const [name, inMs] of [
      ["a", 1001],
      ["b", 1013],
      ["c", 1025],
      ["d", 1026],
    ] as const)
      queue.add(item(name, inMs));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1024);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(["a@1025", "b@1025", "c@1025"]);
    vi.advanceTimersByTime(24);
    expect(fired).toHaveLength(3);
    vi.advanceTimersByTime(1);
    expect(fired.at(-1)).toBe("d@1050");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("moves its timer earlier for an earlier item", () => {
    queue.add(item("later", 5000));
    queue.add(item("sooner", 500));
    vi.advanceTimersByTime(500);
    expect(fired).toEqual(["sooner@500"]);
    expect(vi.getTimerCount()).toBe(1);
  });

  it("fires every live item exactly once, in the order of its instant, whatever the order of adding, at its instant or its resolution's next multiple", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ inMs: fc.integer({ min: 0, max: 10_000 }), live: fc.boolean() }), {
          maxLength: 60,
        }),
        fc.constantFrom(0, 25, 1000),
        (plans, resolutionMs) => {
          fired = [];
          queue = recordingQueue(resolutionMs);
          // Each property run starts where the last left off; a resolution's multiples are counted on the clock.
          const startMs = Date.now();
          const items = plans.map((p, i) => ({ atMs: startMs + p.inMs, name: String(i), live: true }));
          for (const i of items) queue.add(i);
          plans.forEach((p, i) => {
            if (!p.live) (items[i] as Item).live = false;
          });
          queue.cancelled();
          vi.advanceTimersByTime(11_001);
          const firingAt = (atMs: number) =>
            resolutionMs > 0 ? Math.ceil(atMs / resolutionMs) * resolutionMs : atMs;
          const live = items.filter((i) => i.live).sort((a, b) => a.atMs - b.atMs);
          expect(fired.map((f) => Number(f.split("@")[1]))).toEqual(
            live.map((i) => firingAt(i.atMs) - START_MS),
          );
          expect(new Set(fired.map((f) => f.split("@")[0])).size).toBe(fired.length);
          expect(queue.size).toBe(0);
          expect(vi.getTimerCount()).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
