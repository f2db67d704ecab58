import type { AccessToken, TokenCredential } from "@azure/identity";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { fullDecision } from "../../src/server/kept-decision.ts";
import { type RunningScaler, startScalerServer } from "../../src/server/scaler-server.ts";
import { createSignalSource } from "../../src/sources/collect.ts";
import { AzureMonitorEndpoint } from "../support/azure-monitor-endpoint.ts";
import { FakeHttpServer } from "../support/fake-http.ts";
import {
  DcgmExporter,
  KubeStateMetricsExporter,
  type PrometheusHarness,
  startPrometheus,
  VllmPodExporter,
} from "../support/prometheus.ts";
import { KedaLikeClient } from "../support/scaler-harness.ts";
import { ServiceBusEndpoint } from "../support/servicebus-endpoint.ts";

/**
 * Source faults during live polling, end to end: the real sources (Prometheus HTTP API, the real
 * Service Bus SDK, the real Azure Monitor client) against scripted upstreams, through the real
 * policy and gRPC server, polled the way KEDA polls. Each case checks the fail-static rules: the
 * answer never drops while a signal is held, never reaches zero on missing data, turns into
 * UNAVAILABLE only after unavailableAfterSeconds without any good signal, and recovers.
 */

const HOLD_SECONDS = 2;
const UNAVAILABLE_AFTER_SECONDS = 3;
const VMSS =
  "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-gpu";

type PrometheusMode = "ok" | "down" | "slow" | "error" | "nan" | "empty";

/**
 * A fault-injecting proxy in front of the real Prometheus: passes queries through, or drops the
 * connection, stalls past the deadline, answers 503, turns every sample into NaN, or answers an
 * empty vector (what Prometheus says when the series are gone).
 */
class FaultyPrometheusProxy {
  mode: PrometheusMode = "ok";
  readonly server = new FakeHttpServer();

  constructor(upstream: () => string) {
    this.server.handler = (request, res) => {
      if (this.mode === "down") {
        res.socket?.destroy();
        return;
      }
      if (this.mode === "slow") {
        setTimeout(() => res.writeHead(504).end(), 2_000);
        return;
      }
      if (this.mode === "error") {
        res
          .writeHead(503, { "content-type": "application/json" })
          .end('{"status":"error","errorType":"unavailable","error":"query queue full"}');
        return;
      }
      const mode = this.mode;
      fetch(`${upstream()}${request.url}`, {
        method: request.method,
        headers: {
          "content-type": String(request.headers["content-type"] ?? "application/x-www-form-urlencoded"),
        },
        body: request.method === "POST" ? request.body : undefined,
      })
        .then(async (answer) => {
          const payload = (await answer.json()) as { data?: { result?: { value: [number, string] }[] } };
          const result = payload.data?.result;
          if (result && mode === "empty") payload.data!.result = [];
          if (result && mode === "nan") for (const series of result) series.value[1] = "NaN";
          res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(payload));
        })
        .catch(() => res.writeHead(502).end());
    };
  }
}

const NAMESPACE = "inference";
const pods = [
  new VllmPodExporter(NAMESPACE, "vllm-chat-7d9f8b6c5-x2k4p", "llama-3-70b"),
  new VllmPodExporter(NAMESPACE, "vllm-chat-7d9f8b6c5-q8z7m", "llama-3-70b"),
];
const dcgm = new DcgmExporter();
const ksm = new KubeStateMetricsExporter();
let realPrometheus: PrometheusHarness;
let ticker: NodeJS.Timeout | undefined;
const prometheus = new FaultyPrometheusProxy(() => realPrometheus.url);
const serviceBus = new ServiceBusEndpoint();
const azureMonitor = new AzureMonitorEndpoint();
const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({
    token: azureMonitor.token,
    expiresOnTimestamp: Date.now() + 3_600_000,
  }),
};

let scaler: RunningScaler;
let client: KedaLikeClient;

