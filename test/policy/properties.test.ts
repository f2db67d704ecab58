import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ScalerSpec } from "../../src/config/spec.ts";
import { decide, type PolicyMemory } from "../../src/policy/decide.ts";
import type { Decision } from "../../src/policy/decision.ts";
import type { Reading } from "../../src/readings/reading.ts";
import { SIGNAL_KEYS, type SignalReadings } from "../../src/readings/signal-table.ts";
import { broken, NOON, ok, specOf } from "./helpers.ts";

/** Random but valid per-ScaledObject metadata: the knobs that shape the answer. */
const metadataArb = fc
  .record({
    queueMode: fc.constantFrom("drain", "perReplica"),
    messagesPerReplica: fc.integer({ min: 1, max: 20 }),
    requestsPerSecondPerReplica: fc.double({ min: 0.1, max: 10, noNaN: true }),
    targetUtilisation: fc.double({ min: 0.3, max: 1, noNaN: true }),
    minReplicas: fc.integer({ min: 0, max: 3 }),
    maxReplicas: fc.integer({ min: 3, max: 60 }),
    scaleDownBand: fc.constantFrom(0, 0.1, 0.2),
    activationBacklog: fc.integer({ min: 0, max: 3 }),
    warm: fc.boolean(),
    optionalSignals: fc.boolean(),
    tokenRates: fc.boolean(),
  })
  .map(
    (m): Record<string, string> => ({
      queueMode: m.queueMode,
      messagesPerReplica: String(m.messagesPerReplica),
      requestsPerSecondPerReplica: String(m.requestsPerSecondPerReplica),
      targetUtilisation: String(m.targetUtilisation),
      minReplicas: String(m.minReplicas),
      maxReplicas: String(m.maxReplicas),
      scaleDownBand: String(m.scaleDownBand),
      activationBacklog: String(m.activationBacklog),
      ...(m.warm ? { warmFloorSchedule: "UTC daily 06:00-18:00", warmFloorReplicas: "2" } : {}),
      ...(m.optionalSignals ? { e2eTargetSeconds: "20", gpuMemoryTarget: "0.8" } : {}),
      // Learned capacity from the traffic's tokens per request (it rises only on calm polls).
      ...(m.tokenRates
        ? { prefillTokensPerSecondPerReplica: "10000", decodeTokensPerSecondPerReplica: "2000" }
        : {}),
    }),
  );

/**
 * The other signals, each absent or a value; with "fail" some may be failed sources, with "bad"
 * also values no source can truly have (negative, NaN, ±Inf) or stale ones.
 */
function otherReadingsArb(withFailures: boolean | "bad") {
  const maybe = (value: fc.Arbitrary<number>): fc.Arbitrary<Given | undefined> => {
    const good = value.map((v): Given => ({ v }));
    if (withFailures === false) return fc.option(good, { nil: undefined });
    const fail = fc.constant("fail" as const);
    return fc.option(withFailures === "bad" ? fc.oneof(good, fail, badArb) : fc.oneof(good, fail), {
      nil: undefined,
    });
  };
  return fc.record({
    ttftP95Seconds: maybe(fc.double({ min: 0, max: 30, noNaN: true })),
    ttftRequestsPerSecond: maybe(fc.double({ min: 0, max: 50, noNaN: true })),
    kvCacheUsage: maybe(fc.double({ min: 0, max: 1, noNaN: true })),
    gpuUtilisation: maybe(fc.double({ min: 0, max: 1, noNaN: true })),
    tokensPerSecondPerPod: maybe(fc.double({ min: 0, max: 3000, noNaN: true })),
    promptTokensPerSecond: maybe(fc.double({ min: 0, max: 200_000, noNaN: true })),
    generationTokensPerSecond: maybe(fc.double({ min: 0, max: 20_000, noNaN: true })),
    e2eP95Seconds: maybe(fc.double({ min: 0, max: 120, noNaN: true })),
    e2eRequestsPerSecond: maybe(fc.double({ min: 0, max: 50, noNaN: true })),
    gpuMemoryUsage: maybe(fc.double({ min: 0, max: 1, noNaN: true })),
    vllmRunning: maybe(fc.integer({ min: 0, max: 64 })),
    replicasReady: maybe(fc.integer({ min: 0, max: 40 })),
    replicasDesired: maybe(fc.integer({ min: 0, max: 40 })),
    replicasUnavailable: maybe(fc.integer({ min: 0, max: 10 })),
  });
}

