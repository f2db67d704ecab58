import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSimulateArgs } from "../../src/sim/options.ts";
import { planNodes } from "../../src/sim/oracle-plan.ts";
import { runTrace } from "../../src/sim/run-trace.ts";
import { azureTraceCsv } from "./fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "oracle-"));

function runAll(name: string, perMinute: (minute: number) => number, minutes: number) {
  const file = join(dir, `${name}.csv`);
  const text = azureTraceCsv(minutes, perMinute, { context: 1000, generated: 200 });
  writeFileSync(file, text);
  const options = parseSimulateArgs(["--trace", file, "--policy", "all", "--no-progress"]);
  return runTrace(options, text, undefined).result;
}

/** Synthetic shapes a fleet must follow: a step up, a ramp, and on/off bursts. */
const SHAPES: Record<string, { minutes: number; perMinute: (m: number) => number }> = {
  step: { minutes: 90, perMinute: (m) => (m < 30 ? 60 : 600) },
  ramp: { minutes: 120, perMinute: (m) => Math.round(20 + m * 5) },
  "on/off": { minutes: 120, perMinute: (m) => (Math.floor(m / 20) % 2 === 0 ? 500 : 0) },
};

describe("the oracle", () => {
  for (const [shape, { minutes, perMinute }] of Object.entries(SHAPES)) {
    it(`keeps every request within the SLA and no policy that keeps the SLA is cheaper (${shape})`, () => {
      const result = runAll(shape.replace("/", "-"), perMinute, minutes);
      const oracle = result.policies.find((p) => p.name === "oracle");
      const oracleCa = result.policies.find((p) => p.name === "oracle-ca");
      if (!oracle || !oracleCa) throw new Error("no oracle rows");
      expect(oracle.withinSlaFraction).toBeGreaterThanOrEqual(0.999);
      expect(oracle.requests).toBe(result.requests);
      expect(result.oracleGpuHours).toBe(oracle.gpuHours);
      expect(oracle.oracleRatio).toBe(1);
      // The work bound is unreachable, even clairvoyantly, with whole replicas and start-up delays.
      expect(oracle.gpuHours).toBeGreaterThan(result.workBoundGpuHours);
      // The removal tail only adds cost, and keeps at least as many pods serving.
      expect(oracleCa.gpuHours).toBeGreaterThanOrEqual(oracle.gpuHours);
      expect(oracleCa.withinSlaFraction).toBeGreaterThanOrEqual(0.999);
      for (const p of result.policies) {
        if (p.name.startsWith("oracle") || p.withinSlaFraction < oracle.withinSlaFraction) continue;
        expect(p.gpuHours, p.name).toBeGreaterThanOrEqual(oracle.gpuHours);
        expect(p.oracleRatio, p.name).toBeGreaterThanOrEqual(1);
      }
    }, 120_000);
  }
});

describe("the oracle's node plan", () => {
  const draws = {
    nodeProvisionMs: (i: number) => 300_000 + i * 1_000,
    podStartupMs: (i: number) => 60_000 + i * 100,
  };
  const base = { startMs: 0, tickMs: 5_000, podsPerNode: 1, minNodes: 0, removalTailMs: 0, draws };

  it("requests a node exactly its lead time before its pod must serve, and bills it until the last use", () => {
    // One replica needed in ticks [120, 240).
    const need = new Uint16Array(300);
    need.fill(1, 120, 240);
    const [node, ...rest] = planNodes(need, base);
    expect(rest).toHaveLength(0);
    expect(node?.requestMs).toBe(120 * 5_000 - (300_000 + 60_000));
    expect(node?.releaseMs).toBe(240 * 5_000);
    expect(node?.servingTicks).toEqual([[120, 240]]);
    expect(node?.preExisting).toBe(false);
  });

  it("keeps a node across a gap shorter than a replacement's lead time, lets it go across a longer one", () => {
    const need = new Uint16Array(1000);
    need.fill(1, 0, 100);
    // 50 ticks = 250 s idle: cheaper to keep than the next node's 361 s lead time.
    need.fill(1, 150, 200);
    // 200 ticks = 1,000 s idle: cheaper to release and request a new node.
    need.fill(1, 400, 500);
    const nodes = planNodes(need, base);
    expect(nodes).toHaveLength(2);
    expect(nodes[0]?.preExisting).toBe(true);
    expect(nodes[0]?.servingTicks).toEqual([[0, 200]]);
    expect(nodes[0]?.releaseMs).toBe(200 * 5_000);
    // The replacement is the oracle's first new node: draw 0.
    expect(nodes[1]?.requestMs).toBe(400 * 5_000 - 360_000);
  });

  it("with the Cluster Autoscaler's tail, bills the tail and keeps gaps up to tail + lead", () => {
    const need = new Uint16Array(1000);
    need.fill(1, 0, 100);
    need.fill(1, 250, 300);
    const tail = 600_000;
    const withoutTail = planNodes(need, base);
    const withTail = planNodes(need, { ...base, removalTailMs: tail });
    // 150 ticks = 750 s: longer than a lead time, shorter than tail + lead.
    expect(withoutTail).toHaveLength(2);
    expect(withTail).toHaveLength(1);
    expect(withTail[0]?.releaseMs).toBe(300 * 5_000 + tail);
  });

  it("stacks nodes: the second replica's node serves only while two are needed", () => {
    const need = new Uint16Array(400);
    need.fill(1, 0, 400);
    need.fill(2, 200, 300);
    const nodes = planNodes(need, base);
    expect(nodes.map((n) => [n.slot, n.servingTicks])).toEqual([
      [0, [[0, 400]]],
      [1, [[200, 300]]],
    ]);
  });
});
