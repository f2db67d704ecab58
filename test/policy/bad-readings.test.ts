import { describe, expect, it } from "vitest";
import type { Decision } from "../../src/policy/decision.ts";
import { broken, decideOnce, NOON, ok, PLAIN, specOf, timeline, type Values } from "./helpers.ts";

const verdictOf = (decision: Decision, signal: string) => decision.signals.find((v) => v.signal === signal);
const rulesOf = (decision: Decision | undefined) => decision?.rules.map((r) => r.rule) ?? [];

/** 10 replicas of work: 10 requests waiting at one per replica, ten ready. */
const spec = specOf({
  ...PLAIN,
  queueMode: "perReplica",
  messagesPerReplica: "1",
  targetUtilisation: "1",
  maxReplicas: "50",
});
const busy: Values = { vllmWaiting: 10, vllmRunning: 0, replicasReady: 10, replicasDesired: 10 };

describe("negative readings are bad data: held, never lowering the answer", () => {
  it("a waiting count of −100 keeps 10, and says why", () => {
    const decisions = timeline(spec, NOON, [
      { afterSeconds: 0, readings: busy },
      { afterSeconds: 15, readings: { ...busy, vllmWaiting: -100 } },
    ]);
    expect(decisions[0]?.desiredReplicas).toBe(10);
    expect(decisions[1]).toMatchObject({ available: true, desiredReplicas: 10, active: true });
    expect(verdictOf(decisions[1] as Decision, "queue")?.status).toBe("held");
    expect(decisions[1]?.rules.find((r) => r.rule === "bad-reading")?.note).toContain(
      "vllmWaiting is -100, and requests are never negative",
    );
  });

  it("every signal at −5 keeps 10 (held, then the every-signal-down hold)", () => {
    const allNegative: Values = {
      queueBacklog: -5,
      vllmWaiting: -5,
      vllmRunning: -5,
      ttftP95Seconds: -5,
      ttftRequestsPerSecond: -5,
      kvCacheUsage: -5,
      gpuUtilisation: -5,
      tokensPerSecondPerPod: -5,
      replicasReady: -5,
      replicasDesired: -5,
      replicasUnavailable: -5,
    };
    const decisions = timeline(spec, NOON, [
      { afterSeconds: 0, readings: { ...busy, queueBacklog: 0 } },
      { afterSeconds: 15, readings: allNegative },
      { afterSeconds: 200, readings: allNegative },
    ]);
    expect(decisions.map((d) => d.desiredReplicas)).toEqual([10, 10, 10]);
    expect(rulesOf(decisions[2])).toContain("fail-static-hold");
  });

  it("a negative reading with nothing to hold never answers zero", () => {
    const decision = decideOnce(specOf({ minReplicas: "0" }), { queueBacklog: -3 });
    expect(decision).toMatchObject({ available: false, active: false });
    expect(verdictOf(decision, "queue")?.note).toContain("serviceBus impossible");
  });
});

describe("NaN and ±Inf reach the every-signal-down rule", () => {
  const everySignal = (value: number): Values => ({
    queueBacklog: value,
    vllmWaiting: value,
    vllmRunning: value,
    ttftP95Seconds: value,
    ttftRequestsPerSecond: value,
    kvCacheUsage: value,
    gpuUtilisation: value,
    tokensPerSecondPerPod: value,
  });
  const withFallback = specOf({
    ...PLAIN,
    queueMode: "perReplica",
    messagesPerReplica: "1",
    targetUtilisation: "1",
    failStaticHoldSeconds: "60",
    unavailableAfterSeconds: "300",
  });
  /** Four waiting at one per replica; the other signals see little. */
  const working: Values = {
    queueBacklog: 4,
    vllmWaiting: 0,
    vllmRunning: 0,
    ttftP95Seconds: 1,
    ttftRequestsPerSecond: 1,
    kvCacheUsage: 0.1,
    gpuUtilisation: 0.1,
    tokensPerSecondPerPod: 100,
    replicasReady: 4,
  };

  for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
    it(`${value} from every signal: holds for unavailableAfterSeconds, then UNAVAILABLE for KEDA's fallback`, () => {
      const decisions = timeline(withFallback, NOON, [
        { afterSeconds: 0, readings: working },
        { afterSeconds: 120, readings: { ...everySignal(value), replicasReady: 4 } },
        { afterSeconds: 300, readings: { ...everySignal(value), replicasReady: 4 } },
        { afterSeconds: 301, readings: { ...everySignal(value), replicasReady: 4 } },
      ]);
      expect(decisions.map((d) => [d.available, d.desiredReplicas])).toEqual([
        [true, 4],
        [true, 4],
        [true, 4],
        [false, 4],
      ]);
      expect(rulesOf(decisions[1])).toContain("fail-static-hold");
      expect(decisions[3]?.summary).toContain("more than unavailableAfterSeconds 300");
    });

  it("a TTFT P95 of NaN is 'no samples' only when the request rate says there were none", () => {
    const nanP95 = broken("histogram_quantile returned NaN", "not_a_number");
    const quiet = decideOnce(withFallback, {
      ttftP95Seconds: nanP95,
      ttftRequestsPerSecond: 0,
      replicasReady: 2,
    });
    expect(verdictOf(quiet, "ttft")?.status).toBe("abstained");
    const busyButNaN = decideOnce(withFallback, {
      ttftP95Seconds: nanP95,
      ttftRequestsPerSecond: 5,
      replicasReady: 2,
    });
    expect(verdictOf(busyButNaN, "ttft")?.status).toBe("failed");
    const rateNaN = decideOnce(withFallback, {
      ttftP95Seconds: nanP95,
      ttftRequestsPerSecond: broken("NaN", "not_a_number"),
      replicasReady: 2,
    });
    expect(verdictOf(rateNaN, "ttft")?.status).toBe("failed");
  });
});

describe("an ok reading older than maxReadingAgeSeconds is stale in the engine too", () => {
  const twenty = specOf({
    ...PLAIN,
    queueMode: "perReplica",
    messagesPerReplica: "1",
    targetUtilisation: "1",
    maxReplicas: "50",
  });

  it("a 600 s old zero does not take the answer from 20 to 0", () => {
    const decisions = timeline(twenty, NOON, [
      { afterSeconds: 0, readings: { queueBacklog: 20 } },
      { afterSeconds: 15, readings: { queueBacklog: ok(0, NOON + 15_000 - 600_000) } },
    ]);
    expect(decisions[1]).toMatchObject({ available: true, desiredReplicas: 20, active: true });
    expect(verdictOf(decisions[1] as Decision, "queue")?.note).toContain("serviceBus stale");
    expect(decisions[1]?.rules.find((r) => r.rule === "bad-reading")?.note).toContain(
      "queueBacklog was observed 600 s ago, more than maxReadingAgeSeconds 300",
    );
  });

  it("uses a reading up to maxReadingAgeSeconds old", () => {
    const lenient = specOf({
      ...PLAIN,
      queueMode: "perReplica",
      messagesPerReplica: "1",
      targetUtilisation: "1",
      maxReadingAgeSeconds: "900",
    });
    const decision = decideOnce(lenient, { queueBacklog: ok(3, NOON - 600_000) });
    expect(decision).toMatchObject({ desiredReplicas: 3, drivingFactor: "queue" });
  });
});
