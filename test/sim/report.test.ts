import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSimulateArgs } from "../../src/sim/options.ts";
import { policySvg, reportHtml } from "../../src/sim/report.ts";
import { runTrace } from "../../src/sim/run-trace.ts";
import type { SimulationResult } from "../../src/sim/runner.ts";
import { verdicts } from "../../src/sim/verdict.ts";
import { azureTraceCsv } from "./fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "report-"));

function runSteps(extra: string[]) {
  const file = join(dir, "steps.csv");
  const text = azureTraceCsv(60, (m) => (m < 20 ? 30 : m < 40 ? 500 : 120), {
    context: 1000,
    generated: 200,
  });
  writeFileSync(file, text);
  const options = parseSimulateArgs([
    "--trace",
    file,
    "--policy",
    "hpa-gpu",
    "--policy",
    "always-on",
    "--no-progress",
    ...extra,
  ]);
  return runTrace(options, text, undefined);
}

/** The highest label of the replicas panel (labels at x = 50, above the queue panel at y ≈ 252). */
function replicaAxisTop(svg: string): number {
  const labels = [...svg.matchAll(/<text x="50" y="([\d.]+)" text-anchor="end">(\d+)<\/text>/g)]
    .filter((m) => Number(m[1]) < 240)
    .map((m) => Number(m[2]));
  return Math.max(...labels);
}

describe("the HTML report", () => {
  const traceRun = runSteps(["--sweep"]);
  const { run, result, sweep } = traceRun;

  it("draws the frontier with the oracle as a point, a verdict per policy, and charts that fill the window", () => {
    const html = reportHtml(run, result, sweep);
    expect(html).toContain("Requests within the SLA against GPU-hours, each policy over its knob");
    expect(html).toContain("requests within the SLA (nines scale)");
    expect(html).toMatch(/<polygon points="[^"]+" fill="#000"[^>]*><title>oracle: /);
    for (const p of sweep?.points ?? []) expect(html).toContain(`${p.policy} ${p.knob} ${p.value}:`);
    expect(html.match(/<li>/g)?.length).toBe(2);
    expect(html).toContain("<li>hpa-gpu");
    // Every chart scales with the page: a viewBox and no fixed width.
    for (const svg of html.match(/<svg [^>]*>/g) ?? []) {
      expect(svg).toContain("viewBox=");
      expect(svg).toContain("width:100%");
      expect(svg).not.toMatch(/ width="\d+"/);
    }
    // Axis titles on every panel.
    for (const title of ["replicas", "requests waiting", "TTFT (s)"])
      expect(html).toContain(`>${title}</text>`);
  });

  it("labels the replicas axis up to the highest line", () => {
    for (const policy of result.policies) {
      const highest = Math.max(
        ...policy.timeline.map((t) => Math.max(t.readyReplicas, t.nodes, t.demandReplicas)),
      );
      expect(replicaAxisTop(policySvg(policy, result, run.zone)), policy.name).toBeGreaterThanOrEqual(
        highest,
      );
    }
  });
});

describe("why ours scaled", () => {
  const { run, result } = runSteps(["--policy", "ours"]);
  const ours = result.policies.find((p) => p.name === "ours");

  it("lists each change of ours' desired replicas during the trace, with the policy's sentence", () => {
    const changes = ours?.decisionChanges;
    expect(changes?.total).toBeGreaterThan(1); // 30 → 500 → 120 requests a minute: up, then down
    expect(changes?.shown).toHaveLength(changes?.total ?? -1);
    const shown = changes?.shown ?? [];
    for (const [i, change] of shown.entries()) {
      expect(change.atMs).toBeGreaterThanOrEqual(result.startMs); // not the warm-up's
      expect(change.summary).toMatch(new RegExp(`^${change.desiredReplicas} replica\\(s\\)`));
      if (i > 0) {
        expect(change.atMs).toBeGreaterThanOrEqual(shown[i - 1]!.atMs);
        expect(change.desiredReplicas).not.toBe(shown[i - 1]!.desiredReplicas);
      }
    }
    expect(Math.max(...shown.map((c) => c.desiredReplicas))).toBeGreaterThan(shown[0]!.desiredReplicas);
    // Only ours decides with reasons.
    expect(result.policies.find((p) => p.name === "always-on")?.decisionChanges).toBeUndefined();
  });

  it("shows them in the report under ours' chart, every reason escaped", () => {
    const html = reportHtml(run, result);
    const total = ours?.decisionChanges?.total;
    expect(html).toContain(`<summary>Why ours scaled: ${total} changes of its desired replicas</summary>`);
    const first = ours?.decisionChanges?.shown[0];
    expect(html).toContain(`<td>${first?.desiredReplicas}</td><td>${first?.drivingFactor}</td>`);
    // The step to 500 a minute outruns the node lead time: the changes before the misses are marked.
    expect(ours?.withinSlaFraction).toBeLessThan(1);
    expect(html).toMatch(/<tr class="missed"><td>[^<]+<\/td><td>\d+<\/td>/);
    expect(html).not.toMatch(/<td class="reason">[^<]*[<>"][^<]*<\/td>/);
  });
});

describe("the verdicts", () => {
  function fakeResult(rows: { name: string; within: number; gpuHours: number }[]): SimulationResult {
    return {
      oracleGpuHours: 10,
      policies: rows.map((r) => ({ name: r.name, withinSlaFraction: r.within, gpuHours: r.gpuHours })),
    } as unknown as SimulationResult;
  }

  it("compare each policy with the cheapest other one that reaches the target, and say when it loses", () => {
    const lines = verdicts(
      fakeResult([
        { name: "ours", within: 0.9995, gpuHours: 14 },
        { name: "ours-no-floor", within: 0.9995, gpuHours: 13 },
        { name: "hpa-gpu", within: 0.9992, gpuHours: 20 },
        { name: "keda-queue", within: 0.99, gpuHours: 11 },
        { name: "oracle", within: 1, gpuHours: 10 },
      ]),
      undefined,
      0.999,
    );
    expect(lines).toEqual([
      "ours: 99.95 % within SLA at 1.40× the oracle, 0.70× the cheapest alternative that reaches 99.90 % (hpa-gpu, 20.0 GPU-h)",
      "ours-no-floor: 99.95 % within SLA at 1.30× the oracle, 0.65× the cheapest alternative that reaches 99.90 % (hpa-gpu, 20.0 GPU-h)",
      "hpa-gpu: 99.92 % within SLA at 2.00× the oracle, 1.54× the cheapest alternative that reaches 99.90 % (ours-no-floor, 13.0 GPU-h) — it loses on cost",
      "keda-queue: 99.0 % within SLA, short of 99.90 %; ours-no-floor reaches it at 1.30× the oracle",
    ]);
  });
});
