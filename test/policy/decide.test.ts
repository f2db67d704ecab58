import { describe, expect, it } from "vitest";
import { decide } from "../../src/policy/decide.ts";
import type { Decision } from "../../src/policy/decision.ts";
import { broken, decideOnce, empty, NOON, PLAIN, readingsOf, specOf, timeline } from "./helpers.ts";

const verdictOf = (decision: Decision, signal: string) => decision.signals.find((v) => v.signal === signal);

describe("queue demand", () => {
  it("perReplica: one replica per messagesPerReplica waiting, then the 70 % headroom", () => {
    const decision = decideOnce(specOf({ queueMode: "perReplica", messagesPerReplica: "5" }), {
      queueBacklog: 12,
    });
    // 12 / 5 = 2.4 replicas of load; 2.4 / 0.7 = 3.43 → 4.
    expect(decision).toMatchObject({
      loadReplicas: 2.4,
      desiredReplicas: 4,
      metricValue: 4,
      drivingFactor: "queue",
    });
  });

  it("drain: carries the inflow and clears the backlog within the SLA", () => {
    const decision = decideOnce(specOf(), { queueBacklog: 100, vllmWaiting: 20, ttftRequestsPerSecond: 3 });
    // vLLM's 20 waiting are peek-locked messages among Service Bus' 100 active: 100 wait, not 120.
    // (3 req/s + 100 waiting / 60 s) / 2 req/s per replica = 2.33; 2.33 / 0.7 = 3.33 → 4.
    expect(decision.loadReplicas).toBeCloseTo(7 / 3);
    expect(decision.desiredReplicas).toBe(4);
    expect(verdictOf(decision, "queue")?.note).toContain("3 req/s inflow + 100 waiting drained in 60 s");
  });

  it("drain without a request rate counts the backlog alone, and says so", () => {
    const decision = decideOnce(specOf({ ttftEnabled: "false" }), { queueBacklog: 240 });
    expect(decision.loadReplicas).toBeCloseTo(2);
    expect(verdictOf(decision, "queue")?.note).toContain("inflow unknown");
  });

  it("votes with Service Bus alone when vLLM's waiting count fails, and does not go down meanwhile", () => {
    const spec = specOf({
      queueMode: "perReplica",
      messagesPerReplica: "1",
      targetUtilisation: "1",
      failStaticHoldSeconds: "0",
    });
    const [, partial] = timeline(spec, NOON, [
      { afterSeconds: 0, readings: { queueBacklog: 6, vllmWaiting: 2 } },
      { afterSeconds: 15, readings: { queueBacklog: 5, vllmWaiting: broken() } },
    ]);
    expect(verdictOf(partial!, "queue")).toMatchObject({ status: "voted", demandReplicas: 5 });
    expect(verdictOf(partial!, "queue")?.note).toContain("[without vllmWaiting: prometheus unreachable");
    // The first poll saw 6 waiting (vLLM's 2 among Service Bus' 6): the held answer stays at 6.
    expect(partial).toMatchObject({ desiredReplicas: 6, active: true });
  });

  it("can be switched off: the readings are then ignored", () => {
    const decision = decideOnce(specOf({ queueEnabled: "false" }), { queueBacklog: 500 });
    expect(verdictOf(decision, "queue")).toMatchObject({ status: "disabled", note: "switched off" });
  });
});

