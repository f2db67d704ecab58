import { describe, expect, it } from "vitest";
import { ScalerMetrics } from "../../src/server/metrics.ts";

/** Metric families a Prometheus would list after scraping /metrics, parsed from the exposition. */
async function familyNames(metrics: ScalerMetrics): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? "");
}

describe("the scaler's metric names", () => {
  it("keep Node's process metrics under the names standard dashboards and alerts select", async () => {
    const names = await familyNames(new ScalerMetrics());
    expect(names).toContain("process_cpu_seconds_total");
    expect(names).toContain("process_start_time_seconds");
    expect(names).toContain("nodejs_heap_size_used_bytes");
    expect(names).toContain("nodejs_eventloop_lag_p99_seconds");
    expect(names.filter((n) => /^keda_llm_scaler_(process|nodejs)_/.test(n))).toEqual([]);
  });

  it("prefix everything the scaler itself measures, and nothing else is unprefixed", async () => {
    const names = await familyNames(new ScalerMetrics());
    const own = names.filter((n) => !/^(process|nodejs)_/.test(n));
    expect(own.length).toBeGreaterThan(0);
    for (const name of own) expect(name).toMatch(/^keda_llm_scaler_/);
  });

  it("omit the process metrics when asked (several registries in one test process)", async () => {
    const names = await familyNames(new ScalerMetrics({ processMetrics: false }));
    expect(names.filter((n) => /^(process|nodejs)_/.test(n))).toEqual([]);
  });
});
