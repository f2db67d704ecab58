import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { waterFill } from "../../src/sim/load-balancer.ts";
import { parseSimulateArgs } from "../../src/sim/options.ts";
import { policiesByName } from "../../src/sim/policies.ts";
import { defaultOursDeployment, prepareTrace, runTrace } from "../../src/sim/run-trace.ts";
import { openingRate, warmupCohort } from "../../src/sim/runner.ts";
import { azureTraceCsv, countTraceCsv } from "./fixtures.ts";

/** 1,000 prompt + 200 generated tokens: 0.2 GPU-seconds each on the default Llama-3.1-8B profile. */
const TOKENS = { context: 1000, generated: 200 };
/** Saturday 2023-11-18 10:00 UTC: outside every baseline's weekday cron and ours' warm floor. */
const SATURDAY = "2023-11-18 10:00:00";

function simulate(csv: string, flags: string[]) {
  const options = parseSimulateArgs(["--trace", "t.csv", "--no-progress", ...flags]);
  return runTrace(options, csv, undefined);
}

function only(result: ReturnType<typeof simulate>["result"], name: string) {
  const found = result.policies.find((p) => p.name === name);
  if (!found) throw new Error(`no result for ${name}`);
  return found;
}

describe("the front end", () => {
  it("behind HTTP, vLLM's waiting queue is uncapped, so the Prometheus configuration scales past 2 replicas", () => {
    // 20 requests/s need 4 replicas at 100 %. Behind queue consumers vLLM's waiting count per pod
    // could never exceed max-num-seqs + prefetch; behind a load balancer it grows until scaled.
    const csv = azureTraceCsv(120, () => 1200, TOKENS, SATURDAY);
    const { result } = simulate(csv, ["--policy", "keda-multi"]);
    expect(result.frontEnd).toBe("http");
    const multi = only(result, "keda-multi");
    expect(multi.peakReplicas).toBeGreaterThanOrEqual(4);
    expect(multi.withinSlaFraction).toBeGreaterThan(0.95);
  });

  it("leaves out, with a reason, a policy whose signals do not exist behind the chosen front end", () => {
    const csv = azureTraceCsv(10, () => 60, TOKENS, SATURDAY);
    const http = simulate(csv, ["--policy", "keda-queue", "--policy", "always-on"]).result;
    const measured = (r: typeof http) => r.policies.map((p) => p.name).filter((n) => !n.startsWith("oracle"));
    expect(measured(http)).toEqual(["always-on"]);
    expect(http.omittedPolicies).toEqual([
      { name: "keda-queue", reason: expect.stringMatching(/Service Bus/) },
    ]);
    const queue = simulate(csv, ["--front-end", "queue", "--policy", "keda-multi", "--policy", "keda-queue"]);
    expect(measured(queue.result)).toEqual(["keda-queue"]);
    expect(queue.result.omittedPolicies.map((p) => p.name)).toEqual(["keda-multi"]);
  });

  it("least-outstanding routing fills the emptiest pods to a common level and hands out every request", () => {
    expect(waterFill([3, 0, 1], 5)).toEqual([0, 3, 2]);
    fc.assert(
      fc.property(fc.array(fc.nat(50), { minLength: 1, maxLength: 12 }), fc.nat(500), (loads, total) => {
        const shares = waterFill(loads, total);
        expect(shares.reduce((a, b) => a + b, 0)).toBe(total);
        for (const share of shares) expect(share).toBeGreaterThanOrEqual(0);
        const after = loads.map((load, i) => load + (shares[i] as number));
        // A pod that received requests ends at most one above the least loaded pod.
        const lowest = Math.min(...after);
        for (let i = 0; i < loads.length; i++)
          if ((shares[i] as number) > 0) expect(after[i]).toBeLessThanOrEqual(lowest + 1);
      }),
    );
  });
});

describe("Service Bus' active message count", () => {
  it("counts peek-locked messages, so the queue scaler does not scale a busy Deployment to zero", () => {
    // Consumers keep up with 5 requests/s, so almost nothing is ever unreceived; the messages they
    // hold under lock until the last token stay active and keep the trigger active.
    const csv = azureTraceCsv(180, () => 300, TOKENS, SATURDAY);
    const { result } = simulate(csv, ["--front-end", "queue", "--policy", "keda-queue"]);
    const queue = only(result, "keda-queue");
    expect(queue.coldStarts).toBeLessThanOrEqual(2);
    expect(queue.withinSlaFraction).toBeGreaterThan(0.999);
  });
});

