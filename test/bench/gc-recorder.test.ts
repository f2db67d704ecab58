import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { type GcEvent, readGcEvents, summariseGc } from "../../bench/support/gc-summary.ts";

const RECORDER = fileURLToPath(new URL("../../bench/support/gc-recorder.mjs", import.meta.url));

/**
 * Short-lived garbage (scavenges) and a retained heap (full collections under a small old
 * space), made between turns of the event loop as a server makes it: Node reports a collection
 * on a later turn, never in the middle of one. `ending` runs when the work is done.
 */
function allocating(ending: string): string {
  return `
    const kept = [];
    (async () => {
      for (let round = 0; round < 40; round++) {
        for (let i = 0; i < 20_000; i++) {
          const garbage = { i, text: "x" + i };
          if (i % 4 === 0) kept.push(garbage);
        }
        await new Promise(setImmediate);
      }
      ${ending}
    })();`;
}

describe("the load bench's GC recorder", () => {
  const dir = mkdtempSync(join(tmpdir(), "gc-recorder-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function record(name: string, program: string): { events: GcEvent[]; before: number; after: number } {
    const file = join(dir, `${name}.json`);
    const before = Date.now();
    execFileSync(
      process.execPath,
      [`--import=${RECORDER}`, "--max-semi-space-size=1", "--max-old-space-size=64", "-e", program],
      { env: { ...process.env, GC_RECORD_FILE: file }, timeout: 20_000 },
    );
    const after = Date.now();
    const events = readGcEvents(file);
    if (!events) throw new Error(`${name}: the recorder wrote no file`);
    return { events, before, after };
  }

  it("records each collection of the process it is loaded into, by kind, on the wall clock", () => {
    const { events, before, after } = record("normal-exit", allocating(""));
    const kinds = new Set(events.map((event) => event.kind));
    expect(kinds.has("scavenge")).toBe(true);
    expect(kinds.has("full")).toBe(true);
    for (const event of events) {
      expect(event.atMs).toBeGreaterThanOrEqual(before);
      expect(event.atMs).toBeLessThanOrEqual(after);
      expect(event.pauseMs).toBeGreaterThanOrEqual(0);
    }
    const paused = events.reduce((sum, event) => sum + event.pauseMs, 0);
    expect(paused).toBeGreaterThan(0);
    expect(paused).toBeLessThan(after - before);
  });

  it("still writes them when the process ends by process.exit, as the scaler does on SIGTERM", () => {
    const ending = `process.on("SIGTERM", () => process.exit(0)); process.kill(process.pid, "SIGTERM"); setInterval(() => {}, 1000);`;
    const { events } = record("exit-on-sigterm", allocating(ending));
    expect(events.filter((event) => event.kind === "scavenge").length).toBeGreaterThan(0);
  });

  it("reads a missing record as none, not as an error", () => {
    expect(readGcEvents(join(dir, "never-written.json"))).toBeUndefined();
  });

  it("summarises the collections inside the window: full collections apart from the marking starts", () => {
    const events: GcEvent[] = [
      { atMs: 999, pauseMs: 50, kind: "full" },
      { atMs: 1000, pauseMs: 2, kind: "scavenge" },
      { atMs: 1500, pauseMs: 6, kind: "scavenge" },
      { atMs: 1550, pauseMs: 4, kind: "incremental" },
      { atMs: 1600, pauseMs: 20, kind: "full" },
      { atMs: 2000, pauseMs: 8, kind: "other" },
      { atMs: 2001, pauseMs: 9, kind: "scavenge" },
    ];
    expect(summariseGc(events, [{ startMs: 1000, endMs: 2000 }])).toEqual({
      scavenges: 2,
      scavengeMeanMs: 4,
      scavengeMaxMs: 6,
      full: 1,
      fullMeanMs: 20,
      fullMaxMs: 20,
      // 2 + 6 + 4 + 20 + 8 = 40 ms of a 1,000 ms window.
      pausedPercent: 4,
    });
    expect(summariseGc([], [{ startMs: 0, endMs: 1000 }])).toMatchObject({
      scavenges: 0,
      scavengeMaxMs: 0,
      full: 0,
      pausedPercent: 0,
    });
  });

  it("sums a server's rounds: only collections inside a round count, the share is of the rounds' time", () => {
    const events: GcEvent[] = [
      { atMs: 100, pauseMs: 10, kind: "scavenge" },
      // Between the rounds (another server was measured): not this server's measured time.
      { atMs: 1500, pauseMs: 500, kind: "full" },
      { atMs: 2100, pauseMs: 30, kind: "full" },
    ];
    const rounds = [
      { startMs: 0, endMs: 1000 },
      { startMs: 2000, endMs: 3000 },
    ];
    expect(summariseGc(events, rounds)).toMatchObject({
      scavenges: 1,
      full: 1,
      fullMaxMs: 30,
      // 40 ms of 2,000 ms measured.
      pausedPercent: 2,
    });
  });
});
