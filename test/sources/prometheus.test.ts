import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { parseScalerSpec } from "../../src/config/spec.ts";
import type { Reading } from "../../src/readings/reading.ts";
import type { SignalReadings } from "../../src/readings/signal-table.ts";
import { startScalerServer } from "../../src/server/scaler-server.ts";
import { createSignalSource, type ScalerSignalSource } from "../../src/sources/collect.ts";
import {
  DcgmExporter,
  KubeStateMetricsExporter,
  type PrometheusHarness,
  startPrometheus,
  VllmPodExporter,
} from "../support/prometheus.ts";
import { KedaLikeClient, ONE_PER_MESSAGE, ref } from "../support/scaler-harness.ts";

/**
 * The Prometheus source against a real Prometheus scraping exporters with vLLM, DCGM and
 * kube-state-metrics names: two namespaces, two models, a sibling Deployment whose pods share the
 * target's name prefix, and an older vLLM with the legacy KV-cache metric.
 */

const LLAMA = "meta-llama/Llama-3.1-8B-Instruct";
const QWEN = "Qwen/Qwen2.5-7B-Instruct";

const pods = {
  a1: new VllmPodExporter("team-a", "llama-7d9f8b6c5-x2k4p", LLAMA),
  a2: new VllmPodExporter("team-a", "llama-7d9f8b6c5-q8z7m", LLAMA, true),
  guard: new VllmPodExporter("team-a", "llama-guard-5c4b9d7f8-abcde", LLAMA),
  qwen: new VllmPodExporter("team-a", "qwen-6b7c8d9e0-ppppp", QWEN),
  b1: new VllmPodExporter("team-b", "llama-7d9f8b6c5-bbbbb", LLAMA),
};
const dcgm = new DcgmExporter();
const ksm = new KubeStateMetricsExporter();

let prometheus: PrometheusHarness;
let ticker: NodeJS.Timeout;

const env = (extra: Record<string, string> = {}) => ({
  PROMETHEUS_URL: "",
  SOURCE_CACHE_TTL_MS: "0",
  ...extra,
});

function sourceFor(extra: Record<string, string> = {}): ScalerSignalSource {
  return createSignalSource(loadServiceConfig(env({ PROMETHEUS_URL: prometheus.url, ...extra })));
}

function spec(namespace: string, name: string, metadata: Record<string, string> = {}) {
  return parseScalerSpec({ name, namespace }, { rateWindow: "10s", ...metadata }, {});
}

function value(reading: Reading | undefined): number {
  if (!reading) throw new Error("no reading");
  if (!reading.ok) throw new Error(`${reading.failure.kind}: ${reading.failure.message}`);
  return reading.value;
}

function failureKind(reading: Reading | undefined): string | undefined {
  return reading && !reading.ok ? reading.failure.kind : undefined;
}