/**
 * A reading as the properties describe it: a good value, a failed source, a value no source can
 * truly have (negative, NaN, ±Inf), or a good-looking value observed `staleBySeconds` longer ago
 * than maxReadingAgeSeconds allows.
 */
type Given = { v: number } | "fail" | { bad: number } | { staleBySeconds: number };
type Other = Record<string, Given | undefined>;

/** maxReadingAgeSeconds's default: metadataArb leaves it alone. */
const MAX_AGE_MS = 300_000;

function readingOf(given: Given, nowMs: number): Reading {
  if (given === "fail") return broken();
  if ("v" in given) return ok(given.v, nowMs);
  if ("bad" in given) return ok(given.bad, nowMs);
  return ok(1, nowMs - MAX_AGE_MS - given.staleBySeconds * 1000);
}

function readingsFrom(other: Other, backlog: number | Given | undefined, nowMs: number): SignalReadings {
  const readings: Record<string, Reading> = {};
  for (const [key, value] of Object.entries(other))
    if (value !== undefined) readings[key] = readingOf(value, nowMs);
  if (backlog !== undefined)
    readings.queueBacklog = readingOf(typeof backlog === "number" ? { v: backlog } : backlog, nowMs);
  return readings as SignalReadings;
}

/** Bad data of every kind the engine must hold instead of believing. */
const badArb: fc.Arbitrary<Given> = fc.oneof(
  fc.double({ min: -1e6, max: -1e-9, noNaN: true }).map((bad) => ({ bad })),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY).map((bad) => ({ bad })),
  fc.integer({ min: 1, max: 3600 }).map((staleBySeconds) => ({ staleBySeconds })),
);

/** Every reading of `other` (and the backlog) replaced by bad data. */
function allBadArb(): fc.Arbitrary<Record<string, Given>> {
  return fc.record(Object.fromEntries(SIGNAL_KEYS.map((key) => [key, badArb])));
}

/** A memory as the server would hold it after one earlier poll. */
function memoryAfter(spec: ScalerSpec, other: Other, backlog: number): PolicyMemory {
  return decide(spec, readingsFrom(other, backlog, NOON - 15_000), NOON - 15_000).memory;
}

/** 300 runs keep the suite quick; POLICY_PROPERTY_RUNS=5000 searches harder. */
const RUNS = { numRuns: Number(process.env.POLICY_PROPERTY_RUNS ?? 300) };

/**
 * decide() is a function of its inputs only: the same properties hold whatever the host's clock
 * says (luxon, for one, reads it when it resolves a local time). The suite runs under the real
 * clock and under a host clock faked to summer and to winter time in the northern hemisphere.
 */
const HOST_CLOCKS = [
  ["the host's own clock", undefined],
  ["a host clock faked to July", "2026-07-15T09:30:00Z"],
  ["a host clock faked to November", "2026-11-15T21:30:00Z"],
] as const;

