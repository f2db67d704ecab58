import { describe, expect, it } from "vitest";
import type { ReplicaModel } from "../../src/sim/model.ts";
import { RequestQueue, ServingReplica, type ServingSink } from "../../src/sim/serving.ts";
import { ROUND_REPLICA } from "./fixtures.ts";

/** Round numbers so every expectation below can be worked out by hand. */
const REPLICA: ReplicaModel = {
  prefillTokensPerSecond: 1000,
  decodeTokensPerSecond: 100,
  decodeTokensPerSecondPerSequence: 100,
  maxNumSeqs: 4,
  kvCacheTokens: 1_000_000,
  consumerPrefetch: 100,
};

function recordingSink() {
  const firstTokens: { count: number; first: number; last: number; wait: number }[] = [];
  let completed = 0;
  const sink: ServingSink = {
    firstTokens: (count, first, last, wait) => firstTokens.push({ count, first, last, wait }),
    completed: (count) => {
      completed += count;
    },
  };
  return { sink, firstTokens, completed: () => completed };
}

describe("one vLLM replica", () => {
  it("prefills a burst one request after another: TTFT = wait + prefill", () => {
    const replica = new ServingReplica(REPLICA);
    const { sink, firstTokens } = recordingSink();
    // 4 requests of 1,000 prompt tokens at t = 0: each prefill takes 1 s.
    replica.accept({ count: 4, contextTokens: 1000, generatedTokens: 100, arrivalMs: 0 });
    replica.processTick(0, 5_000, sink);
    // The last one waited 3 s for the three prefills before it.
    expect(firstTokens).toEqual([{ count: 4, first: 1, last: 4, wait: 3 }]);
    expect(replica.runningCount).toBe(4);
  });

  it("serves requests spread over the tick as they arrive: no wait when prefill keeps up", () => {
    const replica = new ServingReplica(REPLICA);
    const { sink, firstTokens } = recordingSink();
    // 4 requests at 0, 2, 4 and 6 s, each prefilled in 1 s: every TTFT is the prefill alone.
    replica.accept({ count: 4, contextTokens: 1000, generatedTokens: 100, arrivalMs: 0, spreadMs: 6_000 });
    replica.processTick(0, 10_000, sink);
    expect(firstTokens).toEqual([{ count: 4, first: 1, last: 1, wait: 0 }]);
  });

  it("shares the decode rate over the batch and frees slots as requests finish", () => {
    const replica = new ServingReplica(REPLICA);
    const { sink, completed } = recordingSink();
    // 2 requests, 100 prompt tokens (0.1 s each), 100 generated: after 0.2 s of prefill the batch
    // of 2 decodes at 100 tok/s shared → 50 tok/s each → done 2 s later, at t = 2.2 s.
    replica.accept({ count: 2, contextTokens: 100, generatedTokens: 100, arrivalMs: 0 });
    replica.processTick(0, 2_000, sink);
    expect(completed()).toBe(0);
    expect(replica.generatedTokensLastTick).toBeCloseTo(180, 6);
    replica.processTick(2_000, 2_000, sink);
    expect(completed()).toBe(2);
    expect(replica.idle).toBe(true);
    expect(replica.kvUsedTokens).toBe(0);
  });

  it("holds requests beyond max_num_seqs as vLLM waiting, and starts them as soon as slots free", () => {
    const replica = new ServingReplica(REPLICA);
    const { sink, firstTokens } = recordingSink();
    replica.accept({ count: 6, contextTokens: 100, generatedTokens: 10, arrivalMs: 0 });
    replica.processTick(0, 300, sink);
    // Only 4 sequences fit; the other 2 wait inside vLLM.
    expect(replica.runningCount).toBe(4);
    expect(replica.waitingCount).toBe(2);
    expect(firstTokens).toEqual([{ count: 4, first: 0.1, last: 0.4, wait: 0.3 }]);
    const fresh = new ServingReplica(REPLICA);
    const second = recordingSink();
    fresh.accept({ count: 6, contextTokens: 100, generatedTokens: 10, arrivalMs: 0 });
    fresh.processTick(0, 1_000, second.sink);
    // 4 × 0.1 s prefill, then 4 × 10 tokens at 25 tok/s each = 0.4 s: the slots free at 0.8 s and
    // the 2 waiting requests are prefilled at once (first tokens at 0.9 and 1.0 s).
    expect(fresh.waitingCount).toBe(0);
    expect(second.completed()).toBe(4);
    expect(second.firstTokens[1]?.count).toBe(2);
    expect(second.firstTokens[1]?.first).toBeCloseTo(0.9, 9);
    expect(second.firstTokens[1]?.last).toBeCloseTo(1.0, 9);
  });

  it("sustains its rated throughput when saturated: 1,155 + 211 tokens at 4,000/1,000 tok/s ≈ 2 requests/s", () => {
    const replica = new ServingReplica(ROUND_REPLICA);
    const { sink, completed } = recordingSink();
    replica.accept({ count: 5000, contextTokens: 1155, generatedTokens: 211, arrivalMs: 0 });
    for (let t = 0; t < 600_000; t += 5_000) replica.processTick(t, 5_000, sink);
    const perSecond = completed() / 600;
    expect(perSecond).toBeGreaterThan(1.9);
    expect(perSecond).toBeLessThanOrEqual(1 / (1155 / 4000 + 211 / 1000) + 0.01);
    expect(replica.utilisation).toBeGreaterThan(0.95);
  });

  it("is limited by the KV cache as well as by sequences", () => {
    const replica = new ServingReplica({ ...REPLICA, kvCacheTokens: 2_500 });
    const { sink } = recordingSink();
    replica.accept({ count: 4, contextTokens: 1000, generatedTokens: 100, arrivalMs: 0 });
    replica.processTick(0, 500, sink);
    // 1,100 tokens each: only 2 fit in 2,500, although 4 sequences would.
    expect(replica.runningCount).toBe(2);
    expect(replica.waitingCount).toBe(2);
    expect(replica.kvUsage).toBeCloseTo(2200 / 2500, 9);
  });

  it("reports throughput utilisation: a full batch decoding all tick is 100 % busy", () => {
    const replica = new ServingReplica({ ...REPLICA, decodeTokensPerSecondPerSequence: 25 });
    const { sink } = recordingSink();
    replica.accept({ count: 4, contextTokens: 0, generatedTokens: 10_000, arrivalMs: 0 });
    replica.processTick(0, 1_000, sink);
    expect(replica.utilisation).toBeCloseTo(1, 6);
    const lone = new ServingReplica({ ...REPLICA, decodeTokensPerSecondPerSequence: 25 });
    lone.accept({ count: 1, contextTokens: 0, generatedTokens: 10_000, arrivalMs: 0 });
    lone.processTick(0, 1_000, sink);
    expect(lone.utilisation).toBeCloseTo(0.25, 6);
    // …while DCGM's GPU_UTIL would read it as busy all the time.
    expect(lone.busyFraction).toBeCloseTo(1, 6);
  });
});

