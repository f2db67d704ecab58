import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { averageValueProposal } from "../../src/policy/hpa.ts";
import { eventually, ONE_PER_MESSAGE, ref, statusOf, useHarness } from "../support/scaler-harness.ts";

interface MetricSpecResponse {
  metricSpecs: { metricName: string; targetSize: number; targetSizeFloat: number }[];
}
interface MetricsResponse {
  metricValues: { metricName: string; metricValue: number; metricValueFloat: number }[];
}

const setup = useHarness();

describe("GetMetricSpec", () => {
  it("returns one lowercase metric with target 1 (float and the deprecated int)", async () => {
    const response = await setup.client.call<MetricSpecResponse>("GetMetricSpec", ref("vllm-a"));
    expect(response.metricSpecs).toEqual([
      { metricName: "llm-desired-replicas", targetSize: 1, targetSizeFloat: 1 },
    ]);
    expect(response.metricSpecs[0]?.metricName).toMatch(/^[a-z0-9-]+$/);
  });

  it("gives identical answers to 1,000 concurrent calls", async () => {
    const calls = Array.from({ length: 1000 }, () =>
      setup.client.call<MetricSpecResponse>("GetMetricSpec", ref("vllm-a", { metricName: "chat-replicas" })),
    );
    const answers = new Set((await Promise.all(calls)).map((r) => JSON.stringify(r)));
    expect([...answers]).toEqual([
      JSON.stringify({ metricSpecs: [{ metricName: "chat-replicas", targetSize: 1, targetSizeFloat: 1 }] }),
    ]);
  });

  it("answers from configuration while the upstream source hangs", async () => {
    setup.harness.source.delayMs = 3000;
    try {
      const started = Date.now();
      const response = await setup.client.call<MetricSpecResponse>("GetMetricSpec", ref("vllm-slow"));
      expect(response.metricSpecs).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      setup.harness.source.delayMs = 0;
    }
  });

  it("rejects bad metadata with INVALID_ARGUMENT naming the key, the value and what is allowed", async () => {
    const status = await statusOf(setup.client.call("GetMetricSpec", ref("vllm-a", { maxReplicas: "lots" })));
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toContain(
      'scalerMetadata.maxReplicas must be a whole number from 1 to 10000, got "lots"',
    );
  });

  it("rejects an unknown metadata key, suggesting the likely one", async () => {
    const status = await statusOf(setup.client.call("GetMetricSpec", ref("vllm-a", { maxReplica: "4" })));
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toContain('unknown key "maxReplica" (did you mean "maxReplicas"?)');
  });

  it("tolerates KEDA's own keys and reads <key>FromEnv under its suffixed name", async () => {
    const response = await setup.client.call<MetricSpecResponse>(
      "GetMetricSpec",
      ref("vllm-a", { enableTLS: "false", unsafeSsl: "false", metricNameFromEnv: "from-env-metric" }),
    );
    expect(response.metricSpecs[0]?.metricName).toBe("from-env-metric");
  });

  it("rejects a ref without a namespace", async () => {
    const status = await statusOf(
      setup.client.call("GetMetricSpec", { name: "x", namespace: "", scalerMetadata: {} }),
    );
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toContain("scaledObjectRef.namespace is empty");
  });
});

