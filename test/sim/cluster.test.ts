import { describe, expect, it } from "vitest";
import { Cluster } from "../../src/sim/cluster.ts";
import { type ClusterModel, DEFAULT_MODEL } from "../../src/sim/model.ts";
import { RequestQueue, type ServingSink } from "../../src/sim/serving.ts";
import { StartupDraws } from "../../src/sim/startup-draws.ts";

/** Fixed delays (min = max) so the timeline can be computed by hand. */
const FIXED: ClusterModel = {
  ...DEFAULT_MODEL.cluster,
  provisionDelayMs: [6 * 60_000, 6 * 60_000],
  podStartupMs: [60_000, 60_000],
  caScanIntervalMs: 10_000,
  scaleDownUnneededMs: 10 * 60_000,
  maxNodes: 4,
};
const TICK = 5_000;
const sink: ServingSink = { firstTokens: () => {}, completed: () => {} };

/** Drives the cluster the way the runner does, tick by tick. */
function runUntil(cluster: Cluster, queue: RequestQueue, fromMs: number, toMs: number, desired: number) {
  for (let t = fromMs; t < toMs; t += TICK) {
    cluster.advance(t);
    if (t % FIXED.caScanIntervalMs === 0) cluster.autoscaleNodes(t);
    cluster.reconcileReplicas(desired, t, queue);
    cluster.advance(t);
    cluster.dispatch(queue);
    cluster.processTick(t, TICK, sink);
  }
}

function firstTimeWhen(
  cluster: Cluster,
  queue: RequestQueue,
  desired: number,
  until: (c: Cluster) => boolean,
): number {
  for (let t = 0; t < 3_600_000; t += TICK) {
    runUntil(cluster, queue, t, t + TICK, desired);
    if (until(cluster)) return t;
  }
  throw new Error("never happened");
}

