import { describe, expect, it } from "vitest";
import type { Decision } from "../../src/policy/decision.ts";
import { decideOnce, empty, NOON, PLAIN, specOf, timeline } from "./helpers.ts";

/**
 * The two optional signals: end-to-end latency P95 (vllm:e2e_request_latency_seconds) and GPU
 * memory pressure (DCGM FB_USED / (FB_USED + FB_FREE)). Each is off until its target is set, and
 * each is a latency-type signal: it says how much only while the queue says whether.
 */

/** Only the queue and the signal under test vote; one replica per waiting request, no headroom. */
const ISOLATED = {
  ...PLAIN,
  queueMode: "perReplica",
  messagesPerReplica: "1",
  targetUtilisation: "1",
  ttftEnabled: "false",
  kvCacheEnabled: "false",
  gpuEnabled: "false",
  tokensEnabled: "false",
};

const verdictOf = (decision: Decision, signal: string) => decision.signals.find((v) => v.signal === signal);

describe("end-to-end latency P95", () => {
  const E2E = { ...ISOLATED, e2eTargetSeconds: "10" };

  it("is off by default", () => {
    const decision = decideOnce(specOf(ISOLATED), {
      queueBacklog: 5,
      replicasReady: 4,
      e2eP95Seconds: 30,
      e2eRequestsPerSecond: 5,
    });
    expect(verdictOf(decision, "e2e")).toMatchObject({ status: "disabled", note: "switched off" });
    expect(decision.desiredReplicas).toBe(5);
  });

  it("asks for ready × P95 / target while the queue asks for more than is ready, bounded by maxStepFactor", () => {
    // P95 15 s against 10 s: 4 ready × 1.5 = 6, above the queue's 5.
    const over = decideOnce(specOf(E2E), {
      queueBacklog: 5,
      replicasReady: 4,
      e2eP95Seconds: 15,
      e2eRequestsPerSecond: 5,
    });
    expect(verdictOf(over, "e2e")).toMatchObject({ status: "voted", demandReplicas: 6 });
    expect(over).toMatchObject({ desiredReplicas: 6, drivingFactor: "e2e" });
    expect(over.summary).toContain("end-to-end P95 15 s vs 10 s target");
    // P95 60 s is 6 × the target, but one decision may ask for at most 2 × the ready replicas.
    const far = decideOnce(specOf(E2E), {
      queueBacklog: 5,
      replicasReady: 4,
      e2eP95Seconds: 60,
      e2eRequestsPerSecond: 5,
    });
    expect(verdictOf(far, "e2e")).toMatchObject({ demandReplicas: 8 });
    expect(verdictOf(far, "e2e")?.note).toContain("step bound ×2");
  });

  it("abstains within its target, over too few requests, and while the queue does not ask for more", () => {
    const within = decideOnce(specOf(E2E), {
      queueBacklog: 5,
      replicasReady: 4,
      e2eP95Seconds: 9,
      e2eRequestsPerSecond: 5,
    });
    expect(verdictOf(within, "e2e")).toMatchObject({ status: "abstained" });
    expect(verdictOf(within, "e2e")?.note).toContain("within the 10 s target");
    const few = decideOnce(specOf(E2E), {
      queueBacklog: 5,
      replicasReady: 4,
      e2eP95Seconds: 30,
      e2eRequestsPerSecond: 0.05,
    });
    expect(verdictOf(few, "e2e")?.note).toContain("too few samples for a P95");
    expect(few.desiredReplicas).toBe(5);
    // Long answers read slow on an idle queue too: nothing waits, so the latency does not scale.
    const idleQueue = decideOnce(specOf(E2E), {
      queueBacklog: 0,
      vllmWaiting: 0,
      replicasReady: 4,
      replicasDesired: 4,
      e2eP95Seconds: 30,
      e2eRequestsPerSecond: 5,
    });
    expect(verdictOf(idleQueue, "e2e")).toMatchObject({ status: "abstained" });
    expect(verdictOf(idleQueue, "e2e")?.note).toContain("over target, but");
    expect(idleQueue.desiredReplicas).toBeLessThanOrEqual(4);
  });

  it("reads a NaN percentile with no finished request as no opinion, which does not hold the answer up", () => {
    const spec = specOf({ ...E2E, failStaticHoldSeconds: "0" });
    const nan = {
      ok: false as const,
      failure: { source: "prometheus" as const, kind: "not_a_number" as const, message: "NaN" },
    };
    const [busy, quiet] = timeline(spec, NOON, [
      {
        afterSeconds: 0,
        readings: { queueBacklog: 6, replicasReady: 6, e2eP95Seconds: 5, e2eRequestsPerSecond: 3 },
      },
      {
        afterSeconds: 15,
        readings: {
          queueBacklog: 0,
          vllmWaiting: 0,
          replicasReady: 6,
          e2eP95Seconds: nan,
          e2eRequestsPerSecond: 0,
        },
      },
    ]);
    expect(busy?.desiredReplicas).toBe(6);
    expect(verdictOf(quiet!, "e2e")).toMatchObject({ status: "abstained" });
    expect(quiet?.desiredReplicas).toBe(0);
  });

  it("reads a NaN percentile while requests do finish as broken data, which never lowers the answer", () => {
    const nan = {
      ok: false as const,
      failure: { source: "prometheus" as const, kind: "not_a_number" as const, message: "NaN" },
    };
    const [, broken] = timeline(specOf({ ...E2E, failStaticHoldSeconds: "0" }), NOON, [
      {
        afterSeconds: 0,
        readings: { queueBacklog: 5, replicasReady: 4, e2eP95Seconds: 15, e2eRequestsPerSecond: 5 },
      },
      {
        afterSeconds: 15,
        readings: {
          queueBacklog: 0,
          vllmWaiting: 0,
          replicasReady: 4,
          e2eP95Seconds: nan,
          e2eRequestsPerSecond: 5,
        },
      },
    ]);
    expect(verdictOf(broken!, "e2e")).toMatchObject({ status: "failed" });
    expect(broken?.desiredReplicas).toBe(6);
  });

  it("a Deployment at zero has no latency to report: empty readings do not keep it awake", () => {
    const decision = decideOnce(specOf(E2E), {
      queueBacklog: 0,
      vllmWaiting: empty(),
      replicasReady: 0,
      replicasDesired: 0,
      e2eP95Seconds: empty(),
      e2eRequestsPerSecond: empty(),
    });
    expect(decision).toMatchObject({ desiredReplicas: 0, active: false });
  });
});