describe("GetMetrics and IsActive", () => {
  it("returns exactly one integer value and IsActive agrees", async () => {
    setup.harness.source.setBacklog(7);
    const so = ref("agree", ONE_PER_MESSAGE);
    const metrics = await setup.client.call<MetricsResponse>("GetMetrics", {
      scaledObjectRef: so,
      metricName: "llm-desired-replicas",
    });
    const active = await setup.client.call<{ result: boolean }>("IsActive", so);
    expect(metrics.metricValues).toEqual([
      { metricName: "llm-desired-replicas", metricValue: 7, metricValueFloat: 7 },
    ]);
    expect(active.result).toBe(true);
  });

  it("answers 0 and inactive when nothing waits", async () => {
    setup.harness.source.setBacklog(0);
    const so = ref("idle", ONE_PER_MESSAGE);
    const metrics = await setup.client.call<MetricsResponse>("GetMetrics", {
      scaledObjectRef: so,
      metricName: "llm-desired-replicas",
    });
    const active = await setup.client.call<{ result: boolean }>("IsActive", so);
    expect(metrics.metricValues[0]?.metricValueFloat).toBe(0);
    expect(active.result).toBe(false);
  });

  it.each([
    ["exact", "llm-desired-replicas"],
    ["KEDA-prefixed", "s0-llm-desired-replicas"],
    ["upper-cased by the HPA", "S2-LLM-Desired-Replicas"],
  ])("accepts the metric name %s", async (_, metricName) => {
    setup.harness.source.setBacklog(3);
    const metrics = await setup.client.call<MetricsResponse>("GetMetrics", {
      scaledObjectRef: ref("names", ONE_PER_MESSAGE),
      metricName,
    });
    expect(metrics.metricValues).toHaveLength(1);
  });

  it("answers NOT_FOUND for a metric name it never returned", async () => {
    const status = await statusOf(
      setup.client.call("GetMetrics", { scaledObjectRef: ref("names"), metricName: "s0-something-else" }),
    );
    expect(status.code).toBe(grpc.status.NOT_FOUND);
    expect(status.details).toContain('this ScaledObject\'s metric is "llm-desired-replicas"');
  });

  it("answers UNAVAILABLE, never a made-up 0, when the source fails", async () => {
    setup.harness.source.readings = {
      queueBacklog: {
        ok: false,
        failure: { source: "serviceBus", kind: "unreachable", message: "connect ECONNREFUSED" },
      },
    };
    const so = ref("broken", ONE_PER_MESSAGE);
    const metrics = await statusOf(
      setup.client.call("GetMetrics", { scaledObjectRef: so, metricName: "llm-desired-replicas" }),
    );
    const active = await statusOf(setup.client.call("IsActive", so));
    expect(metrics.code).toBe(grpc.status.UNAVAILABLE);
    expect(active.code).toBe(grpc.status.UNAVAILABLE);
    expect(metrics.details).toContain("ECONNREFUSED");
  });

  it("makes a fake HPA land on the desired count for every N from 1 to 1000", async () => {
    const landed: number[] = [];
    for (let n = 1; n <= 1000; n++) {
      setup.harness.source.setBacklog(n);
      const spec = await setup.client.call<MetricSpecResponse>(
        "GetMetricSpec",
        ref(`hpa-${n}`, ONE_PER_MESSAGE),
      );
      const metrics = await setup.client.call<MetricsResponse>("GetMetrics", {
        scaledObjectRef: ref(`hpa-${n}`, ONE_PER_MESSAGE),
        metricName: "llm-desired-replicas",
      });
      const value = metrics.metricValues[0]!.metricValueFloat;
      expect(Number.isInteger(value)).toBe(true);
      // From 0 current replicas the tolerance band does not apply: the proposal is ceil(V / T).
      landed.push(averageValueProposal(0, value, spec.metricSpecs[0]!.targetSizeFloat));
    }
    expect(landed).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  });

  it("stops waiting when the client's deadline passes", async () => {
    setup.harness.source.delayMs = 1500;
    try {
      const status = await statusOf(
        setup.client.call(
          "GetMetrics",
          { scaledObjectRef: ref("deadline"), metricName: "llm-desired-replicas" },
          200,
        ),
      );
      expect(status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    } finally {
      setup.harness.source.delayMs = 0;
    }
    // The server is still healthy afterwards.
    const response = await setup.client.call<MetricSpecResponse>("GetMetricSpec", ref("deadline"));
    expect(response.metricSpecs).toHaveLength(1);
  });

  it("gives two ScaledObjects with different metadata independent answers", async () => {
    setup.harness.source.setBacklog(10);
    const a = await setup.client.call<MetricsResponse>("GetMetrics", {
      scaledObjectRef: ref("independent", { ...ONE_PER_MESSAGE, messagesPerReplica: "1" }),
      metricName: "llm-desired-replicas",
    });
    const b = await setup.client.call<MetricsResponse>("GetMetrics", {
      scaledObjectRef: ref("independent", { ...ONE_PER_MESSAGE, messagesPerReplica: "5" }),
      metricName: "llm-desired-replicas",
    });
    expect(a.metricValues[0]?.metricValueFloat).toBe(10);
    expect(b.metricValues[0]?.metricValueFloat).toBe(2);
  });
});

describe("StreamIsActive", () => {
  it("sends the current state at once, true on activation, and nothing while unchanged", async () => {
    setup.harness.source.setBacklog(0);
    const received: boolean[] = [];
    const stream = setup.client.stream<{
      result: boolean;
    }>("StreamIsActive", ref("pushed", ONE_PER_MESSAGE));
    stream.on("data", (message) => received.push(message.result));
    stream.on("error", () => {});
    await eventually(() => expect(received).toEqual([false]));
    setup.harness.source.setBacklog(4);
    await eventually(() => expect(received).toEqual([false, true]));
    // Several refresh periods with the same state: no repeated `true`, though it kept reading.
    const readsBefore = setup.harness.source.reads;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toEqual([false, true]);
    expect(setup.harness.source.reads).toBeGreaterThan(readsBefore);
    stream.cancel();
    await eventually(() => expect(setup.harness.scaler.openStreamCount).toBe(0));
    // A cancelled stream stops re-evaluating: its timers are gone, nothing reads for it any more.
    const readsAtCancel = setup.harness.source.reads;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(setup.harness.source.reads).toBe(readsAtCancel);
  });

  it("ends with INVALID_ARGUMENT for bad metadata", async () => {
    const stream = setup.client.stream<unknown>("StreamIsActive", ref("bad", { role: "boss" }));
    const status = await new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toContain("scalerMetadata.role must be one of serving, headroom");
  });
});

describe("StreamMetricSpec", () => {
  it("sends the same specs as GetMetricSpec as soon as it opens", async () => {
    const so = ref("spec-stream", { metricName: "chat-replicas" });
    const stream = setup.client.stream<MetricSpecResponse>("StreamMetricSpec", so);
    stream.on("error", () => {});
    const first = await new Promise<MetricSpecResponse>((resolve) => stream.once("data", resolve));
    const polled = await setup.client.call<MetricSpecResponse>("GetMetricSpec", so);
    expect(JSON.stringify(first)).toBe(JSON.stringify(polled));
    stream.cancel();
  });
});
