import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Decider, InProcessMemoryStore } from "../../src/policy/decider.ts";
import type { PolicyMemory } from "../../src/policy/memory.ts";
import { InPlaceMemoryStore } from "../../src/server/in-place-memory-store.ts";
import { MemoryRecord } from "../../src/server/memory-record.ts";
import { memoryJsonOf } from "../../src/server/peers/wire.ts";
import { NOON, readingsOf, specOf, type Values } from "../policy/helpers.ts";

const instant = fc.integer({ min: 0, max: 4_000_000_000_000 });
const figure = fc.double({ min: 0, max: 1e6, noNaN: true });
const lastGood = fc.record({ ok: fc.constant(true as const), value: figure, observedAtMs: instant });
const smoothed = fc.record({ value: figure, atMs: instant });
const optional = { requiredKeys: [] as [] };

/** Any memory the peers' wire accepts: every field and sub-field present or absent. */
const anyMemory: fc.Arbitrary<PolicyMemory> = fc.record(
  {
    lastGood: fc.record(
      { vllmWaiting: lastGood, kvCacheUsage: lastGood, replicasReady: lastGood, queueBacklog: lastGood },
      optional,
    ),
    lastDesired: figure,
    lastSignalAtMs: instant,
    recent: fc.array(fc.record({ atMs: instant, desired: figure }), { maxLength: 6 }),
    smoothed: fc.record({ kvCacheUsage: smoothed, gpuUtilisation: smoothed }, optional),
    capacity: fc.record(
      {
        mixPerReplica: figure.map((v) => v + 1),
        mixAtMs: instant,
        mix: fc.record({ prompt: figure, generated: figure }),
        factor: figure.map((v) => v + 0.01),
        atMs: instant,
        samples: figure,
        saturatedSinceMs: instant,
        saturatedReady: figure.map((v) => v + 1),
      },
      { requiredKeys: ["factor", "atMs", "samples"] },
    ),
    inflowRecent: fc.array(fc.record({ atMs: instant, inflow: figure }), { maxLength: 6 }),
    inflowRisingSinceMs: instant,
  },
  optional,
);

/** What a reader of the memory sees: JSON drops the fields a record holds as undefined. */
const asRead = (memory: PolicyMemory | undefined) => JSON.parse(JSON.stringify(memory ?? null)) as unknown;

describe("a memory record", () => {
  it("reads as exactly the last memory copied into it, whatever it held before", () => {
    fc.assert(
      fc.property(fc.array(anyMemory, { minLength: 1, maxLength: 5 }), (memories) => {
        const record = new MemoryRecord();
        for (const memory of memories) record.copy(memory);
        const last = memories.at(-1)!;
        expect(asRead(record.memory)).toEqual(asRead(last));
        expect(memoryJsonOf(record.memory).length).toBe(memoryJsonOf(last).length);
      }),
      { numRuns: 300 },
    );
  });

  it("writes into the objects it made at the first copy, and keeps the readings it is given", () => {
    const record = new MemoryRecord();
    const reading = { ok: true as const, value: 4, observedAtMs: NOON };
    const memory = (at: number): PolicyMemory => ({
      lastGood: { vllmWaiting: reading },
      smoothed: { kvCacheUsage: { value: 0.5, atMs: at } },
      capacity: { factor: 1.1, atMs: at, samples: 3, mix: { prompt: 900, generated: 200 } },
      recent: [{ atMs: at, desired: 2 }],
    });
    record.copy(memory(NOON));
    const first = record.memory;
    const parts = [
      first.lastGood,
      first.smoothed,
      first.smoothed?.kvCacheUsage,
      first.capacity,
      first.recent,
    ];
    record.copy(memory(NOON + 1000));
    const again = record.memory;
    expect([
      again.lastGood,
      again.smoothed,
      again.smoothed?.kvCacheUsage,
      again.capacity,
      again.recent,
    ]).toEqual(parts);
    for (const [index, part] of [
      again.lastGood,
      again.smoothed,
      again.smoothed?.kvCacheUsage,
      again.capacity,
      again.recent,
    ].entries())
      expect(part, `part ${index}`).toBe(parts[index]);
    expect(again.smoothed?.kvCacheUsage?.atMs).toBe(NOON + 1000);
    // The source's reading is referred to, never copied or written.
    expect(again.lastGood?.vllmWaiting).toBe(reading);
    expect(reading).toEqual({ ok: true, value: 4, observedAtMs: NOON });
  });
});