describe.each(HOST_CLOCKS)("decision properties under %s", (_clock, fakeNow) => {
  beforeAll(() => {
    if (fakeNow === undefined) return;
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(fakeNow));
  });
  afterAll(() => {
    vi.useRealTimers();
  });

  it("more backlog never gives fewer replicas (same everything else, same memory)", () => {
    fc.assert(
      fc.property(
        metadataArb,
        otherReadingsArb(false),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 5000 }),
        (metadata, other, a, b, earlier) => {
          const spec = specOf(metadata);
          const memory = memoryAfter(spec, other, earlier);
          const [low, high] = a <= b ? [a, b] : [b, a];
          const lowDecision = decide(spec, readingsFrom(other, low, NOON), NOON, memory).decision;
          const highDecision = decide(spec, readingsFrom(other, high, NOON), NOON, memory).decision;
          expect(highDecision.desiredReplicas).toBeGreaterThanOrEqual(lowDecision.desiredReplicas);
          expect(highDecision.metricValue).toBeGreaterThanOrEqual(lowDecision.metricValue);
        },
      ),
      RUNS,
    );
  });

  it("never below the floor or minReplicas, never above maxReplicas; IsActive agrees with the value", () => {
    fc.assert(
      fc.property(
        metadataArb,
        otherReadingsArb(true),
        fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 24 * 3600 }),
        (metadata, other, backlog, earlier, secondOfDay) => {
          const spec = specOf(metadata);
          const nowMs = Date.parse("2026-11-23T00:00:00Z") + secondOfDay * 1000;
          const memory = decide(spec, readingsFrom(other, earlier, nowMs - 15_000), nowMs - 15_000).memory;
          const decision = decide(spec, readingsFrom(other, backlog, nowMs), nowMs, memory).decision;
          expect(Number.isInteger(decision.metricValue)).toBe(true);
          expect(decision.metricValue).toBeGreaterThanOrEqual(0);
          expect(decision.active).toBe(decision.metricValue > 0);
          if (!decision.available) return;
          expect(decision.desiredReplicas).toBeLessThanOrEqual(spec.target.maxReplicas);
          expect(decision.metricValue).toBeLessThanOrEqual(spec.target.maxReplicas);
          expect(decision.desiredReplicas).toBeGreaterThanOrEqual(
            Math.min(spec.target.maxReplicas, Math.max(decision.floorReplicas, spec.target.minReplicas)),
          );
        },
      ),
      RUNS,
    );
  });

  it("missing data never lowers the answer and never scales to zero: it holds, then answers UNAVAILABLE", () => {
    fc.assert(
      fc.property(
        metadataArb,
        otherReadingsArb(false),
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 120 }), otherReadingsArb(true)), {
          minLength: 1,
          maxLength: 12,
        }),
        (metadata, other, backlog, outage) => {
          const spec = specOf(metadata);
          let { decision, memory } = decide(spec, readingsFrom(other, backlog, NOON), NOON);
          fc.pre(decision.available && decision.metricValue > 0);
          const before = decision.desiredReplicas;
          let nowMs = NOON;
          for (const [afterSeconds, during] of outage) {
            nowMs += afterSeconds * 1000;
            ({ decision, memory } = decide(spec, readingsFrom(during, "fail", nowMs), nowMs, memory));
            if (!decision.available) continue;
            expect(decision.desiredReplicas).toBeGreaterThanOrEqual(before);
            expect(decision.metricValue).toBeGreaterThan(0);
            expect(decision.active).toBe(true);
          }
        },
      ),
      RUNS,
    );
  });

  it("bad data (negative, NaN, ±Inf, stale) never lowers the answer and never scales to zero: it holds, then answers UNAVAILABLE", () => {
    fc.assert(
      fc.property(
        metadataArb,
        otherReadingsArb(false),
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 120 }), otherReadingsArb("bad"), badArb), {
          minLength: 1,
          maxLength: 12,
        }),
        (metadata, other, backlog, outage) => {
          const spec = specOf(metadata);
          let { decision, memory } = decide(spec, readingsFrom(other, backlog, NOON), NOON);
          fc.pre(decision.available && decision.metricValue > 0);
          const before = decision.desiredReplicas;
          let nowMs = NOON;
          for (const [afterSeconds, during, badBacklog] of outage) {
            nowMs += afterSeconds * 1000;
            ({ decision, memory } = decide(spec, readingsFrom(during, badBacklog, nowMs), nowMs, memory));
            if (!decision.available) continue;
            expect(decision.desiredReplicas).toBeGreaterThanOrEqual(before);
            expect(decision.metricValue).toBeGreaterThan(0);
            expect(decision.active).toBe(true);
          }
        },
      ),
      RUNS,
    );
  });

  it("a decision made without words has every figure, rule and memory of the one made with them", () => {
    const history = fc.record({
      leadTimeObserved: fc.option(fc.integer({ min: 60, max: 3000 }), { nil: undefined }),
      inflowDayAgo: fc.option(fc.double({ min: 0, max: 50, noNaN: true }), { nil: undefined }),
      inflowPeakAheadDayAgo: fc.option(fc.double({ min: 0, max: 80, noNaN: true }), { nil: undefined }),
    });
    /** Everything but the verdicts' notes and the summary: what may not depend on the words. */
    const figures = (decision: Decision) => ({
      ...decision,
      signals: decision.signals.map(({ note: _note, ...verdict }) => verdict),
      summary: undefined,
    });
    let unavailable = 0;
    fc.assert(
      fc.property(
        metadataArb,
        fc.boolean(),
        fc.array(
          fc.tuple(
            fc.integer({ min: 1, max: 120 }),
            otherReadingsArb("bad"),
            fc.oneof(fc.integer({ min: 0, max: 5000 }), badArb),
            history,
          ),
          {
            minLength: 1,
            maxLength: 10,
          },
        ),
        (metadata, measured, timeline) => {
          const spec = specOf({ ...metadata, leadTimeMeasured: String(measured) });
          let memory: PolicyMemory | undefined;
          let nowMs = NOON;
          for (const [afterSeconds, other, backlog, past] of timeline) {
            nowMs += afterSeconds * 1000;
            const readings = readingsFrom(other, backlog, nowMs) as Record<string, Reading>;
            for (const [key, value] of Object.entries(past))
              if (value !== undefined) readings[key] = ok(value, nowMs - 60_000);
            const worded = decide(spec, readings as SignalReadings, nowMs, memory);
            const bare = decide(spec, readings as SignalReadings, nowMs, memory, { words: false });
            expect(figures(bare.decision)).toEqual(figures(worded.decision));
            expect(bare.memory).toEqual(worded.memory);
            if (worded.decision.available) {
              expect(worded.decision.summary).not.toBe("");
              expect(bare.decision.summary).toBe("");
            } else {
              unavailable++;
              expect(bare.decision.summary).toBe(worded.decision.summary);
            }
            for (const [i, verdict] of bare.decision.signals.entries())
              if (verdict.status === "failed") expect(verdict.note).toBe(worded.decision.signals[i]?.note);
            memory = worded.memory;
          }
        },
      ),
      RUNS,
    );
    // The unavailable branch ran: its summary is the error KEDA is sent.
    expect(unavailable).toBeGreaterThan(0);
  });

  it("bad data from every signal reaches the every-signal-down rule: held up to unavailableAfterSeconds, then UNAVAILABLE", () => {
    fc.assert(
      fc.property(
        metadataArb,
        otherReadingsArb(false),
        fc.integer({ min: 0, max: 5000 }),
        allBadArb(),
        fc.integer({ min: 1, max: 900 }),
        (metadata, other, backlog, bad, afterSeconds) => {
          const spec = specOf(metadata);
          const first = decide(spec, readingsFrom(other, backlog, NOON), NOON);
          fc.pre(first.decision.available);
          const present = Object.entries(other as Other)
            .filter(([, given]) => given !== undefined)
            .map(([key]) => key);
          const during: Other = Object.fromEntries(present.map((key) => [key, bad[key]]));
          const nowMs = NOON + afterSeconds * 1000;
          const { decision } = decide(
            spec,
            readingsFrom(during, bad.queueBacklog, nowMs),
            nowMs,
            first.memory,
          );
          if (afterSeconds > spec.failStatic.unavailableAfterSeconds) {
            expect(decision.available).toBe(false);
            expect(decision.summary).toContain("unavailableAfterSeconds");
          } else {
            expect(decision.available).toBe(true);
            expect(decision.desiredReplicas).toBeGreaterThanOrEqual(first.decision.desiredReplicas);
          }
        },
      ),
      RUNS,
    );
  });

  it("while replicas are starting, only absolute counts (the queue, requests in flight) raise the answer above what is already asked for", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 2000 }),
        otherReadingsArb(false),
        (ready, starting, backlog, other) => {
          const spec = specOf({ queueMode: "perReplica", messagesPerReplica: "10", maxReplicas: "100" });
          const asked = ready + starting;
          const overloaded: Other = {
            ...other,
            replicasReady: { v: ready },
            replicasDesired: { v: asked },
            replicasUnavailable: { v: starting },
          };
          const { decision } = decide(spec, readingsFrom(overloaded, backlog, NOON), NOON, {
            lastDesired: asked,
          });
          const wants = (signal: string) =>
            Math.ceil(
              (decision.signals.find((v) => v.signal === signal)?.demandReplicas ?? 0) /
                spec.headroom.targetUtilisation -
                1e-9,
            );
          expect(decision.desiredReplicas).toBeLessThanOrEqual(
            Math.max(asked, wants("queue"), wants("concurrency")),
          );
        },
      ),
      RUNS,
    );
  });

  it("busy-time GPU at any level never grows a Deployment the queue does not ask to grow (no ratchet)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 40, noNaN: true }),
        fc.integer({ min: 0, max: 200 }),
        (ready, gpu, inflow, backlog) => {
          const spec = specOf({ maxReplicas: "100", kvCacheEnabled: "false", ttftEnabled: "true" });
          const readings: Other = {
            gpuUtilisation: { v: gpu },
            ttftRequestsPerSecond: { v: inflow },
            replicasReady: { v: ready },
            replicasDesired: { v: ready },
            vllmRunning: { v: 1 },
          };
          const { decision } = decide(spec, readingsFrom(readings, backlog, NOON), NOON);
          const queue = decision.signals.find((v) => v.signal === "queue")?.demandReplicas ?? 0;
          const queueWants = Math.ceil(queue / spec.headroom.targetUtilisation - 1e-9);
          if (queueWants <= ready) expect(decision.desiredReplicas).toBeLessThanOrEqual(ready);
        },
      ),
      RUNS,
    );
  });
});

