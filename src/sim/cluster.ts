import { waterFill } from "./load-balancer.ts";
import { type ClusterModel, type FrontEnd, podsPerNode, type ReplicaModel } from "./model.ts";
import { type RequestQueue, ServingReplica, type ServingSink } from "./serving.ts";
import type { StartupDraws } from "./startup-draws.ts";

export type PodPhase = "pending" | "starting" | "ready" | "terminating";

export class SimPod {
  phase: PodPhase = "pending";
  nodeId = -1;
  /** When the scheduler bound it to a node (kube-state-metrics' scheduled time). */
  scheduledMs = Number.POSITIVE_INFINITY;
  readyAtMs = Number.POSITIVE_INFINITY;
  readonly serving: ServingReplica;

  constructor(
    readonly id: number,
    readonly createdMs: number,
    readonly placeholder: boolean,
    replica: ReplicaModel,
  ) {
    this.serving = new ServingReplica(replica);
  }
}

export class SimNode {
  pods = 0;
  emptySinceMs: number;

  constructor(
    readonly id: number,
    readonly requestedMs: number,
    readonly readyAtMs: number,
  ) {
    this.emptySinceMs = readyAtMs;
  }

  isReady(nowMs: number): boolean {
    return nowMs >= this.readyAtMs;
  }
}

/** Counters the results report. */
export interface ClusterCounters {
  coldStarts: number;
  nodesProvisioned: number;
  peakNodes: number;
  peakReadyReplicas: number;
}

/**
 * Pods of the serving Deployment (and optional placeholder pods) on a pool of GPU nodes, with the
 * Deployment controller, the scheduler and the Cluster Autoscaler:
 *   Pending (no node with a free GPU) → starting (image + model load) → ready → terminating
 *   (no new work; unstarted messages go back to the queue; in-flight requests finish).
 * The Cluster Autoscaler adds nodes for Pending pods every scan and removes nodes that have been
 * empty for the unneeded time; a node bills from the moment it is requested.
 */
export class Cluster {
  readonly pods: SimPod[] = [];
  readonly nodes: SimNode[] = [];
  readonly counters: ClusterCounters = {
    coldStarts: 0,
    nodesProvisioned: 0,
    peakNodes: 0,
    peakReadyReplicas: 0,
  };
  private nextId = 1;
  private readonly perNode: number;
  /** Nodes requested and pods started so far: the index of the next start-up draw of each kind. */
  private nodesRequested = 0;
  private lastScaleUpMs = Number.NEGATIVE_INFINITY;
  private podsStarted = 0;
  /**
   * Size of the placeholder Deployment: fixed (`placeholderPods`) or set every tick by a headroom
   * ScaledObject (this scaler with role=headroom).
   */
  placeholderTarget: number;
  /** Told when a serving pod passes its start-up (kube-state-metrics' Ready time). */
  onServingPodReady: ((pod: SimPod) => void) | undefined;

  constructor(
    private readonly model: ClusterModel,
    private readonly replica: ReplicaModel,
    private draws: StartupDraws,
    private readonly frontEnd: FrontEnd = "queue",
  ) {
    this.perNode = podsPerNode(model);
    this.placeholderTarget = model.placeholderPods;
    if (this.perNode < 1)
      throw new Error("a node must fit at least one pod (--gpus-per-pod ≤ --gpus-per-node)");
  }

  /** A steady state to start from: `replicas` ready pods and placeholders on ready nodes. */
  warmStart(replicas: number, nowMs: number): void {
    const total = replicas + this.placeholderTarget;
    const nodes = Math.min(
      this.model.maxNodes,
      Math.max(this.model.minNodes, Math.ceil(total / this.perNode)),
    );
    for (let i = 0; i < nodes; i++) this.nodes.push(new SimNode(this.nextId++, nowMs, nowMs));
    for (let i = 0; i < total; i++) {
      const pod = this.createPod(nowMs, i >= replicas);
      const node = this.nodes.find((n) => n.pods < this.perNode);
      if (!node) continue;
      this.bind(pod, node, nowMs);
      pod.phase = "ready";
      pod.readyAtMs = nowMs;
    }
    this.updatePeaks(nowMs);
  }