describe("TTFT P95 demand", () => {
  const spec = specOf({ ttftTargetSeconds: "2", maxReplicas: "20" });

  it("scales the ready replicas in proportion to P95 over target", () => {
    const decision = decideOnce(spec, {
      ttftP95Seconds: 3,
      ttftRequestsPerSecond: 5,
      replicasReady: 4,
      queueBacklog: 300,
    });
    // 4 ready × 3 / 2 = 6; 6 / 0.7 = 8.57 → 9.
    expect(verdictOf(decision, "ttft")).toMatchObject({ status: "voted", demandReplicas: 6 });
    expect(decision).toMatchObject({ desiredReplicas: 9, drivingFactor: "ttft" });
  });

  it("is bounded per step by maxStepFactor", () => {
    const decision = decideOnce(spec, {
      ttftP95Seconds: 20,
      ttftRequestsPerSecond: 5,
      replicasReady: 4,
      queueBacklog: 300,
    });
    expect(verdictOf(decision, "ttft")?.demandReplicas).toBe(8);
    expect(verdictOf(decision, "ttft")?.note).toContain("step bound ×2");
  });

  it("abstains when the window holds too few requests for a percentile", () => {
    const decision = decideOnce(spec, {
      ttftP95Seconds: 30,
      ttftRequestsPerSecond: 0.05,
      replicasReady: 2,
      vllmWaiting: 3,
    });
    expect(verdictOf(decision, "ttft")).toMatchObject({ status: "abstained" });
    expect(verdictOf(decision, "ttft")?.note).toContain("too few samples");
    expect(verdictOf(decision, "ttft")?.demandReplicas).toBeUndefined();
  });

  it("abstains at zero traffic instead of voting with noise", () => {
    const decision = decideOnce(spec, {
      ttftP95Seconds: 0,
      ttftRequestsPerSecond: 0,
      replicasReady: 1,
      queueBacklog: 0,
    });
    expect(verdictOf(decision, "ttft")?.status).toBe("abstained");
  });

  it("abstains when the P95 is NaN (no request finished prefill in the window)", () => {
    const decision = decideOnce(spec, {
      ttftP95Seconds: broken("histogram_quantile returned NaN", "not_a_number"),
      ttftRequestsPerSecond: 0,
      replicasReady: 2,
      queueBacklog: 0,
      vllmWaiting: 0,
    });
    expect(verdictOf(decision, "ttft")).toMatchObject({ status: "abstained" });
    expect(decision.rules).toEqual([]);
    expect(decision.available).toBe(true);
  });

  it("abstains within target (latency says how much, not whether to shrink)", () => {
    const decision = decideOnce(spec, {
      ttftP95Seconds: 1.5,
      ttftRequestsPerSecond: 5,
      replicasReady: 4,
      queueBacklog: 300,
    });
    expect(verdictOf(decision, "ttft")?.note).toContain("within the 2 s target");
  });

  it("votes only while the queue asks for more replicas than are ready (the queue decides whether)", () => {
    // Queue: (5 req/s + 0 waiting / 60 s) / 2 = 2.5 → 4 with headroom: not more than the 4 ready.
    const readings = { ttftP95Seconds: 4, ttftRequestsPerSecond: 5, replicasReady: 4, vllmWaiting: 1 };
    const gated = verdictOf(decideOnce(spec, readings), "ttft");
    expect(gated).toMatchObject({ status: "abstained" });
    expect(gated?.note).toContain("the queue asks for 4 with 4 ready (latencyGate=queue)");
    // 300 more waiting in Service Bus: the queue asks for 8, and TTFT says how many.
    expect(verdictOf(decideOnce(spec, { ...readings, queueBacklog: 300 }), "ttft")?.demandReplicas).toBe(8);
  });

  it("stays shut when the queue asks for more but nothing waits now: the P95 is a served burst's echo", () => {
    // The inflow alone asks for (10 / 2) / 0.7 → 8 with 2 ready, and the P95 over the last rate
    // window still shows the burst's queue — but vLLM and the queue hold nothing now.
    const readings = { ttftP95Seconds: 20, ttftRequestsPerSecond: 10, replicasReady: 2, vllmWaiting: 0 };
    const decision = decideOnce(spec, { ...readings, queueBacklog: 0 });
    expect(verdictOf(decision, "ttft")).toMatchObject({ status: "abstained" });
    expect(verdictOf(decision, "ttft")?.note).toContain("and nothing waits now (latencyGate=queue)");
    expect(decision).toMatchObject({ drivingFactor: "queue", desiredReplicas: 8 });
    // One request waiting opens it again: latency says how many (2 ready × 10 step-bounded to ×2).
    expect(verdictOf(decideOnce(spec, { ...readings, queueBacklog: 1 }), "ttft")?.status).toBe("voted");
  });

  it("latencyGate=backlog votes while anything waits; none always", () => {
    const readings = { ttftP95Seconds: 4, ttftRequestsPerSecond: 5, replicasReady: 4 };
    const backlog = specOf({ latencyGate: "backlog", maxReplicas: "20" });
    expect(verdictOf(decideOnce(backlog, { ...readings, vllmWaiting: 0 }), "ttft")?.status).toBe("abstained");
    expect(verdictOf(decideOnce(backlog, { ...readings, vllmWaiting: 1 }), "ttft")?.demandReplicas).toBe(8);
    const always = specOf({ latencyGate: "none", maxReplicas: "20" });
    expect(verdictOf(decideOnce(always, { ...readings, vllmWaiting: 0 }), "ttft")?.demandReplicas).toBe(8);
  });
});