/** A day of a chat service: a morning ramp, a burst, a drain, a failed scrape. */
function pollValues(poll: number): Values {
  const ramp = Math.min(poll, 40);
  return {
    queueBacklog: poll % 17 === 0 ? 400 : 10 + ramp,
    vllmWaiting: poll > 60 ? 0 : (poll * 3) % 11,
    vllmRunning: 10 + ramp,
    ttftP95Seconds: 0.4 + (poll % 9) / 10,
    ttftRequestsPerSecond: 2 + ramp / 4,
    kvCacheUsage: (poll % 10) / 10,
    gpuUtilisation: ((poll * 7) % 10) / 10,
    promptTokensPerSecond: 3000 + 50 * ramp,
    generationTokensPerSecond: 900 + 20 * ramp,
    replicasReady: 1 + Math.floor(ramp / 10),
    replicasDesired: 1 + Math.floor(ramp / 10),
  };
}

describe("the server's memory store", () => {
  it("makes every decision the policy makes with its own memories, through rises, holds and drains", () => {
    const everySpec = ["capacity", "lastDesired", "lastGood", "lastSignalAtMs", "smoothed"];
    for (const [metadata, parts] of [
      [{ serviceBusQueue: "requests" }, everySpec],
      [
        { serviceBusQueue: "requests", scaleDownDelaySeconds: "300", utilisationSmoothingSeconds: "120" },
        [...everySpec, "recent"],
      ],
      [
        { serviceBusQueue: "requests", forecastTrend: "true", forecastTrendMinDurationSeconds: "60" },
        [...everySpec, "inflowRecent", "inflowRisingSinceMs"],
      ],
    ] as const) {
      const spec = specOf(metadata);
      const reference = new Decider(new InProcessMemoryStore());
      const store = new InPlaceMemoryStore();
      const inPlace = new Decider(store);
      const seen = new Set<string>();
      for (let poll = 0; poll < 120; poll++) {
        const nowMs = NOON + poll * 30_000;
        const values = pollValues(poll);
        if (poll % 23 === 5) delete values.vllmWaiting;
        const readings = readingsOf(values, nowMs);
        const expected = reference.decideFrom("chat", spec, readings, nowMs);
        const actual = inPlace.decideFrom("chat", spec, readings, nowMs);
        expect(actual.decision, `poll ${poll}`).toEqual(expected.decision);
        // The memory it started from is still as it was once the new one is set: /debug/decisions
        // makes the decision again from it.
        expect(asRead(actual.startedFrom), `started from, poll ${poll}`).toEqual(
          asRead(expected.startedFrom),
        );
        for (const [field, value] of Object.entries(store.get("chat") ?? {}))
          if (value !== undefined) seen.add(field);
      }
      // The timeline reached every part of the memory the spec uses.
      expect([...seen].sort()).toEqual([...parts].sort());
    }
  });

  it("keeps the memory a decision started from as it was until the key's next decision, whatever a peer sends", () => {
    const store = new InPlaceMemoryStore();
    store.set("chat", { lastDesired: 2 }, NOON);
    const startedFrom = store.get("chat");
    store.set("chat", { lastDesired: 5 }, NOON + 1000);
    store.replace("chat", { lastDesired: 9 }, NOON + 2000);
    expect(startedFrom).toMatchObject({ lastDesired: 2 });
    expect(store.get("chat")).toMatchObject({ lastDesired: 9 });
    expect(store.heldFor("chat")).toMatchObject({ decidedAtMs: NOON + 2000, local: false });
    store.set("chat", { lastDesired: 6 }, NOON + 3000);
    expect(store.get("chat")).toMatchObject({ lastDesired: 6 });
    expect(store.heldFor("chat")?.local).toBe(true);
  });

  it("never keeps the memory it is given", () => {
    const store = new InPlaceMemoryStore();
    const given = { lastDesired: 3, recent: [{ atMs: NOON, desired: 3 }] };
    store.set("chat", given, NOON);
    given.lastDesired = 7;
    given.recent[0]!.desired = 7;
    expect(store.get("chat")).not.toBe(given);
    expect(asRead(store.get("chat"))).toEqual({ lastDesired: 3, recent: [{ atMs: NOON, desired: 3 }] });
  });

  it("forgets the least recently written key beyond its bound, and nothing without one", () => {
    const bounded = new InPlaceMemoryStore(2);
    const unbounded = new InPlaceMemoryStore();
    for (const store of [bounded, unbounded]) {
      store.set("a", { lastDesired: 1 }, NOON);
      store.set("b", { lastDesired: 2 }, NOON);
      store.set("a", { lastDesired: 3 }, NOON + 1);
      store.set("c", { lastDesired: 4 }, NOON + 2);
    }
    expect([...bounded.keys()]).toEqual(["a", "c"]);
    expect([...unbounded.keys()].sort()).toEqual(["a", "b", "c"]);
  });
});
