import { describe, expect, it } from "vitest";
import { buildArrivals, scaleForPeakReplicas } from "../../src/sim/arrivals.ts";

import { workBoundGpuHours } from "../../src/sim/runner.ts";
import { checkTimeZone, LocalClock, TimestampParser } from "../../src/sim/time.ts";
import { AZURE_CONVERSATION, type TokenSizeDistribution } from "../../src/sim/token-sizes.ts";
import { detectFormat, readTrace } from "../../src/sim/trace.ts";
import { azureTraceCsv, countTraceCsv, ROUND_MODEL } from "./fixtures.ts";

const FIXED_SIZES: TokenSizeDistribution = {
  name: "fixed",
  contextQuantiles: [4000, 4000],
  generatedQuantiles: [1000, 1000],
};

describe("trace readers", () => {
  it("reads naive timestamps on the trace's local clock (the NASA log is EDT)", () => {
    const parser = new TimestampParser("America/New_York");
    expect(parser.parse("1995-07-13 09:47")).toBe(Date.UTC(1995, 6, 13, 13, 47));
    expect(parser.parse("1995-01-10 09:00")).toBe(Date.UTC(1995, 0, 10, 14, 0));
    expect(parser.parse("1995-07-01T04:00Z")).toBe(Date.UTC(1995, 6, 1, 4, 0));
    expect(new TimestampParser("UTC").parse("2023-11-16 18:15:46.6805900")).toBeCloseTo(
      Date.UTC(2023, 10, 16, 18, 15, 46) + 680.59,
      3,
    );
    expect(new LocalClock("America/New_York").at(Date.UTC(1995, 6, 13, 13, 47))).toEqual({
      weekday: 4,
      minuteOfDay: 9 * 60 + 47,
    });
  });

  it("rejects an unknown zone and a bad row, naming them", () => {
    expect(() => checkTimeZone("Mars/Olympus")).toThrow(/--tz must be an IANA time zone.*Mars\/Olympus/);
    const bad =
      "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,12,3\n2023-11-16 18:15:47,abc,3\n";
    expect(() => readTrace(bad, { name: "t.csv", zone: "UTC" })).toThrow(
      /t\.csv line 3: ContextTokens: must be a number ≥ 0, got "abc"/,
    );
    expect(() => readTrace("a,b\n1,2\n", { name: "c.csv", zone: "UTC" })).toThrow(
      /no column "timestamp" \(--time-column\)/,
    );
  });

  it("detects the format and infers a count trace's interval; valid=0 is no data, not zero demand", () => {
    const text = countTraceCsv([
      { local: "1995-07-28 13:30", utc: "1995-07-28T17:30Z", requests: 40, valid: 1 },
      { local: "1995-07-28 13:31", utc: "1995-07-28T17:31Z", requests: 41, valid: 1 },
      { local: "1995-07-28 13:32", utc: "1995-07-28T17:32Z", requests: 41, valid: 0 },
      // 13:33 is missing altogether: also no data.
      { local: "1995-07-28 13:34", utc: "1995-07-28T17:34Z", requests: 0, valid: 1 },
    ]);
    expect(detectFormat(text)).toBe("counts");
    const trace = readTrace(text, {
      name: "nasa",
      zone: "America/New_York",
      columns: { timeColumn: "minute_start_local_edt" },
    });
    if (trace.kind !== "counts") throw new Error("expected a count trace");
    expect(trace.intervalMs).toBe(60_000);
    expect(trace.startMs).toBe(Date.UTC(1995, 6, 28, 17, 30));
    expect(Array.from(trace.counts)).toEqual([40, 41, Number.NaN, Number.NaN, 0]);
    const arrivals = buildArrivals(trace, {
      tickMs: 5_000,
      scale: 1,
      seed: 3,
      tokenSizes: AZURE_CONVERSATION,
      burstiness: 0,
    });
    expect(arrivals.ticks).toBe(60);
    expect(Array.from(arrivals.accounted.slice(24, 36))).toEqual(Array(12).fill(0));
    expect(arrivals.count.slice(24, 48).reduce((a, b) => a + b, 0)).toBe(0);
    expect(arrivals.accounted[48]).toBe(1);
  });
});