describe("a decision does not depend on the host's clock", () => {
  afterAll(() => {
    vi.useRealTimers();
  });

  /** Instants around the 2026 DST changes of the zones below, where an ambiguous or skipped local time occurs. */
  const CHANGES = [
    "2026-03-08T07:00:00Z",
    "2026-11-01T06:00:00Z",
    "2026-03-29T01:00:00Z",
    "2026-10-25T01:00:00Z",
    "2026-04-04T16:00:00Z",
    "2026-10-03T16:00:00Z",
  ].map(Date.parse);
  const scheduleArb = fc.constantFrom(
    "America/New_York Sun 01:30-03:00",
    "America/New_York daily 00:30-01:45",
    "Europe/London Sun 00:30-02:30",
    "Europe/London daily 01:15-09:00",
    "Australia/Sydney Sun 02:30-04:00",
    "Australia/Sydney daily 01:45-02:15",
    "Asia/Kolkata Mon-Fri 09:00-17:30",
  );

  /** The decision as JSON, with the host clock faked to `hostIso` while the spec is parsed and decided. */
  function decidedUnder(
    hostIso: string,
    metadata: Record<string, string>,
    other: Other,
    backlog: number,
    nowMs: number,
  ) {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(hostIso));
    try {
      const spec = specOf(metadata);
      return JSON.stringify(decide(spec, readingsFrom(other, backlog, nowMs), nowMs));
    } finally {
      vi.useRealTimers();
    }
  }

  it("gives the same answer with the host clock in July and in November, across DST changes", () => {
    fc.assert(
      fc.property(
        metadataArb,
        scheduleArb,
        fc.constantFrom(...CHANGES),
        fc.integer({ min: -6 * 60, max: 6 * 60 }),
        otherReadingsArb(true),
        fc.integer({ min: 0, max: 500 }),
        (metadata, schedule, change, minutes, other, backlog) => {
          const withSchedule = { ...metadata, warmFloorSchedule: schedule, warmFloorPrewarmMinutes: "0" };
          const nowMs = change + minutes * 60_000;
          expect(decidedUnder("2026-07-15T09:30:00Z", withSchedule, other, backlog, nowMs)).toBe(
            decidedUnder("2026-11-15T21:30:00Z", withSchedule, other, backlog, nowMs),
          );
        },
      ),
      RUNS,
    );
  });
});