describe("KV-cache, GPU and token throughput demand", () => {
  it("KV-cache: ready × usage / target (0.8)", () => {
    const decision = decideOnce(specOf(), { kvCacheUsage: 0.9, replicasReady: 2 });
    expect(verdictOf(decision, "kvCache")?.demandReplicas).toBeCloseTo(2.25);
    expect(decision.desiredReplicas).toBe(4);
  });

  it("GPU engine activity (DCGM_FI_PROF_GR_ENGINE_ACTIVE) is busy time too: no shortage without the queue", () => {
    // One sequence decoding keeps the engine active most of the time: it says nothing of load.
    const engineActive = specOf({ gpuMetric: "grEngineActive" });
    const decision = decideOnce(engineActive, {
      gpuUtilisation: 0.95,
      replicasReady: 2,
      vllmRunning: 4,
      queueBacklog: 0,
      ttftRequestsPerSecond: 1,
    });
    expect(verdictOf(decision, "gpu")).toMatchObject({ status: "abstained" });
    expect(decision.desiredReplicas).toBeLessThanOrEqual(2);
  });

  it("GPU busy time (DCGM_FI_DEV_GPU_UTIL, the default) confirms a shortage the queue reports, never starts one", () => {
    // One sequence decoding keeps GPU_UTIL near 100 %: as a load measure it would grow without end.
    const busy = { gpuUtilisation: 0.98, replicasReady: 3, vllmRunning: 3, ttftRequestsPerSecond: 2 };
    const idleQueue = decideOnce(specOf(), { ...busy, queueBacklog: 0 });
    expect(verdictOf(idleQueue, "gpu")).toMatchObject({ status: "abstained" });
    expect(idleQueue.desiredReplicas).toBeLessThanOrEqual(3);
    // The queue asks for (2 + 300 / 60) / 2 = 3.5 → 5 with 3 ready: now GPU may say how many.
    const shortage = decideOnce(specOf(), { ...busy, queueBacklog: 300 });
    expect(verdictOf(shortage, "gpu")?.demandReplicas).toBeCloseTo(2.94);
    const noQueue = decideOnce(specOf({ queueEnabled: "false" }), busy);
    expect(verdictOf(noQueue, "gpu")?.note).toContain("needs the queue to say whether");
  });

  it("tokens: throughput under the floor while requests wait is overload", () => {
    const decision = decideOnce(specOf(), {
      tokensPerSecondPerPod: 250,
      replicasReady: 2,
      vllmWaiting: 5,
      queueBacklog: 300,
    });
    // The queue asks for (305 / 60) / 2 = 2.54 → 4 > 2 ready, so throughput may say how many:
    // 2 ready × 500 / 250 = 4; 4 / 0.7 = 5.71 → 6.
    expect(decision).toMatchObject({ drivingFactor: "tokens", desiredReplicas: 6 });
  });

  it("tokens: low throughput per pod on an over-provisioned steady state is not overload", () => {
    // 8 replicas for 2.3 replicas of load: ~135 tok/s per pod, and a request caught in prefill.
    const decision = decideOnce(specOf(), {
      tokensPerSecondPerPod: 135,
      replicasReady: 8,
      vllmWaiting: 1,
      ttftRequestsPerSecond: 4.6,
    });
    expect(verdictOf(decision, "tokens")).toMatchObject({ status: "abstained" });
    expect(decision.desiredReplicas).toBeLessThan(8);
  });

  it("tokens: with the token rates set, the drain rule's capacity already counts prefill-heavy traffic", () => {
    // Code completion: 2,000-token prompts and 25-token answers decode ~70 tok/s per pod at full
    // load. The generated-tokens floor would read that as overload and double the fleet.
    const readings = { tokensPerSecondPerPod: 70, replicasReady: 2, vllmWaiting: 5, queueBacklog: 300 };
    const withRates = specOf({
      prefillTokensPerSecondPerReplica: "10000",
      decodeTokensPerSecondPerReplica: "2000",
    });
    const verdict = verdictOf(decideOnce(withRates, readings), "tokens");
    expect(verdict).toMatchObject({ status: "abstained" });
    expect(verdict?.note).toContain(
      "the drain rule plans with the token rates (10000 prefill, 2000 decode per replica)",
    );
    expect(verdictOf(decideOnce(specOf(), readings), "tokens")?.status).toBe("voted");
    // Where the drain rule does not plan with them (one replica per N messages), the rates change nothing.
    const perReplica = specOf({
      queueMode: "perReplica",
      prefillTokensPerSecondPerReplica: "10000",
      decodeTokensPerSecondPerReplica: "2000",
    });
    expect(verdictOf(decideOnce(perReplica, readings), "tokens")?.status).toBe("voted");
  });

  it("tokens: low throughput with nothing waiting is just a quiet hour", () => {
    const decision = decideOnce(specOf(), { tokensPerSecondPerPod: 50, replicasReady: 2, vllmWaiting: 0 });
    expect(verdictOf(decision, "tokens")).toMatchObject({ status: "abstained" });
  });

  it("ready-relative signals abstain without kube-state-metrics replicas", () => {
    const decision = decideOnce(specOf(), { kvCacheUsage: 0.95 });
    expect(verdictOf(decision, "kvCache")?.note).toContain("ready replicas unknown");
  });
});

