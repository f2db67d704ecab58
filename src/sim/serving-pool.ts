import type { ReplicaModel } from "./model.ts";
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
  ) {}

  static empty(replica: ReplicaModel, slots: number): ServingPool {
    return new ServingPool(
      new RequestQueue(),
      Array.from({ length: slots }, () => new ServingReplica(replica)),
      Array.from({ length: slots }, () => false),
    );
  }

  clone(): ServingPool {
    return new ServingPool(
      this.queue.clone(),
      this.servers.map((s) => s.clone()),
      [...this.active],
    );
  }

  setActive(isActive: (slot: number) => boolean): void {
    for (let i = 0; i < this.servers.length; i++) {
      const next = isActive(i);
      if (this.active[i] && !next) {
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

  /** Competing consumers, as Cluster.dispatch: the backlog spread evenly over those with room. */
  private dispatch(): void {
    const queue = this.queue;
    if (queue.length === 0) return;
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
