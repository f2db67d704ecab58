import { describe, expect, it } from "vitest";
import type { Decision } from "../../src/policy/decision.ts";
import { decideOnce, NOON, PLAIN, specOf, timeline } from "./helpers.ts";

const verdictOf = (decision: Decision, signal: string) => decision.signals.find((v) => v.signal === signal);

describe("requests running on a live replica", () => {
  const dev = specOf({ minReplicas: "0", maxReplicas: "4" });

  it("keep it active and count as demand, with nothing waiting and the inflow 0 or unknown", () => {
    for (const inflow of [{ ttftRequestsPerSecond: 0 }, {}]) {
      const decision = decideOnce(dev, {
        vllmRunning: 100,
        vllmWaiting: 0,
        queueBacklog: 0,
        replicasReady: 1,
        replicasDesired: 1,
        ...inflow,
      });
      // 100 running / 256 per replica = 0.39 replicas of load → 1 with the 70 % headroom.
      expect(decision).toMatchObject({ desiredReplicas: 1, metricValue: 1, active: true });
      expect(decision.drivingFactor).toBe("concurrency");
      expect(verdictOf(decision, "concurrency")?.note).toContain(
        "(100 running + 0 waiting) / 256 per replica",
      );
    }
  });

  it("size the Deployment by running plus waiting over maxConcurrencyPerReplica", () => {
    const decision = decideOnce(specOf({ ...PLAIN, maxConcurrencyPerReplica: "64", maxReplicas: "20" }), {
      vllmRunning: 300,
      vllmWaiting: 100,
      replicasReady: 5,
      replicasDesired: 5,
    });
    // (300 + 100) / 64 = 6.25 replicas of load; 6.25 / 0.7 = 8.9 → 9.
    expect(decision.loadReplicas).toBeCloseTo(6.25);
    expect(decision).toMatchObject({ desiredReplicas: 9, drivingFactor: "concurrency" });
  });

  it("let the workload go to zero once nothing waits, runs or arrives", () => {
    const decisions = timeline(dev, NOON, [
      {
        afterSeconds: 0,
        readings: { vllmRunning: 100, vllmWaiting: 0, replicasReady: 1, replicasDesired: 1 },
      },
      {
        afterSeconds: 60,
        readings: {
          vllmRunning: 0,
          vllmWaiting: 0,
          ttftRequestsPerSecond: 0,
          replicasReady: 1,
          replicasDesired: 1,
        },
      },
    ]);
    expect(decisions[0]).toMatchObject({ metricValue: 1, active: true });
    expect(decisions[1]).toMatchObject({ desiredReplicas: 0, metricValue: 0, active: false });
  });
});

describe("per-signal activation thresholds", () => {
  /** A running dev Deployment whose only demand is the KV cache (nothing waits, runs or arrives). */
  const kvOnly = (kvCacheUsage: number) => ({
    kvCacheUsage,
    vllmRunning: 0,
    vllmWaiting: 0,
    queueBacklog: 0,
    ttftRequestsPerSecond: 0,
    replicasReady: 1,
    replicasDesired: 1,
  });
  const metadata = { minReplicas: "0", utilisationSmoothingSeconds: "0" };

  it("without one, any KV-cache demand keeps the target active", () => {
    expect(decideOnce(specOf(metadata), kvOnly(0.3))).toMatchObject({ metricValue: 1, active: true });
  });

  it("KV-cache at or below activationKvCacheUsage is no reason to stay active; above it is", () => {
    const spec = specOf({ ...metadata, activationKvCacheUsage: "0.6" });
    const quiet = decideOnce(spec, kvOnly(0.5));
    expect(quiet).toMatchObject({ metricValue: 0, active: false });
    expect(quiet.rules.find((r) => r.rule === "activation")?.note).toContain("KV-cache above 0.6");
    expect(decideOnce(spec, kvOnly(0.65))).toMatchObject({ active: true });
  });

  it("GPU busy time alone, GPU_UTIL or GR_ENGINE_ACTIVE, is no reason to stay active (it is a guardrail)", () => {
    for (const gpuMetric of ["util", "grEngineActive"]) {
      const gpuOnly = { ...kvOnly(0), kvCacheUsage: undefined, gpuUtilisation: 0.95 };
      expect(decideOnce(specOf({ ...metadata, gpuMetric }), gpuOnly)).toMatchObject({
        metricValue: 0,
        active: false,
      });
    }
  });

  it("tokens/s at or below activationTokensPerSecond is no reason to stay active", () => {
    // One request waits (at activationBacklog 2, not enough to wake), throughput under the 500 floor.
    const spec = specOf({ minReplicas: "0", activationBacklog: "2", latencyGate: "backlog" });
    const readings = (tokens: number) => ({
      tokensPerSecondPerPod: tokens,
      vllmWaiting: 1,
      replicasReady: 1,
      replicasDesired: 1,
    });
    expect(decideOnce(spec, readings(300))).toMatchObject({ active: true });
    const thresholded = specOf({
      minReplicas: "0",
      activationBacklog: "2",
      latencyGate: "backlog",
      activationTokensPerSecond: "400",
    });
    expect(decideOnce(thresholded, readings(300))).toMatchObject({ metricValue: 0, active: false });
    expect(decideOnce(thresholded, readings(450))).toMatchObject({ active: true });
  });

  it("KV-cache at or below activationKvCacheUsage is no reason to stay active", () => {
    const readings = {
      kvCacheUsage: 0.2,
      queueBacklog: 0,
      vllmRunning: 0,
      replicasReady: 1,
      replicasDesired: 1,
    };
    const base = { minReplicas: "0", utilisationSmoothingSeconds: "0" };
    expect(decideOnce(specOf(base), readings)).toMatchObject({ active: true });
    expect(decideOnce(specOf({ ...base, activationKvCacheUsage: "0.5" }), readings)).toMatchObject({
      metricValue: 0,
      active: false,
    });
  });

  it("never silence requests that run: work in flight keeps the target active whatever the thresholds", () => {
    const spec = specOf({ ...metadata, activationKvCacheUsage: "0.9", activationTokensPerSecond: "400" });
    expect(decideOnce(spec, { ...kvOnly(0.1), vllmRunning: 3, tokensPerSecondPerPod: 50 })).toMatchObject({
      metricValue: 1,
      active: true,
    });
  });
});