describe("pods and nodes", () => {
  it("a new pod waits Pending for a node (CA scan + 6 min), then loads its model (60 s)", () => {
    const cluster = new Cluster(FIXED, DEFAULT_MODEL.replica, new StartupDraws(FIXED, 1));
    const queue = new RequestQueue();
    const readyAt = firstTimeWhen(cluster, queue, 1, (c) => c.readyServingCount() === 1);
    // The pod is created at 0:00 just after that instant's CA scan; the next scan (0:10) requests
    // a node, ready at 6:10; the pod binds then and is ready 60 s later.
    expect(readyAt).toBe(7 * 60_000 + 10_000);
    expect(cluster.counters.nodesProvisioned).toBe(1);
    expect(cluster.counters.coldStarts).toBe(1);
  });

  it("a pod on a warm node skips the provisioning delay", () => {
    const cluster = new Cluster(FIXED, DEFAULT_MODEL.replica, new StartupDraws(FIXED, 1));
    cluster.warmStart(1, 0);
    const queue = new RequestQueue();
    runUntil(cluster, queue, 0, 60_000, 1);
    runUntil(cluster, queue, 60_000, 60_000 + TICK, 0);
    // The node stays (empty, unneeded for less than 10 min); a new pod binds at once.
    const readyAt = firstTimeWhen(cluster, queue, 1, (c) => c.readyServingCount() === 1);
    expect(readyAt).toBe(60_000);
    expect(cluster.counters.nodesProvisioned).toBe(0);
  });

  it("the Cluster Autoscaler removes a node after 10 minutes empty, not before", () => {
    const cluster = new Cluster(FIXED, DEFAULT_MODEL.replica, new StartupDraws(FIXED, 1));
    cluster.warmStart(2, 0);
    const queue = new RequestQueue();
    runUntil(cluster, queue, 0, 9 * 60_000, 1);
    expect(cluster.nodes.length).toBe(2);
    runUntil(cluster, queue, 9 * 60_000, 11 * 60_000, 1);
    expect(cluster.nodes.length).toBe(1);
  });

  it("asks for no more nodes than max-nodes, and counts nodes still provisioning", () => {
    const cluster = new Cluster(FIXED, DEFAULT_MODEL.replica, new StartupDraws(FIXED, 1));
    const queue = new RequestQueue();
    runUntil(cluster, queue, 0, 60_000, 6);
    expect(cluster.nodes.length).toBe(4);
    expect(cluster.counters.nodesProvisioned).toBe(4);
  });

  it("a pod being scaled down finishes its requests and returns unstarted ones to the queue", () => {
    const cluster = new Cluster(
      FIXED,
      { ...DEFAULT_MODEL.replica, maxNumSeqs: 2, consumerPrefetch: 3 },
      new StartupDraws(FIXED, 1),
    );
    cluster.warmStart(1, 0);
    const queue = new RequestQueue();
    queue.push({ count: 5, contextTokens: 100, generatedTokens: 4000, arrivalMs: 0 });
    runUntil(cluster, queue, 0, TICK, 1);
    const pod = cluster.pods[0];
    expect(pod?.serving.runningCount).toBe(2);
    expect(pod?.serving.waitingCount).toBe(3);
    cluster.reconcileReplicas(0, TICK, queue);
    expect(pod?.phase).toBe("terminating");
    expect(queue.length).toBe(3);
    runUntil(cluster, queue, TICK, 600_000, 0);
    expect(cluster.pods.length).toBe(0);
    // Nobody serves: the 3 wait in the durable queue rather than being lost.
    expect(queue.length).toBe(3);
  });

  it("a serving pod preempts a placeholder and starts on its warm GPU at once", () => {
    const cluster = new Cluster(
      { ...FIXED, placeholderPods: 1 },
      DEFAULT_MODEL.replica,
      new StartupDraws(FIXED, 1),
    );
    cluster.warmStart(0, 0);
    const queue = new RequestQueue();
    const readyAt = firstTimeWhen(cluster, queue, 1, (c) => c.readyServingCount() === 1);
    expect(readyAt).toBe(60_000);
    // The evicted placeholder is Pending again, and the CA brings a node for it.
    expect(cluster.counters.nodesProvisioned).toBe(1);
  });

  it("shrinking the placeholder Deployment deletes its Pending pods before the running ones", () => {
    const cluster = new Cluster({ ...FIXED, maxNodes: 2 }, DEFAULT_MODEL.replica, new StartupDraws(FIXED, 1));
    cluster.warmStart(0, 0);
    cluster.placeholderTarget = 3;
    const queue = new RequestQueue();
    runUntil(cluster, queue, 0, 7 * 60_000, 0);
    // Two nodes at most: two placeholders run, the third stays Pending.
    expect(cluster.pods.filter((p) => p.placeholder && p.nodeId >= 0)).toHaveLength(2);
    expect(cluster.pods.filter((p) => p.phase === "pending")).toHaveLength(1);
    cluster.placeholderTarget = 2;
    runUntil(cluster, queue, 7 * 60_000, 7 * 60_000 + TICK, 0);
    expect(cluster.pods.filter((p) => p.phase === "pending")).toHaveLength(0);
    expect(cluster.pods.filter((p) => p.placeholder)).toHaveLength(2);
  });

  it("removes no node for scale-down-delay-after-add (10 min) after the Cluster Autoscaler added one", () => {
    const cluster = new Cluster(
      { ...FIXED, scaleDownUnneededMs: 60_000 },
      DEFAULT_MODEL.replica,
      new StartupDraws(FIXED, 1),
    );
    cluster.warmStart(1, 0);
    const queue = new RequestQueue();
    // A second replica needs a node (requested at 0:10); then the first is scaled away at 1:00,
    // leaving its node empty, unneeded after 1 min — but the add at 0:10 pauses scale-down to 10:10.
    runUntil(cluster, queue, 0, 60_000, 2);
    runUntil(cluster, queue, 60_000, 10 * 60_000, 1);
    expect(cluster.nodes.length).toBe(2);
    runUntil(cluster, queue, 10 * 60_000, 11 * 60_000, 1);
    expect(cluster.nodes.length).toBe(1);
  });
});