beforeAll(async () => {
  pods.a1.setWaiting(3);
  pods.a1.setRunning(5);
  pods.a1.setKvCacheUsage(0.4);
  pods.a2.setWaiting(4);
  pods.a2.setRunning(6);
  pods.a2.setKvCacheUsage(0.6);
  pods.guard.setWaiting(50);
  pods.qwen.setWaiting(9);
  pods.b1.setWaiting(100);
  pods.b1.setKvCacheUsage(0.99);
  dcgm.setGpu({
    index: 0,
    host: "node-1",
    pod: { namespace: "team-a", name: pods.a1.pod },
    utilPercent: 80,
    grEngineActive: 0.7,
    framebufferMiB: { used: 61_440, free: 20_480 },
  });
  dcgm.setGpu({
    index: 1,
    host: "node-1",
    pod: { namespace: "team-a", name: pods.a2.pod },
    utilPercent: 60,
    grEngineActive: 0.5,
    framebufferMiB: { used: 40_960, free: 40_960 },
  });
  dcgm.setGpu({ index: 2, host: "node-1", utilPercent: 0, grEngineActive: 0 });
  dcgm.setGpu({
    index: 0,
    host: "node-2",
    pod: { namespace: "team-b", name: pods.b1.pod },
    utilPercent: 10,
    grEngineActive: 0.1,
    framebufferMiB: { used: 81_920, free: 0 },
  });
  ksm.setDeployment("team-a", "llama", { desired: 3, ready: 2 });
  ksm.setDeployment("team-b", "llama", { desired: 1, ready: 1 });
  // A steady stream: per tick 18 requests at 0.3 s and 2 at 1.5 s TTFT on each llama pod, so the
  // 95th percentile falls in the (1, 2.5] bucket at 1 + (19 - 18) / (20 - 18) × 1.5 = 1.75 s; and
  // 100 generated tokens per pod per 100 ms (1000 tokens/s). The same 20 requests finish 18 at
  // 2 s and 2 at 12 s end to end: the 95th percentile falls in the (10, 15] bucket at
  // 10 + (19 - 18) / (20 - 18) × 5 = 12.5 s.
  const tick = () => {
    for (const pod of [pods.a1, pods.a2, pods.b1]) {
      pod.observeTtft([...Array(18).fill(0.3), 1.5, 1.5]);
      pod.observeE2eLatency([...Array(18).fill(2), 12, 12]);
      pod.addGenerationTokens(100);
      pod.addPromptTokens(500);
    }
  };
  tick();
  ticker = setInterval(tick, 100);
  prometheus = await startPrometheus({ vllm: Object.values(pods), dcgm: [dcgm], kubeStateMetrics: [ksm] });
  // rate() needs two scrapes of every target; poll rather than sleep.
  await prometheus.waitFor("count(rate(vllm:generation_tokens_total[10s]))", (n) => n === 5);
  await prometheus.waitFor("count(rate(vllm:generation_tokens_total[10s]) > 0)", (n) => n === 3);
  await prometheus.waitFor(
    "count(kube_deployment_spec_replicas) + count(DCGM_FI_DEV_GPU_UTIL)",
    (n) => n === 6,
  );
});

afterAll(async () => {
  clearInterval(ticker);
  await prometheus?.stop();
});

