import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CapacityEvidence,
  type CapacityMemory,
  type CapacitySettings,
  learnCapacity,
  requestsPerSecondFor,
} from "../../src/policy/capacity.ts";
import { decide, type PolicyMemory } from "../../src/policy/decide.ts";
import { NOON, readingsOf, specOf } from "./helpers.ts";

const CAPACITY: CapacitySettings = {
  enabled: true,
  prior: 2,
  minFactor: 0.33,
  maxFactor: 3,
  timeConstantMs: 300_000,
  rateWindowMs: 120_000,
};
const TOKENS: CapacitySettings = { ...CAPACITY, tokenRates: { prefill: 10_000, decode: 2_000 } };

const saturated: CapacityEvidence = {
  servedPerSecond: 4,
  readyReplicas: 4,
  waitingAtPods: 30,
  calm: false,
};
/** 3 req/s of 1,000 prompt and 200 generated tokens each: 1 ÷ (0.1 + 0.1) = 5 req/s per replica. */
const calmTraffic: CapacityEvidence = {
  servedPerSecond: 3,
  readyReplicas: 2,
  waitingAtPods: 0,
  promptTokensPerSecond: 3_000,
  generationTokensPerSecond: 600,
  calm: true,
};

/** Polls every 15 s for `seconds`, carrying the capacity memory. */
function learnOver(
  seconds: number,
  evidence: CapacityEvidence,
  settings = CAPACITY,
  start?: CapacityMemory,
): ReturnType<typeof learnCapacity> {
  let memory = start;
  let last: ReturnType<typeof learnCapacity> | undefined;
  for (let t = 0; t <= seconds; t += 15) {
    last = learnCapacity(settings, evidence, memory, NOON + t * 1000);
    memory = last.memory;
  }
  if (!last) throw new Error("no poll");
  return last;
}

describe("learned capacity", () => {
  it("turns the traffic's tokens per request into requests per second with the token rates, and explains it", () => {
    expect(requestsPerSecondFor({ prefill: 10_000, decode: 2_000 }, { prompt: 1_000, generated: 200 })).toBe(
      5,
    );
    const learned = learnOver(600, calmTraffic, TOKENS);
    expect(learned.perReplica).toBeCloseTo(5, 5);
    expect(learned.note).toBe(
      "learned capacity 5 req/s per replica (configured 2) from 1,000 prompt + 200 generated tokens per request at 10,000 prefill and 2,000 decode tokens/s per replica → 5 req/s",
    );
  });

  it("follows a change of traffic mix: long prompts lower the capacity, even while requests wait", () => {
    const before = learnOver(600, calmTraffic, TOKENS);
    // 4,000-token prompts, 50 tokens out: 1 ÷ (0.4 + 0.025) ≈ 2.35 req/s.
    const longPrompts = { ...calmTraffic, promptTokensPerSecond: 12_000, generationTokensPerSecond: 150 };
    // One request waits (fewer than one per replica: not saturation).
    const after = learnOver(1800, { ...longPrompts, waitingAtPods: 1, calm: false }, TOKENS, before.memory);
    expect(after.perReplica).toBeCloseTo(1 / 0.425, 1);
  });

  it("never rises while requests wait: a higher token-based figure waits for a calm poll", () => {
    const shortAnswers = { ...calmTraffic, promptTokensPerSecond: 300, generationTokensPerSecond: 60 };
    const waiting = learnOver(1800, { ...shortAnswers, calm: false }, TOKENS);
    // The first sample stands in for the prior only as far down as the prior: 2, not 50.
    expect(waiting.perReplica).toBe(2);
    const calm = learnOver(1800, shortAnswers, TOKENS, waiting.memory);
    expect(calm.perReplica).toBe(6);
    expect(calm.note).toContain("held at the upper bound ×3 of 2");
  });

  it("follows a reasoning mix below capacityMinFactor × the prior: a lower capacity only asks for more", () => {
    // 500 prompt + 4,000 generated tokens per request: 1 ÷ (0.05 + 2) ≈ 0.49 req/s per replica,
    // under 0.33 × 2 = 0.66. Holding it at 0.66 would plan a third too little.
    const reasoning = { ...calmTraffic, promptTokensPerSecond: 1_500, generationTokensPerSecond: 12_000 };
    const learned = learnOver(1800, reasoning, TOKENS);
    expect(learned.perReplica).toBeCloseTo(1 / 2.05, 3);
    expect(learned.note).not.toContain("bound");
  });

  it("ignores a rate window with too few requests to tell the mix (one long prompt is not the traffic)", () => {
    const trickle = {
      ...calmTraffic,
      servedPerSecond: 0.1,
      promptTokensPerSecond: 10,
      generationTokensPerSecond: 2,
    };
    const learned = learnOver(600, trickle, TOKENS);
    expect(learned.perReplica).toBe(2);
    expect(learned.note).toBeUndefined();
  });

  it("learns a lower capacity from replicas saturated for a whole rate window, and explains it", () => {
    const learned = learnOver(1800, saturated);
    expect(learned.perReplica).toBeCloseTo(1, 1);
    expect(learned.note).toMatch(/learned capacity 1(\.0\d)? req\/s per replica \(configured 2\)/);
    expect(learned.note).toContain("saturated for the whole rate window");
  });

  it("applies saturation's factor to the token-based capacity", () => {
    const learned = learnOver(
      3600,
      { ...calmTraffic, servedPerSecond: 4, waitingAtPods: 30, calm: false },
      TOKENS,
    );
    // The mix (750 prompt + 150 generated tokens per request) says 6.67 req/s, but requests wait,
    // so the token-based figure may not rise above the prior 2; saturation at 2 per replica keeps it there.
    expect(learned.perReplica).toBeCloseTo(2, 1);
    expect(learned.note).toContain("from saturation");
  });

  it("takes no sample from a single poll that finds requests waiting (no ratchet at ordinary load)", () => {
    const first = learnCapacity(CAPACITY, saturated, undefined, NOON);
    const idle = { ...saturated, waitingAtPods: 0, calm: true };
    const second = learnCapacity(CAPACITY, idle, first.memory, NOON + 15_000);
    expect(second.perReplica).toBe(2);
    expect(second.note).toBeUndefined();
  });

  it("stays within its bounds of the prior, and says so", () => {
    const low = learnOver(3600, { ...saturated, servedPerSecond: 0.4 });
    expect(low.perReplica).toBeCloseTo(2 * 0.33, 5);
    expect(low.note).toContain("lower bound");
  });

  it("learns nothing while the ready count changes (the rate window mixes two fleet sizes) or when switched off", () => {
    let memory: CapacityMemory | undefined;
    let last: ReturnType<typeof learnCapacity> | undefined;
    // A replica becomes ready every 90 s: never a whole rate window of the same fleet.
    for (let t = 0; t <= 1800; t += 15) {
      const ready = 4 + Math.floor(t / 90);
      last = learnCapacity(
        CAPACITY,
        { ...saturated, readyReplicas: ready, waitingAtPods: 99 },
        memory,
        NOON + t * 1000,
      );
      memory = last.memory;
    }
    expect(last?.perReplica).toBe(2);
    expect(learnOver(1800, saturated, { ...CAPACITY, enabled: false }).perReplica).toBe(2);
  });

  it("learns while more replicas are still starting: the ready ones are the ones saturated", () => {
    // A guess twice too high shows while nodes start: 4 ready serve 4 req/s with 30 waiting.
    const learned = learnOver(300, saturated, { ...CAPACITY, prior: 2 });
    expect(learned.perReplica).toBeLessThan(1.8);
    expect(learned.note).toContain("saturated for the whole rate window");
  });
});