  private createPod(nowMs: number, placeholder: boolean): SimPod {
    const pod = new SimPod(this.nextId++, nowMs, placeholder, this.replica);
    this.pods.push(pod);
    return pod;
  }

  private bind(pod: SimPod, node: SimNode, nowMs: number): void {
    pod.nodeId = node.id;
    pod.scheduledMs = nowMs;
    node.pods++;
    if (pod.placeholder) {
      // A pause container: ready as soon as it is placed.
      pod.phase = "ready";
      pod.readyAtMs = nowMs;
    } else {
      pod.phase = "starting";
      pod.readyAtMs = nowMs + this.draws.podStartupMs(this.podsStarted++);
      this.counters.coldStarts++;
    }
  }

  private unbind(pod: SimPod, nowMs: number): void {
    const node = this.nodes.find((n) => n.id === pod.nodeId);
    if (node) {
      node.pods--;
      if (node.pods === 0) node.emptySinceMs = Math.max(nowMs, node.readyAtMs);
    }
    pod.nodeId = -1;
  }

  private remove(pod: SimPod, nowMs: number): void {
    if (pod.nodeId >= 0) this.unbind(pod, nowMs);
    const index = this.pods.indexOf(pod);
    if (index >= 0) this.pods.splice(index, 1);
  }

  /** Pods the Deployment counts (everything not terminating). */
  servingPods(): SimPod[] {
    return this.pods.filter((p) => !p.placeholder && p.phase !== "terminating");
  }

  /** Every serving pod, draining ones included (a pod lister sees them until they are gone). */
  servingPodsListed(): SimPod[] {
    return this.pods.filter((p) => !p.placeholder);
  }

  readyServingCount(): number {
    let n = 0;
    for (const p of this.pods) if (!p.placeholder && p.phase === "ready") n++;
    return n;
  }

  /** Serving pods that exist but are not ready yet (Pending or loading the model). */
  unreadyServingCount(): number {
    let n = 0;
    for (const p of this.pods) if (!p.placeholder && (p.phase === "pending" || p.phase === "starting")) n++;
    return n;
  }

  private servingCount(): number {
    let n = 0;
    for (const p of this.pods) if (!p.placeholder && p.phase !== "terminating") n++;
    return n;
  }

  /**
   * The Deployment controller: create pods, or delete the least useful first (k8s ReplicaSet
   * order: unscheduled, then not ready, then the most recently ready).
   */
  reconcileReplicas(desired: number, nowMs: number, queue: RequestQueue): void {
    const count = this.servingCount();
    if (count === desired) return;
    if (count < desired) {
      for (let i = count; i < desired; i++) this.createPod(nowMs, false);
      return;
    }
    const current = this.servingPods();
    const rank = (p: SimPod) => (p.phase === "pending" ? 0 : p.phase === "starting" ? 1 : 2);
    const victims = [...current]
      .sort((a, b) => rank(a) - rank(b) || b.readyAtMs - a.readyAtMs || b.createdMs - a.createdMs)
      .slice(0, current.length - desired);
    for (const pod of victims) {
      if (pod.phase === "ready") {
        pod.phase = "terminating";
        // Behind a load balancer the pod leaves the endpoints and finishes what it holds (preStop
        // waits); a queue consumer abandons its unstarted messages, which return to the queue.
        if (this.frontEnd === "http") continue;
        const released = pod.serving.releaseWaiting();
        for (let i = released.length - 1; i >= 0; i--)
          queue.returnToHead(released[i] as NonNullable<(typeof released)[number]>);
      } else this.remove(pod, nowMs);
    }
  }