describe("Prometheus source (real Prometheus)", () => {
  it("reads every signal of a ScaledObject from its namespace and its Deployment's pods only", async () => {
    const source = sourceFor();
    const readings = await source.read(spec("team-a", "llama", { modelName: LLAMA }), { nowMs: Date.now() });
    // 3 + 4: not the sibling llama-guard pod (50), not qwen (9), not team-b (100).
    expect(value(readings.vllmWaiting)).toBe(7);
    expect(value(readings.vllmRunning)).toBe(11);
    // One pod on the new KV-cache name, one on the legacy name: both count.
    expect(value(readings.kvCacheUsage)).toBeCloseTo(0.5, 6);
    // DCGM percent → 0–1; the idle GPU and team-b's GPU are not the target's.
    expect(value(readings.gpuUtilisation)).toBeCloseTo(0.7, 6);
    expect(value(readings.replicasDesired)).toBe(3);
    expect(value(readings.replicasReady)).toBe(2);
    expect(value(readings.replicasUnavailable)).toBe(1);
    expect(value(readings.ttftP95Seconds)).toBeCloseTo(1.75, 3);
    // Timers drift on a busy box, so rates are checked against each other: every tick adds 20
    // requests and 100 tokens to each of the two pods, in the same scrape, so tokens per pod per
    // second is 100 / 20 / 2 pods = 2.5 × the requests per second of both pods (within a few
    // per cent: the two queries may straddle a scrape).
    const requestsPerSecond = value(readings.ttftRequestsPerSecond);
    expect(requestsPerSecond).toBeGreaterThan(0);
    const ratio = value(readings.tokensPerSecondPerPod) / (2.5 * requestsPerSecond);
    expect(ratio).toBeGreaterThan(0.9);
    expect(ratio).toBeLessThan(1.1);
    // vllm:prompt_tokens_total and vllm:generation_tokens_total summed over the target's pods:
    // 500 prompt and 100 generated tokens per 20 requests, i.e. 25 and 5 tokens per request.
    const tokenSpec = spec("team-a", "llama", {
      modelName: LLAMA,
      prefillTokensPerSecondPerReplica: "10000",
      decodeTokensPerSecondPerReplica: "2000",
    });
    const tokens = await source.read(tokenSpec, { nowMs: Date.now() });
    const served = value(tokens.ttftRequestsPerSecond);
    expect(value(tokens.promptTokensPerSecond) / served).toBeGreaterThan(25 * 0.9);
    expect(value(tokens.promptTokensPerSecond) / served).toBeLessThan(25 * 1.1);
    expect(value(tokens.generationTokensPerSecond) / served).toBeGreaterThan(5 * 0.9);
    expect(value(tokens.generationTokensPerSecond) / served).toBeLessThan(5 * 1.1);
    // Only read when capacity learning converts tokens into requests per second.
    expect(readings.promptTokensPerSecond).toBeUndefined();
    // observedAt is the samples' own time: within a few scrape intervals of now.
    const reading = readings.vllmWaiting;
    expect(reading?.ok && Date.now() - reading.observedAtMs).toBeLessThan(10_000);
    expect(readings.queueBacklog).toBeUndefined();
    await source.close();
  });

  it("reads end-to-end latency P95 and GPU memory use once their targets are set", async () => {
    const source = sourceFor();
    const targets = { e2eTargetSeconds: "10", gpuMemoryTarget: "0.9" };
    const readings = await source.read(spec("team-a", "llama", { modelName: LLAMA, ...targets }), {
      nowMs: Date.now(),
    });
    expect(value(readings.e2eP95Seconds)).toBeCloseTo(12.5, 3);
    // Each request is counted by both histograms in the same tick: the same rate, within a scrape.
    const ratio = value(readings.e2eRequestsPerSecond) / value(readings.ttftRequestsPerSecond);
    expect(ratio).toBeGreaterThan(0.9);
    expect(ratio).toBeLessThan(1.1);
    // (60 GiB of 80 + 40 of 80) / 2: not the idle GPU, not team-b's full one.
    expect(value(readings.gpuMemoryUsage)).toBeCloseTo(0.625, 6);
    const teamB = await source.read(spec("team-b", "llama", targets), { nowMs: Date.now() });
    expect(value(teamB.gpuMemoryUsage)).toBeCloseTo(1, 6);
    expect(value(teamB.e2eP95Seconds)).toBeCloseTo(12.5, 3);
    // Without traffic the percentile is NaN, and a Deployment without pods has no GPU to read.
    const idle = await source.read(spec("team-a", "qwen", targets), { nowMs: Date.now() });
    expect(failureKind(idle.e2eP95Seconds)).toBe("not_a_number");
    expect(value(idle.e2eRequestsPerSecond)).toBe(0);
    const none = await source.read(spec("team-a", "mistral", targets), { nowMs: Date.now() });
    expect(failureKind(none.gpuMemoryUsage)).toBe("empty");
    expect(none.gpuMemoryUsage?.ok === false && none.gpuMemoryUsage.failure.message).toContain(
      "DCGM_FI_DEV_FB_USED",
    );
    await source.close();
  });

  it("reads neither new signal while its target is unset", async () => {
    const source = sourceFor();
    const readings = await source.read(spec("team-a", "llama"), { nowMs: Date.now() });
    expect(readings.e2eP95Seconds).toBeUndefined();
    expect(readings.e2eRequestsPerSecond).toBeUndefined();
    expect(readings.gpuMemoryUsage).toBeUndefined();
    await source.close();
  });

  it("keeps namespaces apart: the same Deployment name in another namespace reads its own pods", async () => {
    const source = sourceFor();
    const readings = await source.read(spec("team-b", "llama"), { nowMs: Date.now() });
    expect(value(readings.vllmWaiting)).toBe(100);
    expect(value(readings.kvCacheUsage)).toBeCloseTo(0.99, 6);
    expect(value(readings.gpuUtilisation)).toBeCloseTo(0.1, 6);
    expect(value(readings.replicasDesired)).toBe(1);
    await source.close();
  });

  it("filters by model and reads DCGM's graphics-engine ratio when asked", async () => {
    const source = sourceFor();
    const qwen = await source.read(spec("team-a", "qwen", { modelName: QWEN }), { nowMs: Date.now() });
    expect(value(qwen.vllmWaiting)).toBe(9);
    const wrongModel = await source.read(spec("team-a", "llama", { modelName: QWEN }), { nowMs: Date.now() });
    expect(failureKind(wrongModel.vllmWaiting)).toBe("empty");
    const engine = await source.read(spec("team-a", "llama", { gpuMetric: "grEngineActive" }), {
      nowMs: Date.now(),
    });
    expect(value(engine.gpuUtilisation)).toBeCloseTo(0.6, 6);
    await source.close();
  });

  it("reports a Deployment without pods as empty, never as zero", async () => {
    const source = sourceFor();
    const readings = await source.read(spec("team-a", "mistral"), { nowMs: Date.now() });
    expect(failureKind(readings.vllmWaiting)).toBe("empty");
    expect(readings.vllmWaiting?.ok === false && readings.vllmWaiting.failure.message).toContain(
      "Deployment mistral",
    );
    expect(failureKind(readings.replicasDesired)).toBe("empty");
    expect(failureKind(readings.gpuUtilisation)).toBe("empty");
    await source.close();
  });

  it("reports a TTFT percentile without traffic as not_a_number", async () => {
    const source = sourceFor();
    const readings = await source.read(spec("team-a", "qwen"), { nowMs: Date.now() });
    expect(failureKind(readings.ttftP95Seconds)).toBe("not_a_number");
    expect(value(readings.ttftRequestsPerSecond)).toBe(0);
    await source.close();
  });

  it("reports samples older than SOURCE_STALE_AFTER_SECONDS as stale", async () => {
    const source = sourceFor({ SOURCE_STALE_AFTER_SECONDS: "60" });
    const readings = await source.read(spec("team-a", "llama"), { nowMs: Date.now() + 5 * 60_000 });
    for (const key of ["vllmWaiting", "kvCacheUsage", "gpuUtilisation", "replicasReady"] as const)
      expect(failureKind(readings[key]), key).toBe("stale");
    await source.close();
  });

  it("shares one interpretation of an answer between ScaledObjects, and re-judges its staleness as time passes", async () => {
    const source = sourceFor({
      SOURCE_CACHE_TTL_MS: "60000",
      SOURCE_STALE_AFTER_SECONDS: "60",
      SOURCE_HISTORY_REFRESH_MS: "20000",
    });
    const now = Date.now();
    const first = await source.read(spec("team-a", "llama"), { nowMs: now });
    const second = await source.read(spec("team-a", "llama-twin", { deployment: "llama" }), { nowMs: now });
    expect(first.replicasReady?.ok).toBe(true);
    // The same query, answered once and read once: the twin gets the very same reading.
    expect(second.replicasReady).toBe(first.replicasReady);
    expect(second.vllmWaiting).toBe(first.vllmWaiting);
    // The same cached answer five minutes later: too old now, whoever asks.
    const later = await source.read(spec("team-a", "llama"), { nowMs: now + 5 * 60_000 });
    for (const key of ["vllmWaiting", "replicasReady", "ttftP95Seconds"] as const)
      expect(failureKind(later[key]), key).toBe("stale");
    const again = await source.read(spec("team-a", "llama"), { nowMs: now });
    expect(again.replicasReady?.ok).toBe(true);
    await source.close();
  });

  it("matches a podPrefix literally: regex characters in it cannot widen the pod selector", async () => {
    const source = sourceFor();
    // "llama.7d9f" as a regex would match llama-7d9f8b6c5-…; as a literal prefix it matches none.
    const dotted = await source.read(spec("team-a", "llama", { podPrefix: "llama.7d9f" }), {
      nowMs: Date.now(),
    });
    expect(failureKind(dotted.vllmWaiting)).toBe("empty");
    // An explicit prefix is a plain prefix: it includes the sibling Deployment's pods on purpose.
    const prefix = await source.read(spec("team-a", "llama", { podPrefix: "llama" }), { nowMs: Date.now() });
    expect(value(prefix.vllmWaiting)).toBe(57);
    await source.close();
  });

  it("refuses a namespace that is not a Kubernetes name instead of putting it into PromQL", async () => {
    const source = sourceFor();
    const injected = 'team-a"} or vllm:num_requests_waiting{namespace="team-b';
    const readings = await source.read(spec(injected, "llama"), { nowMs: Date.now() });
    expect(failureKind(readings.vllmWaiting)).toBe("forbidden_query");
    expect(source.stats().upstreamRequests).toBe(0);
    await source.close();
  });

  it("runs a custom query only when the operator allows it, and only inside the namespace", async () => {
    const custom = { waitingQuery: 'max(vllm:num_requests_waiting{namespace="team-a", pod=~"llama-.*"})' };
    const off = sourceFor();
    const refused = await off.read(spec("team-a", "llama", custom), { nowMs: Date.now() });
    expect(failureKind(refused.vllmWaiting)).toBe("forbidden_query");
    expect(refused.vllmWaiting?.ok === false && refused.vllmWaiting.failure.message).toContain(
      "ALLOW_CUSTOM_QUERIES",
    );
    await off.close();

    const on = sourceFor({ ALLOW_CUSTOM_QUERIES: "true" });
    const allowed = await on.read(spec("team-a", "llama", custom), { nowMs: Date.now() });
    expect(value(allowed.vllmWaiting)).toBe(50);
    const crossTenant = await on.read(
      spec("team-a", "llama", {
        waitingQuery:
          'sum(vllm:num_requests_waiting{namespace="team-a"}) or sum(vllm:num_requests_waiting{namespace="team-b"})',
      }),
      { nowMs: Date.now() },
    );
    expect(failureKind(crossTenant.vllmWaiting)).toBe("forbidden_query");
    const manySeries = await on.read(
      spec("team-a", "llama", { waitingQuery: 'vllm:num_requests_waiting{namespace="team-a"}' }),
      { nowMs: Date.now() },
    );
    expect(failureKind(manySeries.vllmWaiting)).toBe("bad_response");
    await on.close();
  });

  it("sends one upstream request per distinct query, however many ScaledObjects and RPCs ask", async () => {
    const source = sourceFor({ SOURCE_CACHE_TTL_MS: "60000" });
    const scaledObjects = Array.from({ length: 20 }, (_, i) =>
      parseScalerSpec(
        { name: `llama-so-${i}`, namespace: i % 2 ? "team-a" : "team-b" },
        { deployment: "llama", rateWindow: "10s" },
        {},
      ),
    );
    const poll = () =>
      Promise.all(
        // KEDA's poll: GetMetrics and IsActive for every ScaledObject.
        scaledObjects.flatMap((s) => [
          source.read(s, { nowMs: Date.now() }),
          source.read(s, { nowMs: Date.now() }),
        ]),
      );
    const coldStarted = performance.now();
    const first: SignalReadings[] = await poll();
    const coldMs = performance.now() - coldStarted;
    const afterFirst = source.stats();
    // 26 Prometheus readings per ScaledObject (10 signals, 14 forecast-history queries and the
    // measured lead time's 2) in 5 requests (every vLLM reading, the DCGM utilisation, the three
    // replica counts, the history readings and the two lead-time readings) × 2 namespaces, though
    // 40 reads asked for 1,040 readings.
    const requestsPerSpec = 5;
    const distinct = requestsPerSpec * 2;
    expect(afterFirst.bySource.prometheus.requests).toBe(distinct);
    expect(afterFirst.cacheHits).toBe(40 * requestsPerSpec - distinct);
    const warmStarted = performance.now();
    await poll();
    const warmMs = performance.now() - warmStarted;
    expect(source.stats().upstreamRequests).toBe(distinct);
    expect(first.every((r) => r.vllmWaiting?.ok)).toBe(true);
    const upstreamPerPoll = afterFirst.upstreamRequests;
    // Figures for the README, not assertions: wall-clock time depends on the machine.
    process.stdout.write(
      `[sources] 20 ScaledObjects × (GetMetrics + IsActive): ${upstreamPerPoll} upstream requests per poll ` +
        `(${(upstreamPerPoll / 40).toFixed(2)} per RPC) vs ${40 * requestsPerSpec} uncached; ` +
        `poll of 40 reads ${coldMs.toFixed(0)} ms cold, ${warmMs.toFixed(1)} ms from the cache\n`,
    );
    const exposition = await source.metricsText();
    expect(exposition).toContain(
      `keda_llm_scaler_source_requests_total{source="prometheus",outcome="ok"} ${distinct}`,
    );
    // The thread that made those requests never stopped.
    expect(exposition).toContain("keda_llm_scaler_prometheus_query_thread_stops_total 0");
    await source.close();
  });
});

