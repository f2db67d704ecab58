import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ScalerMetrics } from "../../src/server/metrics.ts";
import { ANSWERS_PER_BATCH, RpcMeter } from "../../src/server/rpc-meter.ts";

const RPC_SERIES = /^keda_llm_scaler_rpc_(requests_total|duration_seconds)/;

/** The scaler's RPC series in a scrape's text (in any order: label sets come as first seen). */
function rpcSeriesOf(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => RPC_SERIES.test(line))
    .sort();
}

async function rpcSeries(registry: Registry): Promise<string[]> {
  return rpcSeriesOf(await registry.metrics());
}

/** What prom-client shows when every answer is observed on its own, the way the meter replaces. */
function observedOneByOne(answers: readonly { method: string; code: string; seconds: number }[]) {
  const registry = new Registry();
  const requests = new Counter({
    name: "keda_llm_scaler_rpc_requests_total",
    help: "ExternalScaler RPCs answered, by method and gRPC status code.",
    labelNames: ["method", "code"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "keda_llm_scaler_rpc_duration_seconds",
    help: "Time to answer an ExternalScaler RPC (streams: time to the first message).",
    labelNames: ["method"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  for (const { method, code, seconds } of answers) {
    requests.inc({ method, code });
    duration.observe({ method }, seconds);
  }
  return registry;
}

describe("RpcMeter", () => {
  it("shows a scrape exactly what observing every answer on its own shows", async () => {
    const answer = fc.record({
      method: fc.constantFrom("GetMetrics", "IsActive"),
      code: fc.constantFrom("OK", "UNAVAILABLE", "INVALID_ARGUMENT"),
      seconds: fc.double({ min: 0, max: 5, noNaN: true }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(answer, { maxLength: 600 }), fc.nat(), async (answers, scrapeAt) => {
        const metrics = new ScalerMetrics({ processMetrics: false });
        const meters = { GetMetrics: metrics.meterFor("GetMetrics"), IsActive: metrics.meterFor("IsActive") };
        // A scrape part-way through a batch sees every answer before it; the later ones follow.
        // (prom-client reads the series when the scrape starts, before its first await.)
        const middle = scrapeAt % (answers.length + 1);
        let midway: Promise<string> | undefined;
        answers.forEach(({ method, code, seconds }, index) => {
          meters[method as keyof typeof meters].answered(code, seconds);
          if (index + 1 === middle) midway = metrics.registry.metrics();
        });
        if (midway)
          expect(rpcSeriesOf(await midway)).toEqual(
            await rpcSeries(observedOneByOne(answers.slice(0, middle))),
          );
        expect(await rpcSeries(metrics.registry)).toEqual(await rpcSeries(observedOneByOne(answers)));
      }),
      { numRuns: 30 },
    );
  });

  it("hands a full batch over at once, without waiting for a scrape", () => {
    const observed: number[] = [];
    const counted: Record<string, number> = {};
    const meter = new RpcMeter({
      observe: (seconds) => observed.push(seconds),
      count: (code, count) => {
        counted[code] = (counted[code] ?? 0) + count;
      },
    });
    const last = ANSWERS_PER_BATCH - 1;
    for (let i = 0; i < last; i++) meter.answered("OK", i);
    expect(observed).toHaveLength(0);
    meter.answered("UNAVAILABLE", last);
    expect(observed).toEqual(Array.from({ length: ANSWERS_PER_BATCH }, (_, i) => i));
    expect(counted).toEqual({ OK: last, UNAVAILABLE: 1 });
    // Nothing is handed over twice.
    meter.flush();
    expect(observed).toHaveLength(ANSWERS_PER_BATCH);
    expect(counted).toEqual({ OK: last, UNAVAILABLE: 1 });
  });
});