beforeAll(async () => {
  // A busy fleet of two ready replicas: 6 waiting each, KV-cache at 90 %, GPUs at 85 %.
  for (const [index, pod] of pods.entries()) {
    pod.setWaiting(6);
    pod.setRunning(20);
    pod.setKvCacheUsage(0.9);
    dcgm.setGpu({
      index,
      host: "gpu-node-1",
      pod: { namespace: NAMESPACE, name: pod.pod },
      utilPercent: 85,
      grEngineActive: 0.8,
    });
  }
  ksm.setDeployment(NAMESPACE, "vllm-chat", { desired: 2, ready: 2 });
  const tick = () => {
    for (const pod of pods) {
      pod.observeTtft([...Array(18).fill(0.4), 1.8, 1.8]);
      // 2,000 tokens/s per pod: far above the 500 floor, so timer jitter on a busy machine cannot make throughput vote.
      pod.addGenerationTokens(200);
    }
  };
  tick();
  ticker = setInterval(tick, 100);
  realPrometheus = await startPrometheus({ vllm: pods, dcgm: [dcgm], kubeStateMetrics: [ksm] });
  await realPrometheus.waitFor("count(rate(vllm:generation_tokens_total[10s]) > 0)", (n) => n === 2);
  await realPrometheus.waitFor(
    "count(kube_deployment_spec_replicas) + count(DCGM_FI_DEV_GPU_UTIL)",
    (n) => n === 3,
  );
  await Promise.all([prometheus.server.listen(), serviceBus.start(), azureMonitor.start()]);
  serviceBus.queues.set("chat-requests", { active: 60 });
  azureMonitor.series.set(VMSS.toLowerCase(), [
    { minutesAgo: 1, average: 80 },
    { minutesAgo: 2, average: 80 },
  ]);
  const env = {
    LISTEN_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    DECISION_TTL_SECONDS: "0.05",
    PROMETHEUS_URL: prometheus.server.url,
    SERVICEBUS_CONNECTION_STRING: serviceBus.connectionString(),
    SERVICEBUS_CA_FILE: serviceBus.ca.certFile,
    AZURE_MONITOR_METRICS_ENDPOINT: azureMonitor.url,
    AZURE_MONITOR_CA_FILE: azureMonitor.ca.certFile,
    SOURCE_TIMEOUT_MS: "800",
    SOURCE_CACHE_TTL_MS: "50",
    FAIL_STATIC_HOLD_SECONDS: String(HOLD_SECONDS),
    UNAVAILABLE_AFTER_SECONDS: String(UNAVAILABLE_AFTER_SECONDS),
  };
  const config = loadServiceConfig(env);
  scaler = await startScalerServer({
    config,
    env,
    source: createSignalSource(config, { credential: () => credential }),
    logger: pino({ level: "silent" }),
  });
  client = new KedaLikeClient(`127.0.0.1:${scaler.grpcPort}`);
}, 60_000);

afterAll(async () => {
  client?.close();
  await scaler?.shutdown();
  if (ticker) clearInterval(ticker);
  await Promise.all([prometheus.server.close(), serviceBus.stop(), azureMonitor.stop()]);
  await realPrometheus?.stop();
});

let caseNumber = 0;

/** One KEDA poll: GetMetrics then IsActive; a value, or the gRPC status code of the refusal. */
async function poll(
  so: object,
): Promise<{ value?: number; active?: boolean; code: grpc.status; details?: string }> {
  try {
    const metrics = await client.call<{ metricValues: { metricValueFloat: number }[] }>(
      "GetMetrics",
      { scaledObjectRef: so, metricName: "llm-desired-replicas" },
      3000,
    );
    const active = await client.call<{ result: boolean }>("IsActive", so, 3000);
    return { value: metrics.metricValues[0]!.metricValueFloat, active: active.result, code: grpc.status.OK };
  } catch (error) {
    const e = error as grpc.ServiceError;
    return { code: e.code, details: e.details };
  }
}

async function pollFor(so: object, seconds: number) {
  const answers: Answer[] = [];
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    answers.push(await poll(so));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return answers;
}

type Answer = Awaited<ReturnType<typeof poll>>;