describe("billing", () => {
  it("bills the drain after the trace until the backlog is served, and reports what was never served", () => {
    // Ten minutes far above one replica's capacity at the very end of the trace.
    const csv = azureTraceCsv(40, (m) => (m < 30 ? 60 : 1500), TOKENS, SATURDAY);
    const flags = ["--policy", "hpa-gpu", "--max-replicas", "1", "--max-nodes", "1"];
    const drained = only(simulate(csv, flags).result, "hpa-gpu");
    expect(drained.drainGpuHours).toBeGreaterThan(0.1);
    expect(drained.unservedRequests).toBe(0);
    const lowerBound = drained.gpuHours / drained.workBoundRatio;
    expect(drained.gpuHours).toBeGreaterThan(lowerBound);
    // A drain cap too short to serve the backlog: the rest is reported unserved (and as misses).
    const cut = only(simulate(csv, [...flags, "--drain-hours", "0.05"]).result, "hpa-gpu");
    expect(cut.unservedRequests).toBeGreaterThan(0);
    expect(cut.drainGpuHours).toBeLessThanOrEqual(0.05 + 1e-9);
    expect(cut.withinSlaFraction).toBeLessThan(drained.withinSlaFraction + 1e-12);
  });
});

describe("the warm-up", () => {
  it("starts every policy from its own steady state at the opening rate: a constant trace changes nothing", () => {
    const csv = azureTraceCsv(60, () => 600, TOKENS, SATURDAY);
    const { result } = simulate(csv, ["--policy", "ours", "--policy", "hpa-gpu", "--policy", "always-on"]);
    for (const p of result.policies) {
      expect(p.settledBeforeTrace, p.name).toBe(true);
      expect(p.nodesProvisioned, p.name).toBe(0);
      const first = p.timeline[0];
      const last = p.timeline[p.timeline.length - 1];
      expect(first?.nodes, p.name).toBe(last?.nodes);
    }
  });

  it("replays the trace's opening ten minutes, bursts and lulls as recorded, ending on its first tick", () => {
    // On/off: 1,200 requests in every third minute, none in between (Poisson at the mean would
    // show a policy 400 a minute, evenly, and no burst to remember).
    const csv = azureTraceCsv(60, (m) => (m % 3 === 0 ? 1200 : 0), TOKENS, SATURDAY);
    const options = parseSimulateArgs(["--trace", "t.csv", "--no-progress"]);
    const { arrivals } = prepareTrace(options, csv, undefined);
    const opening = openingRate(arrivals);
    const perMinute = 60_000 / arrivals.tickMs;
    const minuteOfWarmup = (minute: number) => {
      let n = 0;
      for (let t = 0; t < perMinute; t++)
        n += warmupCohort(opening, arrivals, minute * perMinute + t, 0)?.count ?? 0;
      return n;
    };
    // The warm-up's last ten minutes are the opening's ten (minute -10 is the trace's minute 0,
    // minute -2 its minute 8), and the loop repeats them before that.
    const opening10 = Array.from({ length: 10 }, (_, m) => (m % 3 === 0 ? 1200 : 0));
    expect(Array.from({ length: 10 }, (_, m) => minuteOfWarmup(m - 10))).toEqual(opening10);
    expect(Array.from({ length: 10 }, (_, m) => minuteOfWarmup(m - 30))).toEqual(opening10);
    const first = warmupCohort(opening, arrivals, -10 * perMinute, 5_000);
    expect(first).toMatchObject({ contextTokens: TOKENS.context, generatedTokens: TOKENS.generated });
    expect(first?.arrivalMs).toBeGreaterThanOrEqual(5_000);
  });
});

describe("model profiles and ours' capacity setting", () => {
  it("bills a tensor-parallel 70B pod for its four GPUs", () => {
    const csv = azureTraceCsv(60, () => 60, TOKENS, SATURDAY);
    const { result } = simulate(csv, ["--model-profile", "llama-3.1-70b-tp4-a100", "--policy", "always-on"]);
    // 8 replicas × 4 GPUs for the hour (and a few seconds of the last requests finishing).
    expect(only(result, "always-on").gpuHours).toBeGreaterThanOrEqual(32);
    expect(only(result, "always-on").gpuHours).toBeLessThan(32.1);
  });

  it("gives ours the capacity a user configured, off by --capacity-error: half the guess costs more", () => {
    const csv = azureTraceCsv(60, () => 600, TOKENS, SATURDAY);
    const low = simulate(csv, ["--policy", "ours", "--capacity-error", "0.5"]);
    const high = simulate(csv, ["--policy", "ours", "--capacity-error", "2"]);
    expect(only(low.result, "ours").gpuHours).toBeGreaterThan(only(high.result, "ours").gpuHours);
    expect(() => parseSimulateArgs(["--trace", "t.csv", "--model-profile", "gpt-5"])).toThrow(
      /--model-profile must be one of llama-3\.1-8b-a100, llama-3\.1-70b-tp4-a100/,
    );
  });
});

