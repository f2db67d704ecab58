import { describe, expect, it } from "vitest";
import { parseScalerSpec } from "../../src/config/spec.ts";
import { Cluster } from "../../src/sim/cluster.ts";
import { PodLeadTimes, prometheusMedian } from "../../src/sim/lead-times.ts";
import { type ClusterModel, DEFAULT_MODEL } from "../../src/sim/model.ts";
import { RequestQueue, type ServingSink } from "../../src/sim/serving.ts";
import { StartupDraws } from "../../src/sim/startup-draws.ts";

/** The default cluster's ranges (provisioning 5–8 min, model load 30–120 s): the draws decide. */
const MODEL: ClusterModel = { ...DEFAULT_MODEL.cluster, maxNodes: 8 };
const TICK = 5_000;
const SCAN = MODEL.caScanIntervalMs;
const sink: ServingSink = { firstTokens: () => {}, completed: () => {} };
const spec = parseScalerSpec({ name: "vllm", namespace: "simulated" }, {}, {});

function runUntil(cluster: Cluster, queue: RequestQueue, fromMs: number, toMs: number, desired: number) {
  for (let t = fromMs; t < toMs; t += TICK) {
    cluster.advance(t);
    if (t % SCAN === 0) cluster.autoscaleNodes(t);
    cluster.reconcileReplicas(desired, t, queue);
    cluster.advance(t);
    cluster.dispatch(queue);
    cluster.processTick(t, TICK, sink);
  }
}

describe("the simulated kube-state-metrics lead time", () => {
  it("is the median created → Ready time of the pods that waited for a node: the CA scan, the node's and the pod's draws", () => {
    const draws = new StartupDraws(MODEL, 7);
    const cluster = new Cluster(MODEL, DEFAULT_MODEL.replica, draws);
    const leadTimes = new PodLeadTimes(30_000);
    cluster.onServingPodReady = (pod) => leadTimes.record(pod.createdMs, pod.scheduledMs, pod.readyAtMs);
    // One pod ready from the start (a warm start measures nothing; it took pod start-up draw 0).
    cluster.warmStart(1, 0);
    const queue = new RequestQueue();
    // Three more at 0:00: the scan at 0:10 asks for three nodes; each pod binds on the first tick
    // its node is Ready, in the order the nodes become Ready, then loads its model (draws 1, 2, 3).
    runUntil(cluster, queue, 0, 20 * 60_000, 4);
    const nodesReady = [0, 1, 2].map((i) => SCAN + draws.nodeProvisionMs(i)).sort((a, b) => a - b);
    const expected = nodesReady.map(
      (readyMs, k) => Math.ceil(readyMs / TICK) * TICK + draws.podStartupMs(1 + k),
    );
    const readings = leadTimes.readings(spec, 20 * 60_000, 20 * 60_000);
    expect(readings.leadTimePods).toMatchObject({ ok: true, value: 3 });
    expect(readings.leadTimeObserved).toMatchObject({ ok: true });
    const observed = readings.leadTimeObserved?.ok ? readings.leadTimeObserved.value : Number.NaN;
    expect(observed).toBeCloseTo(prometheusMedian(expected) / 1000, 6);
    // Node provisioning (5–8 min) plus model load (30–120 s), and the scan's wait.
    expect(observed).toBeGreaterThanOrEqual(330);
    expect(observed).toBeLessThanOrEqual(610 + TICK / 1000);

    // Down to one, and up again within the Cluster Autoscaler's 10-minute tail: the new pods land on
    // the nodes still there and start in a minute or two. They measure no node and are not counted.
    runUntil(cluster, queue, 20 * 60_000, 22 * 60_000, 1);
    runUntil(cluster, queue, 22 * 60_000, 26 * 60_000, 4);
    expect(cluster.readyServingCount()).toBe(4);
    const later = leadTimes.readings(spec, 26 * 60_000, 26 * 60_000);
    expect(later.leadTimePods).toMatchObject({ ok: true, value: 3 });
    expect(later.leadTimeObserved).toEqual(
      readings.leadTimeObserved?.ok ? { ...readings.leadTimeObserved, observedAtMs: 26 * 60_000 } : undefined,
    );
  });

  it("shows a pod only once Prometheus has scraped its Ready time, and forgets pods older than the window", () => {
    const leadTimes = new PodLeadTimes(30_000);
    leadTimes.record(0, 400_000, 500_000);
    const spec1h = parseScalerSpec(
      { name: "vllm", namespace: "simulated" },
      { leadTimeWindowHours: "1" },
      {},
    );
    expect(leadTimes.readings(spec1h, 520_000, 520_000).leadTimeObserved).toMatchObject({
      ok: false,
      failure: { kind: "empty" },
    });
    expect(leadTimes.readings(spec1h, 530_000, 530_000).leadTimeObserved).toMatchObject({
      ok: true,
      value: 500,
    });
    expect(leadTimes.readings(spec1h, 3_600_001, 3_600_001).leadTimeObserved).toMatchObject({ ok: false });
    const off = parseScalerSpec({ name: "vllm", namespace: "simulated" }, { leadTimeMeasured: "false" }, {});
    expect(leadTimes.readings(off, 530_000, 530_000)).toEqual({});
  });

  it("takes the median as Prometheus' quantile(0.5) does", () => {
    expect(prometheusMedian([3, 1, 2])).toBe(2);
    expect(prometheusMedian([400, 600])).toBe(500);
    expect(prometheusMedian([7])).toBe(7);
  });
});
