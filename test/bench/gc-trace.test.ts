import { describe, expect, it } from "vitest";
import { parseGcTrace, summariseRetention, type TracedCollection } from "../../bench/support/gc-trace.ts";

/** A scavenge as V8's --trace-gc-nvp prints it (most fields left out; the parser skips unknown ones). */
const scavengeLine = (atMs: number, allocated: number, stayedYoung: number, promoted: number, pause = 2.5) =>
  `[1540:0x7115000:0]    ${atMs} ms: pause=${pause} mutator=2610.4 gc=s reduce_memory=0 scavenge=${pause} ` +
  `allocated=${allocated} promoted=${promoted} new_space_survived=${stayedYoung} promotion_ratio=8.1%`;

describe("V8's --trace-gc-nvp, read back", () => {
  it("reads each collection's instant, kind, pause and bytes, and skips the program's own lines", () => {
    const trace = [
      '{"not":"a collection"}',
      scavengeLine(24077, 24_973_656, 2_250_104, 2_186_664, 10.4),
      "[1540:0x7115000:0]      556 ms: pause=11.5 mutator=126.5 gc=mc reduce_memory=0 clear=0",
      "[1540:0x7115000:0] Memory allocator, used: 1024 KB",
    ].join("\n");
    expect(parseGcTrace(trace)).toEqual([
      {
        atMs: 24077,
        kind: "s",
        pauseMs: 10.4,
        allocated: 24_973_656,
        stayedYoung: 2_250_104,
        promoted: 2_186_664,
      },
      { atMs: 556, kind: "mc", pauseMs: 11.5, allocated: 0, stayedYoung: 0, promoted: 0 },
    ]);
  });

  it("gives bytes per poll from the collections inside the window, the first scavenge's bytes left out", () => {
    const at = (atMs: number, bytes: number, kind = "s", pauseMs = 2): TracedCollection => ({
      atMs,
      kind,
      pauseMs,
      allocated: bytes * 10,
      stayedYoung: bytes,
      promoted: bytes / 2,
    });
    const collections = [
      at(500, 999_999), // before the window: not counted at all
      at(1000, 777_777), // the window's first: its bytes were allocated partly before the window
      at(2000, 10_000),
      at(3000, 30_000, "s", 4),
      at(2500, 5_000, "mc", 20), // its allocations count; its survivors are not a scavenge's
      at(6000, 1), // after the window
    ];
    // 1,000 polls over a 4 s window: 500 between the first and the last scavenge (2 s).
    const summary = summariseRetention(collections, { fromMs: 1000, toMs: 5000 }, 1000);
    expect(summary).toEqual({
      scavenges: 3,
      scavengeMeanMs: 2.67,
      scavengeMaxMs: 4,
      full: 1,
      fullMeanMs: 20,
      fullMaxMs: 20,
      // (2 + 2 + 4 + 20) ms paused of the 4,000 ms window.
      pausedPercent: 0.7,
      // (100,000 + 300,000 + 50,000) / 500; survivors: kept young plus promoted, scavenges only.
      allocatedPerUnit: 900,
      survivedPerUnit: 120,
      promotedPerUnit: 40,
    });
  });

  it("has no per-poll figure without two scavenges in the window", () => {
    const summary = summariseRetention([], { fromMs: 0, toMs: 1000 }, 100);
    expect(summary.survivedPerUnit).toBeNaN();
    expect(summary.scavenges).toBe(0);
  });
});