describe("smoothing of the instantaneous gauges", () => {
  // KV-cache usage sampled every 15 s on 3 lightly loaded replicas: 20 % and 90 % in turn.
  const noisy = [0.2, 0.9, 0.2, 0.9, 0.2, 0.9, 0.2, 0.9].map((kv, i) => ({
    afterSeconds: i * 15,
    readings: { kvCacheUsage: kv, replicasReady: 3, replicasDesired: 3, vllmRunning: 2 },
  }));

  it("does not start a replica (and a GPU node) on every spike of a gauge", () => {
    const answers = timeline(specOf(), NOON, noisy).map((d) => d.desiredReplicas);
    // Raw, 0.9 × 3 ready / 0.8 / 0.7 would ask for 5 on every other poll; averaged (~0.55) it holds at 3.
    expect(Math.max(...answers.slice(2))).toBe(3);
    const raw = timeline(specOf({ utilisationSmoothingSeconds: "0" }), NOON, noisy).map(
      (d) => d.desiredReplicas,
    );
    expect(raw.filter((n) => n === 5).length).toBeGreaterThanOrEqual(3);
  });

  it("follows a real rise within about two time constants", () => {
    const rise = [0.3, 0.3, ...Array.from({ length: 8 }, () => 0.7)].map((kv, i) => ({
      afterSeconds: i * 15,
      readings: { kvCacheUsage: kv, replicasReady: 3, vllmRunning: 2 },
    }));
    const decisions = timeline(specOf(), NOON, rise);
    // 0.7 × 3 / 0.8 / 0.7 = 3.75 → 4, reached 2 minutes (8 polls) after the step at the latest.
    expect(decisions[9]?.desiredReplicas).toBe(4);
    expect(verdictOf(decisions[9]!, "kvCache")?.readings.kvCacheUsage).toBeGreaterThan(0.6);
  });
});

describe("fusion", () => {
  it("takes the largest demand and names the signal that won", () => {
    const decision = decideOnce(specOf(), {
      queueBacklog: 120,
      ttftRequestsPerSecond: 2,
      ttftP95Seconds: 1,
      kvCacheUsage: 0.96,
      gpuUtilisation: 0.5,
      replicasReady: 3,
    });
    // queue (2 + 2) / 2 = 2; kvCache 3 × 0.96 / 0.8 = 3.6; gpu 1.5.
    expect(decision.drivingFactor).toBe("kvCache");
    expect(decision.loadReplicas).toBeCloseTo(3.6);
    expect(decision.desiredReplicas).toBe(6);
    expect(decision.summary).toMatch(/^6 replica\(s\): kvCache demand 3\.6 ÷ 0\.7 headroom/);
  });

  it("honours a different headroom", () => {
    const decision = decideOnce(
      specOf({
        targetUtilisation: "0.5",
        queueMode: "perReplica",
        messagesPerReplica: "1",
        maxReplicas: "20",
      }),
      {
        queueBacklog: 7,
      },
    );
    expect(decision.desiredReplicas).toBe(14);
  });
});

describe("capacity already on its way", () => {
  it("does not ask again for replicas that are starting (no cascade during a 10-minute node lag)", () => {
    const spec = specOf({ ...PLAIN, maxReplicas: "20" });
    // TTFT keeps rising while the new node provisions; the pods asked for are Pending.
    const polls = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((minute) => ({
      afterSeconds: minute * 60,
      readings: {
        ttftP95Seconds: 3 + minute,
        ttftRequestsPerSecond: 6,
        vllmWaiting: 10 + minute * 5,
        replicasReady: 2,
        replicasDesired: minute === 0 ? 2 : 5,
        replicasUnavailable: minute === 0 ? 0 : 3,
      },
    }));
    const answers = timeline(spec, NOON, polls).map((d) => d.desiredReplicas);
    // First poll: 2 ready × 1.5 = 3 → 5. Afterwards TTFT alone would ask 2 × 2 → 6, and more.
    expect(answers[0]).toBe(5);
    expect(Math.max(...answers)).toBe(5);
    const later = timeline(spec, NOON, polls)[5];
    expect(later?.rules.map((r) => r.rule)).toContain("capacity-on-its-way");
  });

  it("counts what the Deployment already runs as asked for, even above the last answer", () => {
    // The last answer was 11, but the HPA was told 12 (tolerance step) and the Deployment is at 12.
    const spec = specOf({ ...PLAIN, maxReplicas: "30" });
    const memory = { lastDesired: 11 };
    const decision = decideOnce(
      spec,
      { kvCacheUsage: 1, replicasReady: 8, replicasDesired: 12, replicasUnavailable: 4 },
      NOON,
      memory,
    );
    // 8 × 1 / 0.8 = 10 replicas of load → 15 with headroom, capped at the 12 already asked for.
    expect(decision.desiredReplicas).toBe(12);
    expect(decision.rules.map((r) => r.rule)).toContain("capacity-on-its-way");
  });

  it("still lets the backlog (an absolute count) raise the answer while replicas start", () => {
    const spec = specOf({ ...PLAIN, maxReplicas: "50" });
    const [first, second] = timeline(spec, NOON, [
      {
        afterSeconds: 0,
        readings: { queueBacklog: 120, replicasReady: 2, replicasDesired: 4, replicasUnavailable: 2 },
      },
      {
        afterSeconds: 30,
        readings: { queueBacklog: 1200, replicasReady: 2, replicasDesired: 4, replicasUnavailable: 2 },
      },
    ]);
    expect(first?.desiredReplicas).toBe(2);
    // 1200 / 60 / 2 = 10 → 15.
    expect(second?.desiredReplicas).toBe(15);
  });
});

