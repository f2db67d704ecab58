import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { GcEvent } from "../../bench/support/gc-summary.ts";
import { slowCalls } from "../../bench/support/slow-calls.ts";

const pause = (kind: GcEvent["kind"], atMs: number, pauseMs: number): GcEvent => ({ kind, atMs, pauseMs });

/** 196 fast calls of 1 ms every 10 ms from t = 10,000, and the given slow ones (50 ms each). */
function round(slowStartsMs: readonly number[]) {
  const startsMs = [...Array.from({ length: 196 }, (_, i) => 10_000 + i * 10), ...slowStartsMs];
  const latenciesMs = [...Array.from({ length: 196 }, () => 1), ...slowStartsMs.map(() => 50)];
  return { startsMs, latenciesMs };
}

describe("a round's slowest calls by the pauses they were in flight through", () => {
  it("counts each call at or above the p99 once: under the server's full collections, its scavenges, the generator's pauses or none (a tie goes to the server)", () => {
    const result = slowCalls(
      round([1000, 2000, 3000, 4000]),
      [
        pause("full", 1020, 10),
        pause("scavenge", 2010, 2),
        // After the call at 4,000 answered (4,050): not a cause.
        pause("full", 4060, 30),
      ],
      [pause("scavenge", 2020, 2), pause("scavenge", 3040, 15)],
    );
    expect(result).toEqual({
      p99Ms: 50,
      calls: 4,
      serverFull: 1,
      serverScavenge: 1,
      generator: 1,
      other: 1,
    });
  });

  it("puts a call under the kind of pause it spent the most of its flight in", () => {
    const result = slowCalls(
      round([1000, 2000]),
      // The call at 1,000 sits 0.5 ms in a scavenge of the server's and 6 ms in the generator's
      // pause; the one at 2,000 sits 1 ms in a weak-callback pause of the server's and no longer
      // in anything else.
      [pause("scavenge", 1010, 0.5), pause("other", 2010, 1)],
      [pause("scavenge", 1020, 6), pause("scavenge", 2040, 0.5)],
    );
    expect(result).toMatchObject({ calls: 2, serverFull: 0, serverScavenge: 1, generator: 1, other: 0 });
  });

  it("counts the pause that starts the server's marking with its full collections", () => {
    const result = slowCalls(round([1000, 2000, 3000, 4000]), [pause("incremental", 1049, 3)], []);
    expect(result.serverFull).toBe(1);
    expect(result.other).toBe(3);
  });

  it("leaves out calls faster than the p99, whatever they overlapped", () => {
    // Every fast call overlaps this long pause of the server's; none of the slow ones does.
    const result = slowCalls(round([1000, 2000, 3000, 4000]), [pause("full", 9_000, 5_000)], []);
    expect(result).toMatchObject({ calls: 4, serverFull: 0, other: 4 });
  });

  it("refuses starts and latencies that do not pair up", () => {
    expect(() => slowCalls({ startsMs: [1, 2], latenciesMs: [1] }, [], [])).toThrow(
      "2 call starts for 1 latencies",
    );
  });

  it("puts every call at or above the p99 under exactly one cause", () => {
    const call = fc.record({
      startMs: fc.integer({ min: 0, max: 5000 }),
      latencyMs: fc.integer({ min: 0, max: 60 }),
    });
    const gc = fc.record({
      kind: fc.constantFrom<GcEvent["kind"]>("scavenge", "full", "incremental", "other"),
      atMs: fc.integer({ min: 0, max: 5000 }),
      pauseMs: fc.integer({ min: 0, max: 40 }),
    });
    fc.assert(
      fc.property(
        fc.array(call, { minLength: 1, maxLength: 300 }),
        fc.array(gc, { maxLength: 20 }),
        fc.array(gc, { maxLength: 20 }),
        (calls, server, generator) => {
          const result = slowCalls(
            { startsMs: calls.map((c) => c.startMs), latenciesMs: calls.map((c) => c.latencyMs) },
            server,
            generator,
          );
          const atOrAbove = calls.filter((c) => c.latencyMs >= result.p99Ms).length;
          expect(result.calls).toBe(atOrAbove);
          expect(result.serverFull + result.serverScavenge + result.generator + result.other).toBe(atOrAbove);
        },
      ),
    );
  });
});