describe("no-data intervals", () => {
  /** 3 hours at 900 requests a minute, `gapMinutes` without data (valid=0), 3 more hours. */
  function trace(gapMinutes: number, burstBeforeGap = 0): string {
    const rows: { local: string; utc: string; requests: number; valid: 0 | 1 }[] = [];
    const start = Date.UTC(2025, 2, 3, 9, 0);
    for (let m = 0; m < 6 * 60 + gapMinutes; m++) {
      const iso = new Date(start + m * 60_000).toISOString().slice(0, 16);
      const gap = m >= 180 && m < 180 + gapMinutes;
      rows.push({
        local: iso.replace("T", " "),
        utc: `${iso}Z`,
        requests: gap ? 0 : m >= 170 && m < 180 ? 900 + burstBeforeGap : 900,
        valid: gap ? 0 : 1,
      });
    }
    return countTraceCsv(rows);
  }

  it("are skipped: the cluster and the policy resume across a logging gap where they were", () => {
    const flags = ["--time-column", "minute_start_utc", "--policy", "hpa-gpu", "--policy", "always-on"];
    const gapped = simulate(trace(2 * 24 * 60), flags).result;
    const unbroken = simulate(trace(0), flags).result;
    const hpa = only(gapped, "hpa-gpu");
    const reference = only(unbroken, "hpa-gpu");
    // Replayed as two days of zero traffic, the HPA would drop to one replica and reload the model
    // on the other side; skipped, the run is the same as one without the gap.
    expect(hpa.coldStarts).toBe(reference.coldStarts);
    expect(hpa.scaleEvents).toBe(reference.scaleEvents);
    expect(hpa.nodesProvisioned).toBe(reference.nodesProvisioned);
    expect(hpa.withinSlaFraction).toBeGreaterThan(0.999);
    // Neither side of the gap is billed for it.
    expect(only(gapped, "always-on").gpuHours).toBeCloseTo(only(unbroken, "always-on").gpuHours, 6);
  });

  it("the oracle works off a backlog on the simulated clock too, not in the unbilled gap", () => {
    // A burst the maximum cannot serve at once leaves a backlog when the logging stops.
    const flags = ["--time-column", "minute_start_utc", "--policy", "always-on", "--max-replicas", "4"];
    const gapped = simulate(trace(6 * 60, 6000), flags).result;
    const unbroken = simulate(trace(0, 6000), flags).result;
    for (const name of ["oracle", "oracle-ca"]) {
      const g = only(gapped, name);
      const u = only(unbroken, name);
      expect(u.withinSlaFraction).toBeLessThan(1);
      // Served during six unbilled hours, the backlog would cost nothing and wait six hours more.
      expect(g.gpuHours).toBeCloseTo(u.gpuHours, 6);
      expect(g.withinSlaFraction).toBeCloseTo(u.withinSlaFraction, 9);
      expect(g.worstQueueWaitSeconds).toBeCloseTo(u.worstQueueWaitSeconds, 6);
      // The report still follows the wall clock: the last point is after the gap.
      const last = g.timeline[g.timeline.length - 1];
      expect(last?.atMs).toBeGreaterThanOrEqual(Date.UTC(2025, 2, 3, 9 + 6 + 6) - 60 * 60_000);
    }
  });
});

describe("KEDA's cron trigger", () => {
  it("reports 0 outside its window and its replicas inside, as KEDA's cron scaler does", () => {
    const [multi] = policiesByName(["keda-multi"]);
    const view = {
      readings: () => ({}),
      history: () => ({}),
      snapshot: () => undefined,
      queueBacklog: () => 0,
      pods: () => [],
      wallTime: (ms: number) => ms,
    };
    const options = parseSimulateArgs(["--trace", "t.csv"]);
    const built = multi?.build(view, {
      zone: "UTC",
      maxReplicas: 8,
      hpaTolerance: 0.1,
      baselineGpuMetric: "util",
      ours: defaultOursDeployment(options),
    });
    const cron = built?.setup.triggers.find((t) => t.name === "cron");
    if (!cron) throw new Error("no cron trigger");
    const saturday = Date.UTC(2023, 10, 18, 10, 0);
    const thursday = Date.UTC(2023, 10, 16, 10, 0);
    expect(cron.evaluate(saturday)).toEqual({
      metric: { kind: "averageValue", value: 0, target: 1 },
      active: false,
    });
    expect(cron.evaluate(thursday)).toEqual({
      metric: { kind: "averageValue", value: 3, target: 1 },
      active: true,
    });
  });
});