describe("stability", () => {
  it("scales up at once but down only when the rest would run at most at 63 % (band 0.1)", () => {
    const spec = specOf({ queueMode: "perReplica", messagesPerReplica: "1", stepOverTolerance: "false" });
    const answers = timeline(
      spec,
      NOON,
      [3.5, 2.7, 2.5, 2.4, 3.5].map((load, i) => ({
        afterSeconds: i * 15,
        readings: { queueBacklog: load },
      })),
    ).map((d) => d.desiredReplicas);
    // 3.5/0.7 = 5; 2.7 → 3.86 → 4, but 4 replicas would run at 67.5 % > 63 %: keep 5;
    // 2.5 → 3.57 → 4 and 2.5/4 = 62.5 %: down to 4; 2.4 → 4; 3.5 → 5 at once.
    expect(answers).toEqual([5, 5, 4, 4, 5]);
  });

  it("says when hysteresis kept the count", () => {
    const spec = specOf({ queueMode: "perReplica", messagesPerReplica: "1" });
    const [, second] = timeline(spec, NOON, [
      { afterSeconds: 0, readings: { queueBacklog: 3.5 } },
      { afterSeconds: 15, readings: { queueBacklog: 2.7 } },
    ]);
    expect(second?.rules).toContainEqual(expect.objectContaining({ rule: "hysteresis" }));
  });

  it("scaleDownDelaySeconds answers the highest count of the window", () => {
    const spec = specOf({
      ...PLAIN,
      queueMode: "perReplica",
      messagesPerReplica: "1",
      targetUtilisation: "1",
      scaleDownDelaySeconds: "60",
    });
    const answers = timeline(spec, NOON, [
      { afterSeconds: 0, readings: { queueBacklog: 6 } },
      { afterSeconds: 20, readings: { queueBacklog: 2 } },
      { afterSeconds: 59, readings: { queueBacklog: 2 } },
      { afterSeconds: 61, readings: { queueBacklog: 2 } },
    ]).map((d) => d.desiredReplicas);
    expect(answers).toEqual([6, 6, 6, 2]);
  });
});

describe("HPA tolerance", () => {
  const spec = specOf({
    queueMode: "perReplica",
    messagesPerReplica: "1",
    targetUtilisation: "1",
    maxReplicas: "30",
  });

  it("10 → 11 lies inside the 10 % band: reports 12, the smallest count the HPA acts on, and says why", () => {
    const decision = decideOnce(spec, { queueBacklog: 11, replicasDesired: 10 });
    expect(decision).toMatchObject({ desiredReplicas: 11, metricValue: 12, active: true });
    expect(decision.rules).toContainEqual({
      rule: "hpa-tolerance",
      note: "the HPA at 10 ignores 11 (inside its 10 % tolerance): reporting 12, the smallest count it acts on",
    });
  });

  it("without the step, reports 11 and says the HPA will not move", () => {
    const decision = decideOnce(
      specOf({
        ...PLAIN,
        queueMode: "perReplica",
        messagesPerReplica: "1",
        targetUtilisation: "1",
        maxReplicas: "30",
      }),
      {
        queueBacklog: 11,
        replicasDesired: 10,
      },
    );
    expect(decision.metricValue).toBe(11);
    expect(decision.rules.find((r) => r.rule === "hpa-tolerance")?.note).toContain("will not move to 11");
  });

  it("does nothing where the band allows the step, or the tolerance is off", () => {
    expect(decideOnce(spec, { queueBacklog: 12, replicasDesired: 10 }).rules).toEqual([]);
    expect(decideOnce(spec, { queueBacklog: 6, replicasDesired: 5 }).rules).toEqual([]);
    const noTolerance = specOf({
      queueMode: "perReplica",
      messagesPerReplica: "1",
      targetUtilisation: "1",
      maxReplicas: "30",
      hpaTolerance: "0",
    });
    expect(decideOnce(noTolerance, { queueBacklog: 11, replicasDesired: 10 })).toMatchObject({
      metricValue: 11,
      rules: [],
    });
  });
});

