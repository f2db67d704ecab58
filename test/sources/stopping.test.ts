import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loopTimeout, requestDeadline } from "../../src/sources/stopping.ts";

describe("an upstream request's deadline", () => {
  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance"],
    });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("aborts with a TimeoutError once its time has passed, and leaves no timer", () => {
    const deadline = loopTimeout(30);
    vi.advanceTimersByTime(29);
    expect(deadline.signal.aborted).toBe(false);
    vi.advanceTimersByTime(100);
    expect(deadline.signal.aborted).toBe(true);
    expect((deadline.signal.reason as DOMException).name).toBe("TimeoutError");
    expect(String(deadline.signal.reason)).toContain("no answer within 30 ms");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("ends when the request settles: no timer, no ticker and no abort afterwards", () => {
    let signal: AbortSignal;
    {
      using deadline = requestDeadline(30, undefined);
      signal = deadline.signal;
      // The deadline's own timer and the loop clock's ticker.
      expect(vi.getTimerCount()).toBe(2);
      vi.advanceTimersByTime(5);
    }
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(signal.aborted).toBe(false);
  });

  it("keeps the loop clock ticking while any request is pending", () => {
    const first = loopTimeout(1000);
    const second = loopTimeout(1000);
    expect(vi.getTimerCount()).toBe(3);
    first[Symbol.dispose]();
    expect(vi.getTimerCount()).toBe(2);
    // Ending it twice releases the clock once.
    first[Symbol.dispose]();
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(1000);
    expect(second.signal.aborted).toBe(true);
    second[Symbol.dispose]();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("aborts at once when the process stops, and ends with the request", () => {
    const stopping = new AbortController();
    const deadline = requestDeadline(10_000, stopping.signal);
    stopping.abort(new Error("stopping"));
    expect(deadline.signal.aborted).toBe(true);
    deadline[Symbol.dispose]();
    expect(vi.getTimerCount()).toBe(0);
  });
});