describe("the scaler service on real Prometheus readings", () => {
  it("answers KEDA's poll from the namespace's vLLM pods with one upstream request per query", async () => {
    const env = {
      LISTEN_HOST: "127.0.0.1",
      GRPC_PORT: "0",
      HTTP_PORT: "0",
      PROMETHEUS_URL: prometheus.url,
      SOURCE_CACHE_TTL_MS: "5000",
    };
    const source = createSignalSource(loadServiceConfig(env));
    const scaler = await startScalerServer({
      config: loadServiceConfig(env),
      env: {},
      source,
      logger: pino({ level: "silent" }),
      sourceMetrics: () => source.metricsText(),
    });
    const client = new KedaLikeClient(`127.0.0.1:${scaler.grpcPort}`);
    try {
      // Only the backlog votes: 7 waiting in team-a's llama pods → 7 replicas at one per request.
      const metadata = {
        ...ONE_PER_MESSAGE,
        deployment: "llama",
        modelName: LLAMA,
        rateWindow: "10s",
        ttftEnabled: "false",
        kvCacheEnabled: "false",
        gpuEnabled: "false",
        tokensEnabled: "false",
      };
      const scaledObjects = Array.from({ length: 10 }, (_, i) => ref(`chat-${i}`, metadata, "team-a"));
      const answers = await Promise.all(
        scaledObjects.map(async (scaledObjectRef) => {
          const metrics = await client.call<{ metricValues: { metricValueFloat: number }[] }>("GetMetrics", {
            scaledObjectRef,
            metricName: "llm-desired-replicas",
          });
          const active = await client.call<{ result: boolean }>("IsActive", scaledObjectRef);
          return { value: metrics.metricValues[0]?.metricValueFloat, active: active.result };
        }),
      );
      expect(answers).toEqual(Array(10).fill({ value: 7, active: true }));
      // vllmWaiting and vllmRunning (one request) and the three replica series (another), shared
      // by all ten ScaledObjects.
      const upstream = source.stats().upstreamRequests;
      expect(upstream).toBe(2);
      process.stdout.write(
        `[sources] through gRPC: 10 ScaledObjects × (GetMetrics + IsActive) → ${upstream} upstream requests\n`,
      );
      const exposition = await (await fetch(`http://127.0.0.1:${scaler.httpPort}/metrics`)).text();
      expect(exposition).toContain(
        'keda_llm_scaler_source_requests_total{source="prometheus",outcome="ok"} 2',
      );
    } finally {
      client.close();
      await scaler.shutdown();
      await source.close();
    }
  });
});