describe("fail-static", () => {
  const spec = specOf({
    queueMode: "perReplica",
    messagesPerReplica: "1",
    targetUtilisation: "1",
    failStaticHoldSeconds: "120",
    unavailableAfterSeconds: "300",
  });

  it("answers UNAVAILABLE on the first poll when the only source fails: nothing to hold", () => {
    const decision = decideOnce(spec, { queueBacklog: broken() });
    expect(decision).toMatchObject({ available: false, metricValue: 0, active: false });
    expect(decision.summary).toContain("ECONNREFUSED");
  });

  it("holds the last good value, then the last answer, then hands over to KEDA's fallback", () => {
    const decisions = timeline(spec, NOON, [
      { afterSeconds: 0, readings: { queueBacklog: 5 } },
      { afterSeconds: 60, readings: { queueBacklog: broken() } },
      { afterSeconds: 120, readings: { queueBacklog: broken() } },
      { afterSeconds: 180, readings: { queueBacklog: broken() } },
      { afterSeconds: 300, readings: { queueBacklog: broken() } },
      { afterSeconds: 301, readings: { queueBacklog: broken() } },
      { afterSeconds: 330, readings: { queueBacklog: 2 } },
    ]);
    expect(decisions.map((d) => [d.available, d.metricValue, verdictOf(d, "queue")?.status])).toEqual([
      [true, 5, "voted"],
      [true, 5, "held"], // last good reading (60 s old) still votes
      [true, 5, "held"], // 120 s: the hold's last instant
      [true, 5, "failed"], // past the hold: the previous answer stands (drivingFactor hold)
      [true, 5, "failed"], // 300 s since the last good reading: still within unavailableAfterSeconds
      [false, 0, "failed"], // 301 s: UNAVAILABLE, KEDA's fallback replicas apply
      [true, 3, "voted"], // back: 2 waiting, but the band keeps 3 on the way down from 5
    ]);
    expect(decisions[3]?.drivingFactor).toBe("hold");
    expect(decisions[5]?.summary).toContain("more than unavailableAfterSeconds 300");
  });

  it("counts unavailableAfterSeconds from the last fresh reading, even when a signal abstained on held values", () => {
    const allBroken = {
      queueBacklog: broken(),
      ttftP95Seconds: broken(),
      ttftRequestsPerSecond: broken(),
      replicasReady: broken(),
    };
    const decisions = timeline(
      specOf({
        ...PLAIN,
        queueMode: "perReplica",
        messagesPerReplica: "1",
        targetUtilisation: "1",
        failStaticHoldSeconds: "120",
        unavailableAfterSeconds: "300",
      }),
      NOON,
      [
        // TTFT is fine and 5 replicas are ready for 3 waiting: the queue votes, TTFT abstains.
        {
          afterSeconds: 0,
          readings: { queueBacklog: 3, ttftP95Seconds: 0.5, ttftRequestsPerSecond: 5, replicasReady: 5 },
        },
        { afterSeconds: 60, readings: allBroken },
        { afterSeconds: 200, readings: allBroken },
        { afterSeconds: 301, readings: allBroken },
      ],
    );
    expect(verdictOf(decisions[1]!, "ttft")?.status).toBe("abstained");
    expect(decisions.map((d) => d.available)).toEqual([true, true, true, false]);
  });

  it("never scales down, nor to zero, while a signal is missing", () => {
    const decisions = timeline(specOf({ ...PLAIN, failStaticHoldSeconds: "0" }), NOON, [
      {
        afterSeconds: 0,
        readings: { queueBacklog: 400, kvCacheUsage: 0.5, replicasReady: 3, vllmRunning: 10 },
      },
      {
        afterSeconds: 15,
        readings: { queueBacklog: broken(), kvCacheUsage: 0, replicasReady: 3, vllmRunning: 0 },
      },
    ]);
    expect(decisions[0]?.desiredReplicas).toBe(5);
    expect(decisions[1]).toMatchObject({ available: true, desiredReplicas: 5, metricValue: 5, active: true });
    expect(decisions[1]?.rules.map((r) => r.rule)).toContain("no-scale-down-on-missing-data");
  });

  it("stays active while the backlog is unknown, even if the signals left say idle", () => {
    const decisions = timeline(spec, NOON, [
      { afterSeconds: 0, readings: { queueBacklog: 1 } },
      { afterSeconds: 150, readings: { queueBacklog: broken(), gpuUtilisation: 0.01, replicasReady: 3 } },
    ]);
    expect(decisions[1]).toMatchObject({ available: true, desiredReplicas: 1, metricValue: 1, active: true });
  });

  it("does not answer zero on a partial failure with no previous answer", () => {
    const decision = decideOnce(specOf(), { queueBacklog: broken(), kvCacheUsage: 0, replicasReady: 0 });
    expect(decision.available).toBe(false);
    expect(decision.summary).toContain("missing data never scales to zero");
  });

  it("keeps the memory bounded: one last good value per signal kind", () => {
    let memory = decide(spec, readingsOf({ queueBacklog: 1 }, NOON), NOON).memory;
    for (let i = 1; i <= 1000; i++)
      memory = decide(
        spec,
        readingsOf({ queueBacklog: i % 7, vllmRunning: 1 }, NOON + i * 1000),
        NOON + i * 1000,
        memory,
      ).memory;
    expect(Object.keys(memory.lastGood ?? {}).sort()).toEqual(["queueBacklog", "vllmRunning"]);
    expect(memory.recent).toBeUndefined();
  });

  it("remembers a good reading by keeping the source's own reading, not a copy of it", () => {
    const readings = readingsOf({ queueBacklog: 12, vllmRunning: 3 }, NOON);
    const { lastGood } = decide(spec, readings, NOON).memory;
    expect(lastGood?.queueBacklog).toBe(readings.queueBacklog);
    expect(lastGood?.vllmRunning).toBe(readings.vllmRunning);
  });
});

