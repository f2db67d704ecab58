import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSimulateArgs } from "../../src/sim/options.ts";
import { DEFAULT_BASELINE_KNOBS } from "../../src/sim/policies.ts";
import { resultJson } from "../../src/sim/report.ts";
import { prepareTrace, runTrace } from "../../src/sim/run-trace.ts";
import {
  cheapestAtSla,
  runSweepPoint,
  type SweepPoint,
  sweepJobs,
  sweepKnobFor,
} from "../../src/sim/sweep.ts";
import { azureTraceCsv } from "./fixtures.ts";

function point(policy: string, value: number, withinSlaFraction: number, gpuHours: number): SweepPoint {
  return { policy, knob: "k", value, withinSlaFraction, gpuHours, oracleRatio: gpuHours };
}

describe("cheapestAtSla", () => {
  it("takes the cheapest point that reaches the target, and null for a policy that never does", () => {
    const cheapest = cheapestAtSla(
      [
        point("a", 1, 0.9999, 10),
        point("a", 2, 0.9995, 7),
        point("a", 3, 0.99, 4),
        point("b", 1, 0.99, 3),
        point("b", 2, 0.998, 5),
      ],
      0.999,
    );
    expect(cheapest).toEqual({
      a: { knob: "k", value: 2, gpuHours: 7, withinSlaFraction: 0.9995 },
      b: null,
    });
  });
});

describe("the sweep's knobs", () => {
  it("always try the shipped setting", () => {
    expect(sweepKnobFor("keda-queue", 8)?.values).toContain(DEFAULT_BASELINE_KNOBS.queueMessagesPerReplica);
    expect(sweepKnobFor("keda-multi", 8)?.values).toContain(DEFAULT_BASELINE_KNOBS.multiThresholdScale);
    expect(sweepKnobFor("hpa-gpu", 8)?.values).toContain(DEFAULT_BASELINE_KNOBS.hpaTargetUtilisation);
    expect(sweepKnobFor("ours", 8)?.values).toContain(0.7);
    expect(sweepKnobFor("always-on", 8)?.values).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(sweepKnobFor("ours-no-headroom", 8)).toBeUndefined();
  });
});

describe("simulate --sweep", () => {
  const dir = mkdtempSync(join(tmpdir(), "sweep-"));

  it("runs each policy over its knob, reports every point and the cheapest at the SLA target", () => {
    const file = join(dir, "step.csv");
    const text = azureTraceCsv(60, (m) => (m < 20 ? 60 : 400), { context: 1000, generated: 200 });
    writeFileSync(file, text);
    const options = parseSimulateArgs([
      "--trace",
      file,
      "--policy",
      "hpa-gpu",
      "--policy",
      "always-on",
      "--sweep",
      "--sla-target",
      "0.999",
      "--no-progress",
    ]);
    const seen: string[] = [];
    const run = runTrace(options, text, undefined, undefined, (p, done, total) =>
      seen.push(`${p.policy}=${p.value} ${done}/${total}`),
    );
    const sweep = run.sweep;
    if (!sweep) throw new Error("no sweep");
    const hpaValues = sweepKnobFor("hpa-gpu", 8)?.values ?? [];
    expect(sweep.points).toHaveLength(hpaValues.length + 8);
    expect(seen.at(-1)).toBe(`always-on=8 ${hpaValues.length + 8}/${hpaValues.length + 8}`);
    // The knob is really applied: different targets cost differently.
    const hpaCosts = new Set(sweep.points.filter((p) => p.policy === "hpa-gpu").map((p) => p.gpuHours));
    expect(hpaCosts.size).toBeGreaterThan(1);
    // The shipped setting's point is the run's own row.
    const shipped = sweep.points.find((p) => p.policy === "hpa-gpu" && p.value === 0.8);
    const row = run.result.policies.find((p) => p.name === "hpa-gpu");
    expect(shipped?.gpuHours).toBe(row?.gpuHours);
    expect(shipped?.withinSlaFraction).toBe(row?.withinSlaFraction);
    // A fixed fleet: the cheapest within the target is the smallest size that reaches it.
    const fleet = sweep.points.filter((p) => p.policy === "always-on");
    const best = sweep.cheapestAtSla["always-on"];
    if (!best) throw new Error("always-on at 8 replicas keeps this SLA");
    for (const p of fleet) if (p.value < best.value) expect(p.withinSlaFraction).toBeLessThan(0.999);
    for (const p of sweep.points)
      expect(p.oracleRatio).toBeCloseTo(p.gpuHours / run.result.oracleGpuHours, 9);
    const json = resultJson(run.run, run.result, false, sweep) as {
      slaTarget: number;
      sweep: SweepPoint[];
      cheapestAtSla: Record<string, unknown>;
    };
    expect(json.slaTarget).toBe(0.999);
    expect(json.sweep[0]).toEqual({
      policy: "hpa-gpu",
      knob: "targetUtilisation",
      value: hpaValues[0],
      withinSlaFraction: expect.any(Number),
      gpuHours: expect.any(Number),
      oracleRatio: expect.any(Number),
    });
    expect(Object.keys(json.cheapestAtSla)).toEqual(["hpa-gpu", "always-on"]);
  }, 180_000);

  it("refuses an SLA target outside (0, 1]", () => {
    expect(() => parseSimulateArgs(["--trace", "t.csv", "--sla-target", "99.9"])).toThrow(/--sla-target/);
    expect(() => parseSimulateArgs(["--trace", "t.csv", "--sla-target", "0"])).toThrow(/--sla-target/);
  });
});

describe("sweep points run one by one (as the bench's worker threads run them)", () => {
  it("give the same points as the whole sweep, in any order, with the oracle's ratio filled in after", () => {
    const dir = mkdtempSync(join(tmpdir(), "sweep-units-"));
    const file = join(dir, "step.csv");
    const text = azureTraceCsv(30, (m) => (m < 10 ? 60 : 300), { context: 1000, generated: 200 });
    writeFileSync(file, text);
    const options = parseSimulateArgs([
      "--trace",
      file,
      "--policy",
      "hpa-gpu",
      "--policy",
      "keda-queue",
      "--sweep",
      "--no-progress",
    ]);
    const whole = runTrace(options, text, undefined);
    const trace = prepareTrace(options, text, undefined);
    const jobs = sweepJobs(trace.policies, trace.context.maxReplicas);
    // Backwards, without the oracle: nothing a point computes depends on another point.
    const oracleGpuHours = whole.result.oracleGpuHours;
    const byIndex = jobs
      .map((_, i) => jobs.length - 1 - i)
      .map((i) => ({
        i,
        point: runSweepPoint(trace.arrivals, jobs[i] as (typeof jobs)[number], {
          model: options.model,
          context: trace.context,
          oracleRows: [],
        }),
      }))
      .sort((a, b) => a.i - b.i)
      .flatMap(({ point }) => (point ? [{ ...point, oracleRatio: point.gpuHours / oracleGpuHours }] : []));
    // keda-queue is left out behind HTTP: no points for it.
    expect(byIndex.every((p) => p.policy === "hpa-gpu")).toBe(true);
    expect(byIndex).toEqual(whole.sweep?.points);
  });
});
