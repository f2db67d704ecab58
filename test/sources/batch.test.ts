import { describe, expect, it } from "vitest";
import { parseScalerSpec } from "../../src/config/spec.ts";
import { batchQueries } from "../../src/sources/prometheus/batch.ts";
import {
  type PrometheusQuery,
  type PrometheusSignal,
  prometheusQuery,
} from "../../src/sources/prometheus/queries.ts";

/** The vLLM readings a default spec asks for, in the plan's order. */
const VLLM: readonly PrometheusSignal[] = [
  "vllmWaiting",
  "vllmRunning",
  "ttftP95Seconds",
  "ttftRequestsPerSecond",
  "kvCacheUsage",
  "tokensPerSecondPerPod",
];

const SIGNALS: readonly PrometheusSignal[] = [
  ...VLLM,
  "gpuUtilisation",
  "gpuMemoryUsage",
  "replicasDesired",
  "replicasReady",
  "replicasUnavailable",
  "inflowDayAgo",
  "inflowPeakAheadDayAgo",
];

function queriesFor(metadata: Record<string, string>): PrometheusQuery[] {
  const spec = parseScalerSpec(
    { name: "chat", namespace: "team-a" },
    { deployment: "chat", ...metadata },
    {},
  );
  return SIGNALS.map((signal) => prometheusQuery(spec, signal, { allowCustomQueries: true })).filter(
    (query): query is PrometheusQuery => "expr" in query,
  );
}

const grouping = (batches: ReturnType<typeof batchQueries>) =>
  batches.map((batch) => batch.queries.map((query) => query.signal));

describe("which signals share a Prometheus request", () => {
  it("groups what fails together: the vLLM readings, the replica counts, DCGM utilisation, the history", () => {
    expect(grouping(batchQueries(queriesFor({})))).toEqual([
      VLLM,
      ["gpuUtilisation"],
      // Its used / (used + free) division fails on duplicate series: alone, it takes nothing down.
      ["gpuMemoryUsage"],
      ["replicasDesired", "replicasReady", "replicasUnavailable"],
      ["inflowDayAgo", "inflowPeakAheadDayAgo"],
    ]);
  });

  it("sends a custom query alone, its vLLM neighbours still together", () => {
    const custom = 'sum(my_queue_depth{namespace="team-a"})';
    const batches = batchQueries(queriesFor({ waitingQuery: custom }));
    expect(grouping(batches)[0]).toEqual(["vllmWaiting"]);
    expect(batches[0]?.expr).toBe(custom);
    expect(grouping(batches)[1]).toEqual(VLLM.filter((signal) => signal !== "vllmWaiting"));
    expect(batches.slice(1).every((batch) => !batch.expr.includes("my_queue_depth"))).toBe(true);
  });
});