describe("activation and scale-to-zero (a dev workload that may sleep)", () => {
  const dev = specOf({ minReplicas: "0", maxReplicas: "2" });

  it("scales to zero when the floor is zero and nothing waits or runs", () => {
    const decisions = timeline(dev, NOON, [
      { afterSeconds: 0, readings: { queueBacklog: 30, replicasReady: 1, vllmRunning: 4 } },
      { afterSeconds: 60, readings: { queueBacklog: 0, replicasReady: 1, vllmRunning: 0, kvCacheUsage: 0 } },
    ]);
    expect(decisions[0]).toMatchObject({ metricValue: 1, active: true });
    expect(decisions[1]).toMatchObject({ desiredReplicas: 0, metricValue: 0, active: false });
  });

  it("stays active through a quiet instant between bursts while the signals still see load", () => {
    // Nothing waits or runs at this poll, but requests arrived in the rate window (3 req/s).
    const decision = decideOnce(specOf(), {
      queueBacklog: 0,
      vllmWaiting: 0,
      vllmRunning: 0,
      ttftRequestsPerSecond: 3,
      replicasDesired: 4,
      replicasReady: 4,
    });
    // (3 req/s ÷ 2 per replica) ÷ 0.7 → 3.
    expect(decision).toMatchObject({ active: true, metricValue: 3 });
    expect(decision.rules.map((r) => r.rule)).not.toContain("activation");
  });

  it("wakes from zero on the first waiting request", () => {
    expect(decideOnce(dev, { queueBacklog: 1, replicasReady: 0 })).toMatchObject({
      metricValue: 1,
      active: true,
    });
  });

  /** At zero pods every vLLM and DCGM query is empty: that is the state of a scaled-to-zero Deployment. */
  const podSignalsEmpty = {
    vllmWaiting: empty(),
    vllmRunning: empty(),
    ttftP95Seconds: empty(),
    ttftRequestsPerSecond: empty(),
    kvCacheUsage: empty(),
    gpuUtilisation: empty(),
    tokensPerSecondPerPod: empty(),
  };

  it("reads the pods' empty metrics at zero ready replicas as nothing waiting, not as missing data", () => {
    const decisions = timeline(dev, NOON, [
      {
        afterSeconds: 0,
        readings: { queueBacklog: 2, vllmWaiting: 0, vllmRunning: 1, replicasReady: 1, replicasDesired: 1 },
      },
      {
        afterSeconds: 60,
        readings: { queueBacklog: 0, ...podSignalsEmpty, replicasReady: 0, replicasDesired: 1 },
      },
    ]);
    expect(decisions[1]).toMatchObject({
      available: true,
      desiredReplicas: 0,
      metricValue: 0,
      active: false,
    });
    expect(decisions[1]?.rules.map((r) => r.rule)).toContain("no-ready-pods");
  });

  it("wakes from zero on Service Bus messages while the pods' metrics are empty", () => {
    const decision = decideOnce(dev, {
      queueBacklog: 3,
      ...podSignalsEmpty,
      replicasReady: 0,
      replicasDesired: 0,
    });
    expect(decision).toMatchObject({ available: true, metricValue: 1, active: true, drivingFactor: "queue" });
  });

  it("treats empty pod metrics as missing data while replicas are ready (a selector or scrape problem)", () => {
    const decisions = timeline(specOf({ ...PLAIN, failStaticHoldSeconds: "0" }), NOON, [
      { afterSeconds: 0, readings: { queueBacklog: 240, vllmWaiting: 0, replicasReady: 3 } },
      { afterSeconds: 30, readings: { queueBacklog: 0, vllmWaiting: empty(), replicasReady: 3 } },
    ]);
    expect(decisions[1]).toMatchObject({ desiredReplicas: decisions[0]?.desiredReplicas, active: true });
    expect(decisions[1]?.rules.map((r) => r.rule)).toContain("no-scale-down-on-missing-data");
  });

  it("stays inactive at or below activationBacklog, unless requests are running", () => {
    const spec = specOf({ activationBacklog: "2", queueMode: "perReplica", messagesPerReplica: "1" });
    const idle = decideOnce(spec, { queueBacklog: 2, vllmRunning: 0 });
    expect(idle).toMatchObject({ metricValue: 0, active: false });
    expect(idle.rules.map((r) => r.rule)).toContain("activation");
    expect(decideOnce(spec, { queueBacklog: 2, vllmRunning: 1 })).toMatchObject({
      metricValue: 3,
      active: true,
    });
  });
});

describe("clamps", () => {
  it("never asks for more than maxReplicas, and says so", () => {
    const decision = decideOnce(specOf({ maxReplicas: "4" }), { queueBacklog: 10_000 });
    expect(decision).toMatchObject({ desiredReplicas: 4, drivingFactor: "maxReplicas" });
    expect(decision.rules.map((r) => r.rule)).toContain("maxReplicas");
  });

  it("never asks for fewer than minReplicas", () => {
    expect(decideOnce(specOf({ minReplicas: "2" }), { queueBacklog: 0 })).toMatchObject({
      desiredReplicas: 2,
      active: true,
      drivingFactor: "minReplicas",
    });
  });
});

