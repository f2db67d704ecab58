import { describe, expect, it } from "vitest";
import { Cluster } from "../../src/sim/cluster.ts";
import { DEFAULT_MODEL } from "../../src/sim/model.ts";
import { histogramQuantile, Observer } from "../../src/sim/observe.ts";
import { RequestQueue } from "../../src/sim/serving.ts";
import { StartupDraws } from "../../src/sim/startup-draws.ts";

describe("the simulated monitoring pipeline", () => {
  it("computes histogram_quantile as Prometheus does (linear within the bucket)", () => {
    const bounds = [1, 2, 4];
    expect(histogramQuantile(0.5, bounds, [10, 10, 0, 0])).toBe(1);
    expect(histogramQuantile(0.75, bounds, [10, 10, 0, 0])).toBe(1.5);
    expect(histogramQuantile(0.95, bounds, [0, 0, 0, 5])).toBe(4);
    expect(histogramQuantile(0.95, bounds, [0, 0, 0, 0])).toBeUndefined();
  });

  it("shows a scrape only after the scrape interval and the ingestion delay", () => {
    const observer = new Observer(
      { ...DEFAULT_MODEL.observation, scrapeIntervalMs: 15_000, prometheusDelayMs: 15_000 },
      5_000,
    );
    const cluster = new Cluster(
      DEFAULT_MODEL.cluster,
      DEFAULT_MODEL.replica,
      new StartupDraws(DEFAULT_MODEL.cluster, 1),
    );
    cluster.warmStart(2, 0);
    const queue = new RequestQueue();
    queue.push({ count: 7, contextTokens: 10, generatedTokens: 10, arrivalMs: 0 });
    for (let t = 5_000; t <= 30_000; t += 5_000) observer.endTick(t, cluster, queue.length, 2);
    expect(observer.visibleSnapshot(29_999)).toBeUndefined();
    const readings = observer.readings(30_000, queue.length, "util");
    expect(readings.replicasReady).toEqual({ ok: true, value: 2, observedAtMs: 15_000 });
    // The Service Bus count is read live by default.
    expect(readings.queueBacklog).toEqual({ ok: true, value: 7, observedAtMs: 30_000 });
    expect(readings.gpuUtilisation).toEqual({ ok: true, value: 0, observedAtMs: 15_000 });
    // Pods exist but nobody got a first token: the TTFT quantile is NaN, a typed failure.
    expect(readings.ttftP95Seconds?.ok).toBe(false);
  });

  it("reports vLLM and GPU signals as empty, not zero, when no pod serves", () => {
    const observer = new Observer(DEFAULT_MODEL.observation, 5_000);
    const cluster = new Cluster(
      DEFAULT_MODEL.cluster,
      DEFAULT_MODEL.replica,
      new StartupDraws(DEFAULT_MODEL.cluster, 1),
    );
    const queue = new RequestQueue();
    for (let t = 5_000; t <= 60_000; t += 5_000) observer.endTick(t, cluster, queue.length, 0);
    const readings = observer.readings(60_000, 0, "grEngineActive");
    for (const key of ["vllmWaiting", "kvCacheUsage", "gpuUtilisation", "tokensPerSecondPerPod"] as const) {
      const reading = readings[key];
      expect(reading?.ok).toBe(false);
      if (reading && !reading.ok) expect(reading.failure.kind).toBe("empty");
    }
    expect(readings.replicasReady).toMatchObject({ ok: true, value: 0 });
  });

  it("shows one decoding sequence as a busy GPU to GPU_UTIL and GR_ENGINE_ACTIVE (time), a light load only as throughput share", () => {
    const observer = new Observer({ ...DEFAULT_MODEL.observation, prometheusDelayMs: 0 }, 5_000);
    const cluster = new Cluster(
      DEFAULT_MODEL.cluster,
      DEFAULT_MODEL.replica,
      new StartupDraws(DEFAULT_MODEL.cluster, 1),
    );
    cluster.warmStart(1, 0);
    const queue = new RequestQueue();
    queue.push({ count: 1, contextTokens: 0, generatedTokens: 100_000, arrivalMs: 0 });
    const sink = { firstTokens: () => {}, completed: () => {} };
    for (let t = 0; t < 15_000; t += 5_000) {
      cluster.dispatch(queue);
      cluster.processTick(t, 5_000, sink);
      observer.endTick(t + 5_000, cluster, queue.length + cluster.inFlight(), 1);
    }
    const busy = observer.readings(15_000, 0, "util").gpuUtilisation;
    const engine = observer.readings(15_000, 0, "grEngineActive").gpuUtilisation;
    const share = observer.readings(15_000, 0, "throughputShare").gpuUtilisation;
    expect(busy).toMatchObject({ ok: true, value: 1 });
    expect(engine).toMatchObject({ ok: true, value: 1 });
    // 80 of the replica's 2,000 tokens/s: the what-if no DCGM field measures.
    expect(share?.ok && share.value).toBeCloseTo(0.04, 6);
  });
});