describe("the durable queue", () => {
  it("never drops: what goes in comes out, in order, whatever the pulls and returns", () => {
    const queue = new RequestQueue();
    let pushed = 0;
    let pulled = 0;
    let lastArrival = -1;
    for (let i = 0; i < 500; i++) {
      const count = (i * 7) % 13;
      queue.push({ count, contextTokens: 10, generatedTokens: 10, arrivalMs: i });
      pushed += count;
      const cohort = queue.pull((i * 5) % 11);
      if (!cohort) continue;
      if (i % 3 === 0) {
        queue.returnToHead(cohort);
        continue;
      }
      expect(cohort.arrivalMs).toBeGreaterThanOrEqual(lastArrival);
      lastArrival = cohort.arrivalMs;
      pulled += cohort.count;
    }
    expect(queue.length).toBe(pushed - pulled);
    let drained = 0;
    for (let cohort = queue.pull(1000); cohort; cohort = queue.pull(1000)) drained += cohort.count;
    expect(drained + pulled).toBe(pushed);
    expect(queue.length).toBe(0);
  });
});

describe("TTFT figures", () => {
  it("counts the share within the SLA exactly, whichever end of the cohort waited longer", async () => {
    const { TtftStats, shareAtMost } = await import("../../src/sim/stats.ts");
    expect(shareAtMost(60, 30, 90)).toBeCloseTo(0.5, 9);
    expect(shareAtMost(60, 90, 30)).toBeCloseTo(0.5, 9);
    expect(shareAtMost(60, 1, 2)).toBe(1);
    expect(shareAtMost(60, 61, 70)).toBe(0);
    const stats = new TtftStats(60);
    stats.record(100, 1, 1, 0);
    stats.record(100, 90, 30, 89);
    stats.recordUnserved(50, 4000);
    expect(stats.requests).toBe(250);
    expect(stats.withinSlaFraction()).toBeCloseTo(150 / 250, 9);
    expect(stats.worstQueueWaitSeconds).toBe(4000);
    expect(stats.quantile(0.3)).toBeCloseTo(1, 1);
    // Unserved requests count at the wait they had so far.
    expect(stats.quantile(0.99) / 4000).toBeCloseTo(1, 1);
  });
});