describe("learned capacity invariants", () => {
  const evidenceArb = fc.record({
    servedPerSecond: fc.option(fc.double({ min: -5, max: 200, noNaN: false }), { nil: undefined }),
    readyReplicas: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
    waitingAtPods: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
    promptTokensPerSecond: fc.option(fc.double({ min: -10, max: 100_000, noNaN: false }), { nil: undefined }),
    generationTokensPerSecond: fc.option(fc.double({ min: -10, max: 20_000, noNaN: false }), {
      nil: undefined,
    }),
    calm: fc.boolean(),
  });
  const runArb = fc.array(fc.tuple(fc.integer({ min: 1, max: 120 }), evidenceArb), {
    minLength: 1,
    maxLength: 30,
  });

  it("stays within [prior × min, prior × max] (token rates: above 0, at most prior × max), finite, whatever the evidence", () => {
    fc.assert(
      fc.property(runArb, fc.boolean(), (run, tokens) => {
        let memory: CapacityMemory | undefined;
        let now = NOON;
        for (const [after, evidence] of run) {
          now += after * 1000;
          const learned = learnCapacity(tokens ? TOKENS : CAPACITY, evidence, memory, now);
          memory = learned.memory;
          expect(Number.isFinite(learned.perReplica)).toBe(true);
          if (tokens) expect(learned.perReplica).toBeGreaterThan(0);
          else expect(learned.perReplica).toBeGreaterThanOrEqual(2 * 0.33 - 1e-9);
          expect(learned.perReplica).toBeLessThanOrEqual(2 * 3 + 1e-9);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("never rises on a poll that is not calm, nor on one whose token evidence is missing or bad", () => {
    const badArb = fc.constantFrom(undefined, Number.NaN, -1, Number.POSITIVE_INFINITY);
    fc.assert(
      fc.property(runArb, evidenceArb, badArb, fc.boolean(), (run, evidence, bad, missingNotCalm) => {
        let memory: CapacityMemory | undefined;
        let now = NOON;
        let before = learnCapacity(TOKENS, run[0]?.[1] ?? evidence, undefined, now);
        for (const [after, e] of run) {
          now += after * 1000;
          before = learnCapacity(TOKENS, e, memory, now);
          memory = before.memory;
        }
        now += 15_000;
        const probe = missingNotCalm
          ? { ...evidence, calm: false }
          : { ...evidence, promptTokensPerSecond: bad, generationTokensPerSecond: bad, waitingAtPods: 0 };
        const next = learnCapacity(TOKENS, probe, memory, now);
        expect(next.perReplica).toBeLessThanOrEqual(before.perReplica + 1e-9);
      }),
      { numRuns: 300 },
    );
  });
});

describe("learned capacity in the decision", () => {
  it("plans the queue with the learned capacity once saturation lasted a rate window", () => {
    const spec = specOf({ rateWindow: "2m" });
    let memory: PolicyMemory | undefined;
    let last: ReturnType<typeof decide> | undefined;
    for (let t = 0; t <= 1800; t += 15) {
      const now = NOON + t * 1000;
      const readings = readingsOf(
        {
          queueBacklog: 0,
          vllmWaiting: 40,
          ttftRequestsPerSecond: 4,
          replicasReady: 4,
          replicasDesired: 4,
          replicasUnavailable: 0,
        },
        now,
      );
      last = decide(spec, readings, now, memory);
      memory = last.memory;
    }
    const queue = last?.decision.signals.find((v) => v.signal === "queue");
    expect(queue?.note).toContain("at 1");
    expect(last?.decision.rules.some((r) => r.rule === "learned-capacity")).toBe(true);
  });

  const withTokenRates = () =>
    specOf({ prefillTokensPerSecondPerReplica: "10000", decodeTokensPerSecondPerReplica: "2000" });
  /** 10 req/s of 1,000 prompt + 200 generated tokens on 4 ready replicas, nothing waiting at the pods. */
  const tokenTraffic = (queueBacklog: number) => ({
    queueBacklog,
    vllmWaiting: 0,
    ttftRequestsPerSecond: 10,
    promptTokensPerSecond: 10_000,
    generationTokensPerSecond: 2_000,
    replicasReady: 4,
    replicasDesired: 4,
    replicasUnavailable: 0,
  });
  /** Polls every 15 s for 10 minutes with the same readings, carrying the memory. */
  function decideFor10Minutes(spec: ReturnType<typeof specOf>, readings: ReturnType<typeof tokenTraffic>) {
    let memory: PolicyMemory | undefined;
    let last: ReturnType<typeof decide> | undefined;
    for (let t = 0; t <= 600; t += 15) {
      const now = NOON + t * 1000;
      last = decide(spec, readingsOf(readings, now), now, memory);
      memory = last.memory;
    }
    if (!last) throw new Error("no poll");
    return last;
  }

  it("plans with the token-based capacity and names it in the reasons; missing token counters hold it", () => {
    const spec = withTokenRates();
    const calm = tokenTraffic(0);
    const last = decideFor10Minutes(spec, calm);
    const memory = last.memory;
    // 1,000 prompt + 200 generated tokens per request → 5 req/s per replica; 10 req/s → 2 replicas of load.
    const note = last.decision.rules.find((r) => r.rule === "learned-capacity")?.note;
    expect(note).toContain("learned capacity 5 req/s per replica (configured 2)");
    expect(last.decision.signals.find((v) => v.signal === "queue")?.note).toContain("at 5 req/s per replica");
    const now = NOON + 615_000;
    const { promptTokensPerSecond: _p, generationTokensPerSecond: _g, ...withoutTokens } = calm;
    const held = decide(spec, readingsOf(withoutTokens, now), now, memory);
    expect(held.decision.signals.find((v) => v.signal === "queue")?.note).toContain("at 5 req/s per replica");
  });

  it("behind Service Bus, messages in flight are no queue: the token-based capacity rises; a real backlog holds it", () => {
    const run = (queueBacklog: number) =>
      decideFor10Minutes(withTokenRates(), tokenTraffic(queueBacklog)).decision.signals.find(
        (v) => v.signal === "queue",
      )?.note;
    // 25 active messages at 10 req/s are 2.5 s of inflow, held by the consumers (under a tenth of
    // the 60 s SLA): in flight, so the capacity rises from the prior 2 to the token rates' 5.
    expect(run(25)).toContain("at 5 req/s per replica");
    // 300 are 30 s of inflow: a queue building, where a capacity never rises.
    expect(run(300)).toContain("at 2 req/s per replica");
  });

  it("refuses one token rate without the other, naming both keys", () => {
    expect(() => specOf({ prefillTokensPerSecondPerReplica: "10000" })).toThrow(
      /prefillTokensPerSecondPerReplica is set, so scalerMetadata\.decodeTokensPerSecondPerReplica must be set too/,
    );
  });
});
