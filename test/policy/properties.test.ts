import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ScalerSpec } from "../../src/config/spec.ts";
import { decide, type PolicyMemory } from "../../src/policy/decide.ts";
import type { SignalReadings } from "../../src/readings/signal-table.ts";
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
    }),
  );

/** The other signals, each either absent, a value, or (where asked) a failure. */
function otherReadingsArb(withFailures: boolean) {
  const maybe = (value: fc.Arbitrary<number>) =>
    withFailures
      ? fc.option(
          fc.oneof(
            value.map((v) => ({ v })),
            fc.constant("fail" as const),
          ),
          { nil: undefined },
        )
      : fc.option(
          value.map((v) => ({ v })),
          { nil: undefined },
        );
  return fc.record({
    ttftP95Seconds: maybe(fc.double({ min: 0, max: 30, noNaN: true })),
    ttftRequestsPerSecond: maybe(fc.double({ min: 0, max: 50, noNaN: true })),
    kvCacheUsage: maybe(fc.double({ min: 0, max: 1, noNaN: true })),
    gpuUtilisation: maybe(fc.double({ min: 0, max: 1, noNaN: true })),
    tokensPerSecondPerPod: maybe(fc.double({ min: 0, max: 3000, noNaN: true })),
    vllmRunning: maybe(fc.integer({ min: 0, max: 64 })),
    replicasReady: maybe(fc.integer({ min: 0, max: 40 })),
    replicasDesired: maybe(fc.integer({ min: 0, max: 40 })),
    replicasUnavailable: maybe(fc.integer({ min: 0, max: 10 })),
  });
}

type Other = Record<string, { v: number } | "fail" | undefined>;

function readingsFrom(other: Other, backlog: number | "fail" | undefined, nowMs: number): SignalReadings {
  const readings: Record<string, ReturnType<typeof ok>> = {};
  for (const [key, value] of Object.entries(other)) {
    if (value === undefined) continue;
    readings[key] = value === "fail" ? broken() : ok(value.v, nowMs);
  }
  if (backlog !== undefined) readings.queueBacklog = backlog === "fail" ? broken() : ok(backlog, nowMs);
  return readings as SignalReadings;
}

/** A memory as the server would hold it after one earlier poll. */
function memoryAfter(spec: ScalerSpec, other: Other, backlog: number): PolicyMemory {
  return decide(spec, readingsFrom(other, backlog, NOON - 15_000), NOON - 15_000).memory;
}

/** 300 runs keep the suite quick; POLICY_PROPERTY_RUNS=5000 searches harder. */
const RUNS = { numRuns: Number(process.env.POLICY_PROPERTY_RUNS ?? 300) };

describe("decision properties", () => {
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

  it("while replicas are starting, only the queue can raise the answer above what is already asked for", () => {
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
          const queueWants = Math.ceil(backlog / 10 / spec.headroom.targetUtilisation - 1e-9);
          expect(decision.desiredReplicas).toBeLessThanOrEqual(Math.max(asked, queueWants));
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
