import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { type RunningScaler, startScalerServer } from "../../src/server/scaler-server.ts";
import { createSignalSource } from "../../src/sources/collect.ts";
import {
  DcgmExporter,
  KubeStateMetricsExporter,
  type PrometheusHarness,
  startPrometheus,
  VllmPodExporter,
} from "../support/prometheus.ts";
import { KedaLikeClient } from "../support/scaler-harness.ts";

/**
 * A tenant in namespace `attacker` (no pods of its own) tries to read the `victim` namespace's
 * busy fleet through every metadata value that reaches a PromQL query, over gRPC, against a real
 * Prometheus. Any answer other than INVALID_ARGUMENT or UNAVAILABLE would mean it saw foreign data.
 */

const VICTIM = "victim";
const victimPod = new VllmPodExporter(VICTIM, "vllm-chat-7d9f8b6c5-x2k4p", "llama-3-70b");
const dcgm = new DcgmExporter();
const ksm = new KubeStateMetricsExporter();
let prometheus: PrometheusHarness;
let scaler: RunningScaler;
let client: KedaLikeClient;

const ESCAPES = [
  '"} or vllm:num_requests_waiting{namespace="victim',
  'x", namespace="victim',
  'x",namespace!="attacker',
  'x"}) or on() vector(1000) or (up{a="',
  ".*",
  'x"} or {__name__=~".+',
  'x\\"} or vllm:num_requests_waiting #',
  "x\n} or vllm:num_requests_waiting{",
  "vllm-chat|.*",
  "victim/vllm-chat",
  "}",
  "x' or '1'='1",
];

/** Each metadata key that ends up in a query the scaler builds, with hostile values. */
const ATTEMPTS: [string, string][] = [
  ...ESCAPES.flatMap((value): [string, string][] => [
    ["modelName", value],
    ["deployment", value],
    ["podPrefix", value],
  ]),
  ["rateWindow", "2m]) or vllm:num_requests_waiting[2m"],
  ["rateWindow", "2m] offset -1h"],
  ["gpuMetric", 'util"} or DCGM_FI_DEV_GPU_UTIL{namespace="victim'],
  // Full queries are for operators: refused unless ALLOW_CUSTOM_QUERIES, and namespace-checked then.
  ["waitingQuery", 'sum(vllm:num_requests_waiting{namespace="victim"})'],
  ["waitingQuery", "sum(vllm:num_requests_waiting)"],
  ["waitingQuery", 'sum(vllm:num_requests_waiting{namespace=~"attacker|victim"})'],
  [
    "waitingQuery",
    'sum(vllm:num_requests_waiting{namespace="attacker"}) or sum(vllm:num_requests_waiting{namespace!="attacker"})',
  ],
  ["waitingQuery", 'sum(vllm:num_requests_waiting{namespace="attacker",namespace="victim"})'],
  ["kvCacheQuery", 'avg({__name__="vllm:kv_cache_usage_perc"})'],
];

beforeAll(async () => {
  victimPod.setWaiting(1000);
  victimPod.setRunning(64);
  victimPod.setKvCacheUsage(0.99);
  dcgm.setGpu({
    index: 0,
    host: "gpu-1",
    pod: { namespace: VICTIM, name: victimPod.pod },
    utilPercent: 99,
    grEngineActive: 0.95,
  });
  ksm.setDeployment(VICTIM, "vllm-chat", { desired: 1, ready: 1 });
  prometheus = await startPrometheus({ vllm: [victimPod], dcgm: [dcgm], kubeStateMetrics: [ksm] });
  await prometheus.waitFor('sum(vllm:num_requests_waiting{namespace="victim"})', (n) => n === 1000);
  await prometheus.waitFor(
    "count(DCGM_FI_DEV_GPU_UTIL) + count(kube_deployment_spec_replicas)",
    (n) => n === 2,
  );
  const env = {
    LISTEN_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    PROMETHEUS_URL: prometheus.url,
    ALLOW_CUSTOM_QUERIES: "true",
    SOURCE_CACHE_TTL_MS: "0",
  };
  const config = loadServiceConfig(env);
  scaler = await startScalerServer({
    config,
    env,
    source: createSignalSource(config),
    logger: pino({ level: "silent" }),
  });
  client = new KedaLikeClient(`127.0.0.1:${scaler.grpcPort}`);
}, 60_000);

afterAll(async () => {
  client?.close();
  await scaler?.shutdown();
  await prometheus?.stop();
});

async function answer(namespace: string, metadata: Record<string, string>) {
  const so = { name: "vllm-chat", namespace, scalerMetadata: { scalerAddress: "scaler:6000", ...metadata } };
  try {
    const response = await client.call<{ metricValues: { metricValueFloat: number }[] }>(
      "GetMetrics",
      { scaledObjectRef: so, metricName: "llm-desired-replicas" },
      5000,
    );
    return { code: grpc.status.OK, value: response.metricValues[0]!.metricValueFloat, details: "" };
  } catch (error) {
    const e = error as grpc.ServiceError;
    return { code: e.code, value: undefined, details: e.details };
  }
}

describe("PromQL injection through scalerMetadata (real Prometheus, over gRPC)", () => {
  it("the victim's own ScaledObject does see its busy fleet (the attack target is real)", async () => {
    const own = await answer(VICTIM, {});
    expect(own.code, own.details).toBe(grpc.status.OK);
    expect(own.value).toBeGreaterThan(1);
  });

  it(`refuses or finds nothing for all ${ATTEMPTS.length} attempts from another namespace`, async () => {
    const outcomes = await Promise.all(ATTEMPTS.map(([key, value]) => answer("attacker", { [key]: value })));
    const leaks = outcomes
      .map((outcome, i) => ({ attempt: ATTEMPTS[i], ...outcome }))
      .filter((o) => o.code !== grpc.status.INVALID_ARGUMENT && o.code !== grpc.status.UNAVAILABLE);
    expect(leaks).toEqual([]);
    const refusedAtParse = outcomes.filter((o) => o.code === grpc.status.INVALID_ARGUMENT).length;
    // Most are caught by validation before any query is built; the rest run scoped and find nothing.
    expect(refusedAtParse).toBeGreaterThan(ATTEMPTS.length / 2);
    for (const o of outcomes)
      if (o.code === grpc.status.INVALID_ARGUMENT) expect(o.details).toMatch(/scalerMetadata\.\w+/);
  }, 60_000);
});
