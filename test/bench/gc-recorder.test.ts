import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { type GcEvent, readGcEvents, summariseGc } from "../../bench/support/gc-recorder.ts";

const RECORDER = fileURLToPath(new URL("../../bench/support/gc-recorder.ts", import.meta.url));

describe("the load bench's GC recorder", () => {
  const dir = mkdtempSync(join(tmpdir(), "gc-recorder-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("records the collections of the process it is loaded into, on the wall clock, as it exits", () => {
    const file = join(dir, "events.json");
    const before = Date.now();
    // Short-lived garbage (scavenges) and a retained heap, made between turns of the event loop
    // as a server makes it: Node reports a collection on a later turn, never in the middle of one.
    const program = `
      const kept = [];
      (async () => {
        for (let round = 0; round < 20; round++) {
          for (let i = 0; i < 20_000; i++) {
            const garbage = { i, text: "x" + i };
            if (i % 4 === 0) kept.push(garbage);
          }
          await new Promise(setImmediate);
        }
      })();`;
    execFileSync(process.execPath, [`--import=${RECORDER}`, "--max-semi-space-size=1", "-e", program], {
      env: { ...process.env, GC_RECORD_FILE: file },
    });
    const after = Date.now();
    const events = readGcEvents(file);
    expect(events.filter((event) => event.kind === "scavenge").length).toBeGreaterThan(0);
    for (const event of events) {
      expect(event.atMs).toBeGreaterThanOrEqual(before);
      expect(event.atMs).toBeLessThanOrEqual(after);
      expect(event.pauseMs).toBeGreaterThanOrEqual(0);
    }
  });

  it("summarises only the collections inside the window, by kind", () => {
    const events: GcEvent[] = [
      { atMs: 999, pauseMs: 50, kind: "full" },
      { atMs: 1000, pauseMs: 2, kind: "scavenge" },
      { atMs: 1500, pauseMs: 6, kind: "scavenge" },
      { atMs: 1600, pauseMs: 20, kind: "full" },
      { atMs: 1700, pauseMs: 4, kind: "incremental" },
      { atMs: 2000, pauseMs: 8, kind: "other" },
      { atMs: 2001, pauseMs: 9, kind: "scavenge" },
    ];
    expect(summariseGc(events, { startMs: 1000, endMs: 2000 })).toEqual({
      scavenges: 2,
      scavengeMeanMs: 4,
      scavengeMaxMs: 6,
      full: 2,
      fullMeanMs: 12,
      fullMaxMs: 20,
      // 2 + 6 + 20 + 4 + 8 = 40 ms of a 1,000 ms window.
      pausedPercent: 4,
    });
    expect(summariseGc([], { startMs: 0, endMs: 1000 })).toMatchObject({
      scavenges: 0,
      scavengeMaxMs: 0,
      pausedPercent: 0,
    });
  });
});