  /**
   * Keeps the placeholder Deployment at its size: recreates preempted ones, and on a scale-down
   * deletes Pending ones first, then running ones (their nodes go empty and the CA removes them).
   */
  private reconcilePlaceholders(nowMs: number): void {
    let have = 0;
    for (const p of this.pods) if (p.placeholder) have++;
    for (let i = have; i < this.placeholderTarget; i++) this.createPod(nowMs, true);
    if (have <= this.placeholderTarget) return;
    const extra = this.pods
      .filter((p) => p.placeholder)
      .sort((a, b) => Number(a.nodeId >= 0) - Number(b.nodeId >= 0) || b.createdMs - a.createdMs)
      .slice(0, have - this.placeholderTarget);
    for (const pod of extra) this.remove(pod, nowMs);
  }

  /** Node readiness, pod start-up, drained pods leaving, then scheduling. */
  advance(nowMs: number): void {
    let pending = 0;
    let placeholders = 0;
    for (let i = this.pods.length - 1; i >= 0; i--) {
      const pod = this.pods[i] as SimPod;
      if (pod.placeholder) placeholders++;
      if (pod.phase === "starting" && nowMs >= pod.readyAtMs) {
        pod.phase = "ready";
        if (!pod.placeholder) this.onServingPodReady?.(pod);
      } else if (pod.phase === "terminating" && pod.serving.idle) this.remove(pod, nowMs);
      else if (pod.phase === "pending") pending++;
    }
    if (placeholders > 0 || this.placeholderTarget > 0) {
      this.reconcilePlaceholders(nowMs);
      pending++;
    }
    if (pending > 0) this.schedule(nowMs);
    this.updatePeaks(nowMs);
  }

  private schedule(nowMs: number): void {
    const pending = this.pods.filter((p) => p.phase === "pending");
    // Serving pods first, oldest first; placeholders only take what is left (lower priority).
    pending.sort((a, b) => Number(a.placeholder) - Number(b.placeholder) || a.createdMs - b.createdMs);
    for (const pod of pending) {
      const node = this.nodes.find((n) => n.isReady(nowMs) && n.pods < this.perNode);
      if (node) {
        this.bind(pod, node, nowMs);
        continue;
      }
      if (pod.placeholder) continue;
      // Preemption: a serving pod evicts a placeholder and takes its warm GPU at once.
      const victim = this.pods.find((p) => p.placeholder && p.nodeId >= 0);
      if (!victim) continue;
      const victimNode = this.nodes.find((n) => n.id === victim.nodeId);
      this.remove(victim, nowMs);
      if (victimNode) this.bind(pod, victimNode, nowMs);
    }
  }

  /** One Cluster Autoscaler scan. */
  autoscaleNodes(nowMs: number): void {
    let pending = 0;
    for (const p of this.pods) if (p.phase === "pending") pending++;
    let provisioning = 0;
    for (const n of this.nodes) if (!n.isReady(nowMs)) provisioning++;
    const upcoming = provisioning * this.perNode;
    const shortfall = pending - upcoming;
    if (shortfall > 0) {
      const wanted = Math.ceil(shortfall / this.perNode);
      const room = this.model.maxNodes - this.nodes.length;
      for (let i = 0; i < Math.min(wanted, room); i++) {
        const delay = this.draws.nodeProvisionMs(this.nodesRequested++);
        this.nodes.push(new SimNode(this.nextId++, nowMs, nowMs + delay));
        this.counters.nodesProvisioned++;
        this.lastScaleUpMs = nowMs;
      }
    }
    // scale-down-delay-after-add: no scale-down evaluation for a while after a scale-up.
    const scaleDownPaused = nowMs - this.lastScaleUpMs < this.model.scaleDownDelayAfterAddMs;
    for (const node of scaleDownPaused ? [] : [...this.nodes]) {
      if (this.nodes.length <= this.model.minNodes) break;
      if (
        node.isReady(nowMs) &&
        node.pods === 0 &&
        nowMs - node.emptySinceMs >= this.model.scaleDownUnneededMs
      ) {
        this.nodes.splice(this.nodes.indexOf(node), 1);
      }
    }
    this.updatePeaks(nowMs);
  }

