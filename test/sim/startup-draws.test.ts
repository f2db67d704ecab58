import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Cluster } from "../../src/sim/cluster.ts";
import { DEFAULT_MODEL } from "../../src/sim/model.ts";
import { RequestQueue } from "../../src/sim/serving.ts";
import { StartupDraws } from "../../src/sim/startup-draws.ts";

describe("start-up draws", () => {
  const cluster = DEFAULT_MODEL.cluster;

  it("stay within the configured ranges and depend only on seed, kind and index", () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat({ max: 1_000_000 }), (seed, index) => {
        const a = new StartupDraws(cluster, seed);
        const b = new StartupDraws(cluster, seed);
        const node = a.nodeProvisionMs(index);
        const pod = a.podStartupMs(index);
        expect(node).toBeGreaterThanOrEqual(cluster.provisionDelayMs[0]);
        expect(node).toBeLessThanOrEqual(cluster.provisionDelayMs[1]);
        expect(pod).toBeGreaterThanOrEqual(cluster.podStartupMs[0]);
        expect(pod).toBeLessThanOrEqual(cluster.podStartupMs[1]);
        // Asking in another order gives the same answers: random access, no hidden state.
        expect(b.podStartupMs(index)).toBe(pod);
        expect(b.nodeProvisionMs(index)).toBe(node);
      }),
    );
  });

  it("spread over the range and differ between seeds", () => {
    const draws = new StartupDraws(cluster, 1);
    const values = Array.from({ length: 2000 }, (_, i) => draws.nodeProvisionMs(i));
    const [low, high] = cluster.provisionDelayMs;
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    expect(Math.abs(mean - (low + high) / 2)).toBeLessThan((high - low) * 0.03);
    const quarters = [0, 0, 0, 0];
    for (const v of values) {
      const q = Math.min(3, Math.floor(((v - low) / (high - low)) * 4));
      quarters[q] = (quarters[q] as number) + 1;
    }
    for (const q of quarters) expect(q).toBeGreaterThan(400);
    const other = new StartupDraws(cluster, 2);
    expect(values.slice(0, 20)).not.toEqual(Array.from({ length: 20 }, (_, i) => other.nodeProvisionMs(i)));
  });

  it("the cluster gives its n-th node and n-th pod the n-th draw", () => {
    const draws = new StartupDraws(cluster, 7);
    const sim = new Cluster({ ...cluster, maxNodes: 3 }, DEFAULT_MODEL.replica, draws);
    const queue = new RequestQueue();
    sim.reconcileReplicas(3, 0, queue);
    sim.advance(0);
    sim.autoscaleNodes(0);
    expect(sim.nodes.map((n) => n.readyAtMs)).toEqual([0, 1, 2].map((i) => draws.nodeProvisionMs(i)));
    const lastReady = Math.max(...sim.nodes.map((n) => n.readyAtMs));
    sim.advance(lastReady);
    const bound = sim.pods.filter((p) => p.phase === "starting");
    expect(bound.map((p) => p.readyAtMs - lastReady)).toEqual([0, 1, 2].map((i) => draws.podStartupMs(i)));
  });

  it("a warm-up draws from its own sequence, so the trace's n-th node gets draw n whatever the warm-up did", () => {
    const draws = new StartupDraws(cluster, 7);
    const firstTraceNode = (warmupNodes: number) => {
      const sim = new Cluster({ ...cluster, maxNodes: 8 }, DEFAULT_MODEL.replica, draws.forWarmup());
      const queue = new RequestQueue();
      // The warm-up starts `warmupNodes` nodes and their pods.
      sim.reconcileReplicas(warmupNodes, 0, queue);
      sim.advance(0);
      sim.autoscaleNodes(0);
      const warm = Math.max(0, ...sim.nodes.map((n) => n.readyAtMs));
      sim.advance(warm);
      sim.resetCounters(draws);
      sim.reconcileReplicas(warmupNodes + 1, warm, queue);
      sim.advance(warm);
      sim.autoscaleNodes(warm);
      const added = sim.nodes[sim.nodes.length - 1];
      return (added?.readyAtMs ?? Number.NaN) - warm;
    };
    expect(firstTraceNode(0)).toBe(draws.nodeProvisionMs(0));
    expect(firstTraceNode(3)).toBe(draws.nodeProvisionMs(0));
    expect(draws.forWarmup().nodeProvisionMs(0)).not.toBe(draws.nodeProvisionMs(0));
  });
});
