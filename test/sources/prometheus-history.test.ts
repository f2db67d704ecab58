import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { parseScalerSpec } from "../../src/config/spec.ts";
import { LEAD_LADDER, PEAK_AHEAD_KEYS } from "../../src/readings/lead-time.ts";
import { createSignalSource } from "../../src/sources/collect.ts";
import { historySignalsOf } from "../../src/sources/plan.ts";
import { historyExpr, prometheusQuery } from "../../src/sources/prometheus/queries.ts";
import { type PrometheusHarness, startPrometheus, VllmPodExporter } from "../support/prometheus.ts";

/**
 * The forecast's history queries against a real Prometheus. Prometheus takes no backdated
 * samples over scrapes, so the shapes are checked with short periods (seconds, not days): the
 * value one period ago and the peak of the lead-time window that followed it. The day- and
 * week-old readings the scaler sends then read 0: a cold start, which adds nothing.
 */

const LLAMA = "meta-llama/Llama-3.1-8B-Instruct";
const pod = new VllmPodExporter("team-a", "llama-7d9f8b6c5-x2k4p", LLAMA);
const other = new VllmPodExporter("team-b", "llama-7d9f8b6c5-bbbbb", LLAMA);
let prometheus: PrometheusHarness;
let ticker: NodeJS.Timeout;
let perTick = 1;

const counter = 'vllm:time_to_first_token_seconds_count{namespace="team-a"}';

beforeAll(async () => {
  // team-a: 1 request per 100 ms (10/s) for now; team-b much busier, and never counted.
  ticker = setInterval(() => {
    pod.observeTtft(Array.from({ length: perTick }, () => 0.2));
    other.observeTtft(Array.from({ length: 20 }, () => 0.2));
  }, 100);
  prometheus = await startPrometheus({ vllm: [pod, other] });
  // History 6 s back must cover a full rate window of the steady pace.
  await prometheus.waitFor(
    `sum(rate(${counter}[5s] offset 6s)) / sum(rate(${counter}[5s]))`,
    (n) => n > 0.7 && n < 1.4,
    30_000,
  );
}, 60_000);

afterAll(async () => {
  clearInterval(ticker);
  await prometheus?.stop();
});