/** Polls until `done(previous, next)` holds or `seconds` run out; returns the last answer. */
async function pollUntil(
  so: object,
  seconds: number,
  done: (previous: Answer | undefined, next: Answer) => boolean,
) {
  const until = Date.now() + seconds * 1000;
  let previous: Answer | undefined;
  for (;;) {
    const next = await poll(so);
    if (done(previous, next) || Date.now() > until) return next;
    previous = next;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface FaultCase {
  readonly name: string;
  readonly metadata?: Record<string, string>;
  inject(): void;
  clear(): void;
  /** Every signal of the ScaledObject is gone, so after the hold the answer must be UNAVAILABLE. */
  readonly total: boolean;
  /** What the decision's reasons say about the fault. */
  readonly reasonNames: RegExp;
}

/** How a source's failure reads in a decision's reasons: "<reading>: <source> <kind>: …". */
const failureOf = (source: string) => new RegExp(`${source} [a-z_]+: `);

const prometheusFault = (mode: PrometheusMode): FaultCase => ({
  name: `Prometheus ${mode}`,
  total: false,
  reasonNames: failureOf("prometheus"),
  inject: () => {
    prometheus.mode = mode;
  },
  clear: () => {
    prometheus.mode = "ok";
  },
});

const serviceBusFault = (status: number, label: string): FaultCase => ({
  name: `Service Bus ${status} ${label}`,
  total: false,
  reasonNames: failureOf("serviceBus"),
  inject: () => serviceBus.faults.set("*", { status, retryAfter: status === 429 ? "1" : undefined }),
  clear: () => serviceBus.faults.delete("*"),
});

const CASES: FaultCase[] = [
  prometheusFault("down"),
  prometheusFault("slow"),
  prometheusFault("error"),
  prometheusFault("nan"),
  prometheusFault("empty"),
  serviceBusFault(401, "unauthorised"),
  serviceBusFault(404, "queue gone"),
  serviceBusFault(429, "throttled"),
  {
    name: "Service Bus stalling past the deadline",
    total: false,
    reasonNames: failureOf("serviceBus"),
    inject: () => serviceBus.faults.set("*", { delayMs: 2_000 }),
    clear: () => serviceBus.faults.delete("*"),
  },
  {
    name: "Service Bus TLS failure (a certificate from an untrusted CA)",
    total: false,
    reasonNames: failureOf("serviceBus"),
    inject: () => serviceBus.presentUntrustedCertificate(true),
    clear: () => serviceBus.presentUntrustedCertificate(false),
  },
  {
    name: "Azure Monitor 500 (GPU from Azure Monitor)",
    metadata: { gpuSource: "azureMonitor", azureMonitorResourceIds: VMSS },
    total: false,
    reasonNames: failureOf("azureMonitor"),
    inject: () => {
      azureMonitor.fault = { status: 500 };
    },
    clear: () => {
      azureMonitor.fault = undefined;
    },
  },
  {
    name: "every source down at once",
    total: true,
    reasonNames:
      /prometheus [a-z_]+: [\s\S]*serviceBus [a-z_]+: |serviceBus [a-z_]+: [\s\S]*prometheus [a-z_]+: /,
    inject: () => {
      prometheus.mode = "down";
      serviceBus.faults.set("*", { status: 503 });
    },
    clear: () => {
      prometheus.mode = "ok";
      serviceBus.faults.delete("*");
    },
  },
];

describe("fail-static under source faults during live polling", () => {
  it.each(CASES)(
    "$name: holds, never drops to zero, errors only when nothing is left, recovers",
    async (fault) => {
      const so = {
        name: `fault-${caseNumber++}`,
        namespace: "inference",
        scalerMetadata: {
          scalerAddress: "keda-llm-scaler:6000",
          serviceBusQueue: "chat-requests",
          deployment: "vllm-chat",
          rateWindow: "10s",
          maxReplicas: "20",
          ...fault.metadata,
        },
      };
      // Healthy first: wait (bounded) for two equal answers in a row, however slow the first reads are.
      const baseline = await pollUntil(
        so,
        15,
        (previous, next) => next.code === grpc.status.OK && next.value === previous?.value,
      );
      expect(baseline.code, baseline.details).toBe(grpc.status.OK);
      expect(baseline.value).toBeGreaterThan(0);

      fault.inject();
      try {
        // Half the hold time, so a slow machine cannot push these polls past it.
        const duringHold = await pollFor(so, HOLD_SECONDS / 2);
        for (const answer of duringHold) {
          expect(answer.code, answer.details).toBe(grpc.status.OK);
          expect(answer.value).toBeGreaterThanOrEqual(baseline.value!);
          expect(answer.active).toBe(true);
        }
        const afterHold = await pollFor(so, UNAVAILABLE_AFTER_SECONDS - HOLD_SECONDS / 2 + 1);
        for (const answer of afterHold) {
          // Never a made-up zero: either a positive answer or a refusal KEDA's fallback counts.
          if (answer.code === grpc.status.OK) {
            expect(answer.value).toBeGreaterThan(0);
            expect(answer.active).toBe(true);
          } else expect(answer.code).toBe(grpc.status.UNAVAILABLE);
        }
        const last = afterHold[afterHold.length - 1]!;
        // The fault really reached the decision: its reasons name the broken source.
        const kept = scaler.book.latestDecisions().find((d) => d.scaledObject.name === so.name);
        expect(JSON.stringify(kept && fullDecision(kept))).toMatch(fault.reasonNames);
        if (fault.total) expect(last.code).toBe(grpc.status.UNAVAILABLE);
        else expect(last.code, last.details).toBe(grpc.status.OK);
      } finally {
        fault.clear();
      }

      const recovered = await pollUntil(so, 10, (_, next) => next.code === grpc.status.OK);
      expect(recovered.code, recovered.details).toBe(grpc.status.OK);
      expect(recovered.value).toBeGreaterThan(0);
    },
    30_000,
  );
});
