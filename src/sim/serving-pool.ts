import { waterFill } from "./load-balancer.ts";
import type { FrontEnd, ReplicaModel } from "./model.ts";
import { type Cohort, RequestQueue, ServingReplica, type ServingSink } from "./serving.ts";

/**
 * Replicas without a cluster around them: the oracle's world. Slot `i` serves while it is active;
 * a slot switched off finishes what it runs, and (as a queue consumer does on shutdown) hands its
 * unstarted requests back to the queue. The same ServingReplica and RequestQueue as the policies'
 * pods, dispatched the same way, so the oracle is held to the same replica model.
 */
export class ServingPool {
  private constructor(
    readonly queue: RequestQueue,
    readonly servers: ServingReplica[],
    readonly active: boolean[],
    private readonly frontEnd: FrontEnd,
  ) {}

  static empty(replica: ReplicaModel, slots: number, frontEnd: FrontEnd = "queue"): ServingPool {
    return new ServingPool(
      new RequestQueue(),
      Array.from({ length: slots }, () => new ServingReplica(replica)),
      Array.from({ length: slots }, () => false),
      frontEnd,
    );
  }

  clone(): ServingPool {
    return new ServingPool(
      this.queue.clone(),
      this.servers.map((s) => s.clone()),
      [...this.active],
      this.frontEnd,
    );
  }

  setActive(isActive: (slot: number) => boolean): void {
    for (let i = 0; i < this.servers.length; i++) {
      const next = isActive(i);
      // Behind a load balancer a pod leaving the endpoints finishes what it holds (as Cluster does).
      if (this.active[i] && !next && this.frontEnd === "queue") {
        const released = (this.servers[i] as ServingReplica).releaseWaiting();
        for (let k = released.length - 1; k >= 0; k--) this.queue.returnToHead(released[k] as Cohort);
      }
      this.active[i] = next;
    }
  }

  activeCount(): number {
    let n = 0;
    for (const a of this.active) if (a) n++;
    return n;
  }

  /** One tick: arrivals join the queue, active consumers pull, every replica works. */
  tick(nowMs: number, tickMs: number, arriving: Cohort | undefined, sink: ServingSink): void {
    if (arriving) this.queue.push(arriving);
    this.dispatch();
    for (const server of this.servers) server.processTick(nowMs, tickMs, sink);
  }

  /** As Cluster.dispatch: competing consumers, or least-outstanding routing behind a load balancer. */
  private dispatch(): void {
    const queue = this.queue;
    if (queue.length === 0) return;
    if (this.frontEnd === "http") {
      const open = this.servers.filter((_, i) => this.active[i]);
      const shares = waterFill(
        open.map((s) => s.waitingCount + s.runningCount),
        queue.length,
      );
      for (let k = 0; k < open.length; k++) {
        let wanted = shares[k] as number;
        while (wanted > 0) {
          const cohort = queue.pull(wanted);
          if (!cohort) return;
          (open[k] as ServingReplica).accept(cohort);
          wanted -= cohort.count;
        }
      }
      return;
    }
    let consumers = this.servers.filter((s, i) => this.active[i] && s.appetite() > 0);
    while (queue.length > 0 && consumers.length > 0) {
      const share = Math.max(1, Math.ceil(queue.length / consumers.length));
      for (const server of consumers) {
        let wanted = Math.min(share, server.appetite());
        while (wanted > 0) {
          const cohort = queue.pull(wanted);
          if (!cohort) return;
          server.accept(cohort);
          wanted -= cohort.count;
        }
      }
      consumers = consumers.filter((s) => s.appetite() > 0);
    }
  }

  /** Arrival of the oldest request without a first token (queued or pulled), if any. */
  oldestPendingArrivalMs(): number | undefined {
    let oldest = this.queue.oldestArrivalMs();
    for (const server of this.servers) {
      const at = server.oldestWaitingArrivalMs();
      if (at !== undefined && (oldest === undefined || at < oldest)) oldest = at;
    }
    return oldest;
  }

  /** Requests still waiting for a first token. */
  pendingCount(): number {
    let n = this.queue.length;
    for (const server of this.servers) n += server.waitingCount;
    return n;
  }

  /** 1 + the highest slot still holding work or serving (its node must stay). */
  slotsInUse(): number {
    for (let i = this.servers.length - 1; i >= 0; i--)
      if (this.active[i] || !(this.servers[i] as ServingReplica).idle) return i + 1;
    return 0;
  }

  get idle(): boolean {
    return this.queue.length === 0 && this.servers.every((s) => s.idle);
  }
}