describe("history queries (offset and peak-ahead subquery)", () => {
  it("reads the rate one period ago, and the peak of the lead time that followed once the rate rose", async () => {
    // A constant pace (as far as a timer on a busy machine keeps one): then ≈ now.
    const then = await prometheus.query(historyExpr(counter, "5s", 6, 4, false));
    const now = await prometheus.query(`sum(rate(${counter}[5s]))`);
    expect(then).toHaveLength(1);
    expect(then[0]?.labels.scaler_part).toBe("value");
    expect(then[0]?.value).toBeGreaterThan((now[0]?.value ?? 0) / 2);
    expect(then[0]?.value).toBeLessThan((now[0]?.value ?? 0) * 2);
    // The rate triples; 8 s later, the window "period ago + lead" (period 8 s, lead 8 s) ends now
    // and its peak sees the rise while the plain offset value still reads the old rate.
    perTick = 3;
    const slow = now[0]?.value ?? 0;
    await prometheus.waitFor(`sum(rate(${counter}[5s]))`, (n) => n > 2 * slow, 20_000);
    const peak = await prometheus.query(historyExpr(counter, "5s", 8, 8, true));
    const before = await prometheus.query(historyExpr(counter, "5s", 8, 8, false));
    expect(peak[0]?.value).toBeGreaterThan(1.3 * slow);
    expect(before[0]?.value).toBeLessThan(peak[0]?.value ?? 0);
  }, 40_000);

  it("reads 0 before any history exists (a cold start adds nothing)", async () => {
    for (const peak of [false, true]) {
      const answer = await prometheus.query(historyExpr(counter, "5s", 3600, 480, peak));
      expect(answer).toHaveLength(1);
      expect(answer[0]?.value).toBe(0);
      expect(answer[0]?.labels.scaler_part).toBe("value");
    }
  });

  it("is what the source sends: scoped to the namespace, and a cold start reads 0", async () => {
    const spec = parseScalerSpec(
      { name: "llama", namespace: "team-a" },
      { rateWindow: "5s", leadTimeMeasured: "false" },
      {},
    );
    expect(historySignalsOf(spec)).toEqual([
      "inflowDayAgo",
      "inflowPeakAheadDayAgo",
      "inflowWeekAgo",
      "inflowPeakAheadWeekAgo",
    ]);
    // With the lead time measured, the peak over every window of the ladder (0.5 × to 2 × the
    // setting), each one lead-time window from one period ago.
    const measured = parseScalerSpec({ name: "llama", namespace: "team-a" }, { rateWindow: "5s" }, {});
    const signals = historySignalsOf(measured);
    expect(signals).toEqual([
      "inflowDayAgo",
      ...LEAD_LADDER.map((f) => PEAK_AHEAD_KEYS.day[f]),
      "inflowWeekAgo",
      ...LEAD_LADDER.map((f) => PEAK_AHEAD_KEYS.week[f]),
      "leadTimeObserved",
      "leadTimePods",
    ]);
    for (const season of ["day", "week"] as const)
      for (const factor of LEAD_LADDER) {
        const query = prometheusQuery(measured, PEAK_AHEAD_KEYS[season][factor], {
          allowCustomQueries: false,
        });
        if (!("expr" in query)) throw new Error(query.failure.message);
        const period = season === "week" ? 604_800 : 86_400;
        const lead = 480 * factor;
        expect(query.expr).toContain(`[${lead}s:`);
        expect(query.expr).toContain(`offset ${period - lead}s`);
      }
    for (const signal of signals) {
      const query = prometheusQuery(measured, signal, { allowCustomQueries: false });
      if (!("expr" in query)) throw new Error(query.failure.message);
      expect(query.expr).toContain('namespace="team-a"');
      if (signal.startsWith("lead")) continue;
      const period = signal.includes("Week") ? 604_800 : 86_400;
      expect(query.expr).toMatch(signal.includes("Peak") ? /offset \d+s\)/ : new RegExp(`offset ${period}s`));
    }
    const source = createSignalSource(
      loadServiceConfig({ PROMETHEUS_URL: prometheus.url, SOURCE_CACHE_TTL_MS: "0" }),
    );
    const readings = await source.read(spec, { nowMs: Date.now() });
    for (const key of [
      "inflowDayAgo",
      "inflowPeakAheadDayAgo",
      "inflowWeekAgo",
      "inflowPeakAheadWeekAgo",
    ] as const)
      expect(readings[key]).toMatchObject({ ok: true, value: 0 });
    expect(readings.ttftRequestsPerSecond?.ok).toBe(true);
  });

  it("is not read when the forecast is off or the inflow is not the drain rule's", () => {
    const off = parseScalerSpec({ name: "llama", namespace: "team-a" }, { forecastSeasons: "none" }, {});
    expect(historySignalsOf(off)).toEqual([]);
    const perReplica = parseScalerSpec(
      { name: "llama", namespace: "team-a" },
      { queueMode: "perReplica" },
      {},
    );
    expect(historySignalsOf(perReplica)).toEqual([]);
    const day = parseScalerSpec(
      { name: "llama", namespace: "team-a" },
      { forecastSeasons: "day", leadTimeMeasured: "false" },
      {},
    );
    expect(historySignalsOf(day)).toEqual(["inflowDayAgo", "inflowPeakAheadDayAgo"]);
    // No season and no trend: nothing looks ahead, so the lead time is not read either.
    expect(historySignalsOf(off)).not.toContain("leadTimeObserved");
    const trendOnly = parseScalerSpec(
      { name: "llama", namespace: "team-a" },
      { forecastSeasons: "none", forecastTrend: "true" },
      {},
    );
    expect(historySignalsOf(trendOnly)).toEqual(["leadTimeObserved", "leadTimePods"]);
  });
});