describe("arrivals and the work bound", () => {
  it("the work bound of a step trace is its work at 100 %: 1,800 requests × 2 GPU-s = 1 GPU-hour", () => {
    // 30 quiet minutes, then 60 requests a minute for 30 minutes; 4,000 + 1,000 tokens each =
    // 4000/4000 + 1000/1000 = 2 GPU-seconds at the default rates.
    const trace = readTrace(
      azureTraceCsv(60, (m) => (m < 30 ? 0 : 60)),
      { name: "step", zone: "UTC" },
    );
    const arrivals = buildArrivals(trace, {
      tickMs: 5_000,
      scale: 1,
      seed: 1,
      tokenSizes: FIXED_SIZES,
      burstiness: 0,
    });
    expect(arrivals.totalRequests).toBe(1800);
    expect(workBoundGpuHours(arrivals, ROUND_MODEL)).toBeCloseTo(1, 9);
    // Four GPUs per pod: four times the GPU-hours.
    expect(
      workBoundGpuHours(arrivals, {
        ...ROUND_MODEL,
        cluster: { ...ROUND_MODEL.cluster, gpusPerPod: 4, gpusPerNode: 4 },
      }),
    ).toBeCloseTo(4, 9);
  });

  it("--peak-replicas scales so the busiest minute needs exactly N replicas at 100 %", () => {
    // Busiest minute: 60 requests × 2 s = 120 GPU-s = 2 replicas. For 6: × 3.
    const trace = readTrace(
      azureTraceCsv(10, (m) => (m === 4 ? 60 : 10)),
      { name: "peak", zone: "UTC" },
    );
    expect(scaleForPeakReplicas(trace, ROUND_MODEL.replica, FIXED_SIZES, 6)).toBeCloseTo(3, 9);
    const arrivals = buildArrivals(trace, {
      tickMs: 5_000,
      scale: 3,
      seed: 1,
      tokenSizes: FIXED_SIZES,
      burstiness: 0,
    });
    expect(arrivals.totalRequests).toBe(3 * (9 * 10 + 60));
  });

  it("Poisson arrivals from counts keep the trace's total; burstiness keeps the mean but not the variance", () => {
    const rows = Array.from({ length: 600 }, (_, i) => {
      const at = new Date(Date.UTC(1995, 6, 3, 12, i));
      const iso = at.toISOString().slice(0, 16);
      return { local: iso.replace("T", " "), utc: `${iso}Z`, requests: 120, valid: 1 as const };
    });
    const trace = readTrace(countTraceCsv(rows), {
      name: "flat",
      zone: "UTC",
      columns: { timeColumn: "minute_start_utc" },
    });
    const options = { tickMs: 5_000, scale: 1, seed: 9, tokenSizes: AZURE_CONVERSATION, burstiness: 0 };
    const poisson = buildArrivals(trace, options);
    const bursty = buildArrivals(trace, { ...options, burstiness: 1 });
    const expected = 600 * 120;
    for (const stream of [poisson, bursty])
      expect(Math.abs(stream.totalRequests - expected)).toBeLessThan(
        5 * Math.sqrt(expected) * (stream === bursty ? 10 : 1),
      );
    const variance = (s: typeof poisson) => {
      const mean = s.totalRequests / s.ticks;
      let sum = 0;
      for (const c of s.count) sum += (c - mean) ** 2;
      return sum / s.ticks;
    };
    // Poisson: variance ≈ mean (10 per tick); with CV 1 the rate varies as much as the mean.
    expect(variance(poisson)).toBeGreaterThan(8);
    expect(variance(poisson)).toBeLessThan(12);
    expect(variance(bursty)).toBeGreaterThan(50);
    // Token sizes come from the Azure conversation distribution (mean ≈ 1,155 / 211 tokens).
    const meanContext = poisson.contextTokens.reduce((a, b) => a + b, 0) / poisson.totalRequests;
    expect(meanContext).toBeGreaterThan(1050);
    expect(meanContext).toBeLessThan(1300);
  });

  it("runs its controllers on time even when the trace does not start on a round second", async () => {
    const { runTrace } = await import("../../src/sim/run-trace.ts");
    const { parseSimulateArgs } = await import("../../src/sim/options.ts");
    const rows = Array.from({ length: 60 }, (_, i) => {
      const at = new Date(Date.UTC(1995, 6, 3, 12, i, 3));
      const iso = at.toISOString().slice(0, 19);
      return {
        local: iso.replace("T", " "),
        utc: `${iso}Z`,
        requests: i >= 20 && i < 40 ? 1500 : 30,
        valid: 1 as const,
      };
    });
    const options = parseSimulateArgs([
      "--trace",
      "odd.csv",
      "--time-column",
      "minute_start_utc",
      "--policy",
      "hpa-gpu",
    ]);
    const result = runTrace(options, countTraceCsv(rows), undefined).result;
    expect(result.startMs % 60_000).toBe(3_000);
    // 1,500 requests a minute need 5.5 replicas at 100 %: the HPA must have acted on its 15 s syncs.
    expect(result.policies[0]?.peakReplicas).toBeGreaterThanOrEqual(5);
  });
});