describe("GPU memory pressure", () => {
  const MEMORY = { ...ISOLATED, gpuMemoryTarget: "0.8" };

  it("is off by default", () => {
    const decision = decideOnce(specOf(ISOLATED), {
      queueBacklog: 5,
      replicasReady: 4,
      gpuMemoryUsage: 0.99,
    });
    expect(verdictOf(decision, "gpuMemory")).toMatchObject({ status: "disabled", note: "switched off" });
  });

  it("asks for ready × usage / target above its target while the queue asks for more", () => {
    const decision = decideOnce(specOf({ ...MEMORY, gpuMemoryTarget: "0.5" }), {
      queueBacklog: 5,
      replicasReady: 4,
      gpuMemoryUsage: 0.8,
    });
    // 4 × 0.8 / 0.5 = 6.4 → 7 replicas.
    expect(verdictOf(decision, "gpuMemory")).toMatchObject({ status: "voted" });
    expect(verdictOf(decision, "gpuMemory")?.demandReplicas).toBeCloseTo(6.4, 6);
    expect(decision).toMatchObject({ desiredReplicas: 7, drivingFactor: "gpuMemory" });
    expect(decision.summary).toContain("GPU memory 80 % vs 50 % target");
  });

  it("abstains at or below its target", () => {
    const decision = decideOnce(specOf(MEMORY), { queueBacklog: 5, replicasReady: 4, gpuMemoryUsage: 0.8 });
    expect(verdictOf(decision, "gpuMemory")).toMatchObject({ status: "abstained" });
    expect(verdictOf(decision, "gpuMemory")?.note).toContain("no pressure");
  });

  it("never grows a Deployment on memory alone: vLLM's reserved 90 % reads full at any load", () => {
    // Nothing waits for ten minutes while every GPU reads 0.92 of its framebuffer in use.
    const decisions = timeline(
      specOf({ ...MEMORY, gpuMemoryTarget: "0.85" }),
      NOON,
      Array.from({ length: 40 }, (_, i) => ({
        afterSeconds: i * 15,
        readings: {
          queueBacklog: 0,
          vllmWaiting: 0,
          replicasReady: 3,
          replicasDesired: 3,
          gpuMemoryUsage: 0.92,
        },
      })),
    );
    expect(Math.max(...decisions.map((d) => d.desiredReplicas))).toBeLessThanOrEqual(3);
    expect(decisions.every((d) => verdictOf(d, "gpuMemory")?.status === "abstained")).toBe(true);
  });
});