  /**
   * Starts the counters afresh (at the end of the warm-up) and draws the trace's start-up delays
   * from here: the next node and pod started get draw 0 of `traceDraws`.
   */
  resetCounters(traceDraws?: StartupDraws): void {
    if (traceDraws) {
      this.draws = traceDraws;
      this.nodesRequested = 0;
      this.podsStarted = 0;
    }
    this.counters.coldStarts = 0;
    this.counters.nodesProvisioned = 0;
    this.counters.peakNodes = this.nodes.length;
    this.counters.peakReadyReplicas = this.readyServingCount();
  }

  private updatePeaks(_nowMs: number): void {
    this.counters.peakNodes = Math.max(this.counters.peakNodes, this.nodes.length);
    this.counters.peakReadyReplicas = Math.max(this.counters.peakReadyReplicas, this.readyServingCount());
  }

  /** Requests the serving pods hold (waiting in vLLM or running), averaged over the last tick. */
  inFlight(): number {
    let n = 0;
    for (const p of this.pods) if (!p.placeholder) n += p.serving.averageInFlightLastTick;
    return n;
  }

  /** Hands waiting requests to ready pods, the way the front end does. */
  dispatch(queue: RequestQueue): void {
    if (queue.length === 0) return;
    if (this.frontEnd === "http") this.dispatchLeastOutstanding(queue);
    else this.dispatchToConsumers(queue);
  }

  /**
   * Ready pods' consumers pull from the queue. Competing consumers receive messages as they
   * arrive, so a tick's arrivals are spread evenly over the pods that have room, not handed to one.
   */
  private dispatchToConsumers(queue: RequestQueue): void {
    let consumers = this.pods.filter(
      (p) => !p.placeholder && p.phase === "ready" && p.serving.appetite() > 0,
    );
    while (queue.length > 0 && consumers.length > 0) {
      const share = Math.max(1, Math.ceil(queue.length / consumers.length));
      for (const pod of consumers) {
        let wanted = Math.min(share, pod.serving.appetite());
        while (wanted > 0) {
          const cohort = queue.pull(wanted);
          if (!cohort) return;
          pod.serving.accept(cohort);
          wanted -= cohort.count;
        }
      }
      consumers = consumers.filter((p) => p.serving.appetite() > 0);
    }
  }

  /**
   * A load balancer with least-outstanding-requests routing: each request goes to the ready pod
   * holding the fewest, so a tick's arrivals fill the emptiest pods up to a common level. vLLM
   * queues whatever it cannot run yet (no cap). With no ready pod the requests stay at the gateway.
   */
  private dispatchLeastOutstanding(queue: RequestQueue): void {
    const pods = this.pods.filter((p) => !p.placeholder && p.phase === "ready");
    if (pods.length === 0) return;
    const shares = waterFill(
      pods.map((p) => p.serving.waitingCount + p.serving.runningCount),
      queue.length,
    );
    for (let i = 0; i < pods.length; i++) {
      let wanted = shares[i] as number;
      const pod = pods[i] as SimPod;
      while (wanted > 0) {
        const cohort = queue.pull(wanted);
        if (!cohort) return;
        pod.serving.accept(cohort);
        wanted -= cohort.count;
      }
    }
  }

  processTick(tickStartMs: number, tickMs: number, sink: ServingSink): void {
    for (const pod of this.pods)
      if (!pod.placeholder && (pod.phase === "ready" || pod.phase === "terminating"))
        pod.serving.processTick(tickStartMs, tickMs, sink);
  }

  gpusBilled(): number {
    return this.nodes.length * this.model.gpusPerNode;
  }
}