describe("advisory (shadow) mode", () => {
  const spec = specOf({ mode: "advisory" });

  it("computes everything but reports the current count, so nothing moves", () => {
    const decision = decideOnce(spec, { queueBacklog: 600, replicasDesired: 3, replicasReady: 3 });
    expect(decision).toMatchObject({ desiredReplicas: 8, metricValue: 3, active: true });
    expect(decision.rules.find((r) => r.rule === "advisory")?.note).toContain("would ask for 8");
  });

  it("keeps a Deployment at zero at zero", () => {
    expect(decideOnce(spec, { queueBacklog: 50, replicasDesired: 0 })).toMatchObject({
      metricValue: 0,
      active: false,
    });
  });

  it("abstain: reports 0 and inactive, so beside other triggers it never outvotes them", () => {
    const decision = decideOnce(specOf({ mode: "advisory", advisoryAnswer: "abstain" }), {
      queueBacklog: 600,
      replicasDesired: 3,
    });
    expect(decision).toMatchObject({ desiredReplicas: 8, metricValue: 0, active: false, available: true });
    expect(decision.rules.find((r) => r.rule === "advisory")?.note).toContain("would ask for 8");
  });

  it("answers UNAVAILABLE when it cannot see the current count (the HPA then holds)", () => {
    expect(decideOnce(spec, { queueBacklog: 50 }).available).toBe(false);
  });
});

describe("role=headroom (placeholder pods for warm GPU nodes)", () => {
  const headroom = { role: "headroom", spareReplicas: "2", maxReplicas: "3" };

  it("keeps spareReplicas placeholders while the serving side is warm", () => {
    const decision = decideOnce(specOf(headroom), { queueBacklog: 240, replicasReady: 3, vllmRunning: 8 });
    expect(decision).toMatchObject({
      role: "headroom",
      desiredReplicas: 2,
      metricValue: 2,
      active: true,
      servingReplicas: 3,
    });
  });

  it("keeps none while the serving side is cold (nights, weekends: zero GPU cost)", () => {
    expect(decideOnce(specOf(headroom), { queueBacklog: 0, vllmRunning: 0 })).toMatchObject({
      desiredReplicas: 0,
      active: false,
    });
  });

  it("follows the warm floor: placeholders from the pre-warm on", () => {
    const spec = specOf({ ...headroom, warmFloorSchedule: "Asia/Singapore Mon-Fri 08:00-23:00" });
    expect(
      decideOnce(spec, { queueBacklog: 0 }, Date.parse("2026-11-23T07:45:00+08:00")).desiredReplicas,
    ).toBe(2);
    expect(
      decideOnce(spec, { queueBacklog: 0 }, Date.parse("2026-11-23T07:44:00+08:00")).desiredReplicas,
    ).toBe(0);
  });

  it("keeps no more spare than the serving side can still grow into (servingMaxReplicas)", () => {
    const spec = specOf({ ...headroom, servingMaxReplicas: "8" });
    // 600 waiting drain in 60 s at 2 req/s per replica: 5 of load → 8 serving, the serving max.
    const atMax = decideOnce(spec, { queueBacklog: 600, vllmRunning: 8 });
    expect(atMax).toMatchObject({ servingReplicas: 8, desiredReplicas: 0 });
    const nearMax = decideOnce(spec, { queueBacklog: 540, vllmRunning: 8 });
    expect(nearMax).toMatchObject({ servingReplicas: 7, desiredReplicas: 1 });
    expect(nearMax.rules.find((r) => r.rule === "headroom-role")?.note).toContain("can grow by 1 more");
  });

  it("may keep as many placeholders as its own maxReplicas, and no more is accepted", () => {
    const spec = specOf({ role: "headroom", spareReplicas: "3", maxReplicas: "3" });
    expect(decideOnce(spec, { queueBacklog: 240, vllmRunning: 1 }).desiredReplicas).toBe(3);
    expect(() => specOf({ role: "headroom", spareReplicas: "5", maxReplicas: "3" })).toThrow(
      "scalerMetadata.spareReplicas (5) must be at most maxReplicas (3)",
    );
  });
});

describe("explainability", () => {
  it("carries every signal's verdict, the floor and a sentence", () => {
    const decision = decideOnce(
      specOf({ warmFloorSchedule: "Asia/Singapore Mon-Fri 08:00-23:00" }),
      {
        queueBacklog: 0,
        ttftP95Seconds: 2.1,
        ttftRequestsPerSecond: 0,
        replicasReady: 1,
        replicasDesired: 1,
      },
      Date.parse("2026-11-23T08:00:00+08:00"),
    );
    expect(decision.signals.map((v) => [v.signal, v.status])).toEqual([
      ["queue", "voted"],
      ["ttft", "abstained"],
      ["kvCache", "disabled"],
      ["gpu", "disabled"],
      ["tokens", "disabled"],
      ["concurrency", "disabled"],
      ["e2e", "disabled"],
      ["gpuMemory", "disabled"],
    ]);
    expect(decision).toMatchObject({ floorReplicas: 1, drivingFactor: "floor", desiredReplicas: 1 });
    expect(decision.summary).toMatch(
      /^1 replica\(s\): warm floor 1 \(warm window "Asia\/Singapore Mon-Fri 08:00-23:00"/,
    );
  });
});
