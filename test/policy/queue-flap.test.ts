import { describe, expect, it } from "vitest";
import type { Decision } from "../../src/policy/decision.ts";
import { broken, NOON, specOf, timeline, type Values } from "./helpers.ts";

const verdictOf = (decision: Decision, signal: string) => decision.signals.find((s) => s.signal === signal);

/**
 * Readings of a quiet hour behind Service Bus, as the simulator replays the NASA trace: two ready
 * replicas carrying 1.4–1.7 replicas of load (at the realtime example's 2 req/s per replica), a
 * handful of messages active (in flight or not yet pulled), nothing waiting inside vLLM, and each
 * pod decoding ~300 tok/s, under the 500 tok/s floor because it has little to do.
 */
const quietHour: readonly Values[] = [
  { rate: 2.51, backlog: 13.5, tokens: 290 },
  { rate: 2.87, backlog: 9.6, tokens: 300 },
  { rate: 3.15, backlog: 12.8, tokens: 333 },
  { rate: 3.38, backlog: 12.5, tokens: 349 },
  { rate: 3.48, backlog: 9.9, tokens: 365 },
  { rate: 3.58, backlog: 6.8, tokens: 364 },
].map(({ rate, backlog, tokens }) => ({
  queueBacklog: backlog,
  vllmWaiting: 0,
  vllmRunning: 0,
  ttftRequestsPerSecond: rate,
  ttftP95Seconds: 0.35,
  tokensPerSecondPerPod: tokens,
  gpuUtilisation: 0.75,
  kvCacheUsage: 0.01,
  replicasDesired: 2,
  replicasReady: 2,
  replicasUnavailable: 0,
}));

describe("queue-flap: light load behind Service Bus", () => {
  it("asks for what the queue asks, not ready × floor ÷ tokens/s, when nothing waits inside vLLM", () => {
    const decisions = timeline(
      specOf(),
      NOON,
      quietHour.map((readings, i) => ({ afterSeconds: 15 * i, readings })),
    );
    // The queue asks for ceil((3.58 + 6.8 / 60) / 2 / 0.7) = 3 at most; the throughput rule used
    // to answer 2 ready × 500 / 300 = 3.3 replicas of load → 5, which the queue gave back once the
    // new replicas were ready: three pods up and three down on every such minute.
    for (const decision of decisions) {
      expect(decision.desiredReplicas).toBeLessThanOrEqual(3);
      expect(decision.drivingFactor).not.toBe("tokens");
      expect(verdictOf(decision, "tokens")).toMatchObject({ status: "abstained" });
    }
    expect(decisions.at(-1)?.desiredReplicas).toBe(3);
  });

  it("still lets throughput say how many when requests wait inside vLLM", () => {
    const saturated = quietHour.map((readings) => ({ ...readings, vllmWaiting: 12 }));
    const decisions = timeline(
      specOf(),
      NOON,
      saturated.map((readings, i) => ({ afterSeconds: 15 * i, readings })),
    );
    expect(decisions.some((d) => d.drivingFactor === "tokens")).toBe(true);
    expect(Math.max(...decisions.map((d) => d.desiredReplicas))).toBeGreaterThan(3);
  });

  it("an unreadable vLLM waiting count leaves the gate alone deciding: missing data never lowers the answer", () => {
    const unknown = quietHour.map((readings) => ({ ...readings, vllmWaiting: broken() }));
    const known = timeline(
      specOf(),
      NOON,
      quietHour.map((readings, i) => ({ afterSeconds: 15 * i, readings: { ...readings, vllmWaiting: 12 } })),
    );
    const decisions = timeline(
      specOf(),
      NOON,
      unknown.map((readings, i) => ({ afterSeconds: 15 * i, readings })),
    );
    const tokensVoted = decisions.filter((d) => verdictOf(d, "tokens")?.status !== "abstained");
    expect(tokensVoted.length).toBeGreaterThan(0);
    expect(Math.max(...decisions.map((d) => d.desiredReplicas))).toBeGreaterThanOrEqual(
      Math.max(...known.map((d) => d.desiredReplicas)),
    );
  });
});
