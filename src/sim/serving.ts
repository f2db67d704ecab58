import type { ReplicaModel } from "./model.ts";

/**
 * Requests that arrived within one tick; token counts are per request (the cohort's means). The
 * requests arrived evenly spaced from `arrivalMs` over `spreadMs`, so a replica serving them
 * as they come does not make the last wait for the first one's prefill.
 */
export interface Cohort {
  count: number;
  readonly contextTokens: number;
  readonly generatedTokens: number;
  /** Arrival of the first request. */
  arrivalMs: number;
  /** From the first arrival to the last (0: all at once). */
  spreadMs?: number;
}

function arrivalStepMs(cohort: Cohort): number {
  return cohort.count > 1 ? (cohort.spreadMs ?? 0) / (cohort.count - 1) : 0;
}

/** Takes the `n` earliest requests off the cohort, as a cohort of their own. */
export function splitFront(cohort: Cohort, n: number): Cohort {
  const step = arrivalStepMs(cohort);
  const front: Cohort = { ...cohort, count: n, spreadMs: step * (n - 1) };
  cohort.count -= n;
  cohort.arrivalMs += step * n;
  cohort.spreadMs = step * Math.max(0, cohort.count - 1);
  return front;
}

interface RunningCohort {
  count: number;
  remainingTokens: number;
  readonly kvTokensPerRequest: number;
}

/** Where a pod reports what it did, for the results and the simulated metrics. */
export interface ServingSink {
  /** `count` requests got their first token; TTFTs spread evenly over [first, last] seconds. */
  firstTokens(
    count: number,
    firstTtftSeconds: number,
    lastTtftSeconds: number,
    queueWaitSeconds: number,
    arrivalMs: number,
  ): void;
  completed(count: number): void;
}

/**
 * The durable request queue (Azure Service Bus): first in, first out, nothing is ever dropped.
 * Pods' consumers pull cohorts from its head; a draining pod hands unstarted ones back.
 */
export class RequestQueue {
  private items: Cohort[] = [];
  private head = 0;
  private waitingRequests = 0;

  get length(): number {
    return this.waitingRequests;
  }

  push(cohort: Cohort): void {
    if (cohort.count <= 0) return;
    this.items.push(cohort);
    this.waitingRequests += cohort.count;
  }

  /** Back to the head: these were pulled earlier, so they are the oldest. */
  returnToHead(cohort: Cohort): void {
    if (cohort.count <= 0) return;
    if (this.head > 0) this.items[--this.head] = cohort;
    else this.items.unshift(cohort);
    this.waitingRequests += cohort.count;
  }

  /** Up to `max` requests from the head, as one cohort (split off the head cohort if needed). */
  pull(max: number): Cohort | undefined {
    const first = this.items[this.head];
    if (first === undefined || max <= 0) return undefined;
    const n = Math.min(max, first.count);
    this.waitingRequests -= n;
    if (n === first.count) {
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return first;
    }
    return splitFront(first, n);
  }

  /** Arrival time of the oldest waiting request (for the worst queue wait at the end). */
  oldestArrivalMs(): number | undefined {
    return this.items[this.head]?.arrivalMs;
  }

  /** An independent copy (the oracle tries a replica count on a copy of the world). */
  clone(): RequestQueue {
    const copy = new RequestQueue();
    for (let i = this.head; i < this.items.length; i++) copy.push({ ...(this.items[i] as Cohort) });
    return copy;
  }
}

/**
 * One vLLM replica with continuous batching, at cohort granularity. Per tick it admits pulled
 * requests into the batch while sequences (max_num_seqs) and KV cache allow, prefills them one
 * after another (TTFT = queue wait + prefill), then decodes: the batch shares
 * min(decodeTokensPerSecond, n × decodeTokensPerSecondPerSequence) tokens/s, and requests leave
 * as their last token is generated, freeing their slot and KV blocks.
 */
export class ServingReplica {
  private waiting: Cohort[] = [];
  private running: RunningCohort[] = [];
  waitingCount = 0;
  runningCount = 0;
  kvUsedTokens = 0;
  /** Prefill that ran past the end of the last tick delays this one. */
  private busyUntilMs = 0;
  /** Share of the replica's throughput used in the last tick, 0–1. */
  utilisation = 0;
  /**
   * Share of the last tick in which any kernel ran (prefill, or a batch of any size decoding):
   * what `DCGM_FI_DEV_GPU_UTIL` measures, near 100 % whenever a single sequence is decoding.
   */
  busyFraction = 0;
  generatedTokensLastTick = 0;
  /** Prompt tokens prefilled in the last tick (vLLM's `prompt_tokens_total` counts them at prefill). */
  promptTokensLastTick = 0;
  /**
   * Requests in the replica (waiting or running), averaged over the last tick. A cohort can
   * arrive, run and finish inside one tick, so the count at the tick's end would miss it; the
   * average is what an instantaneous reading (a Service Bus poll) sees in expectation.
   */
  averageInFlightLastTick = 0;
  private requestSeconds = 0;

  constructor(private readonly model: ReplicaModel) {}

  /** How many more requests its consumer would pull now. */
  appetite(): number {
    return Math.max(
      0,
      this.model.maxNumSeqs + this.model.consumerPrefetch - this.runningCount - this.waitingCount,
    );
  }

  accept(cohort: Cohort): void {
    this.waiting.push(cohort);
    this.waitingCount += cohort.count;
  }

  /** On shutdown the consumer abandons unstarted messages: they return to the queue. */
  releaseWaiting(): Cohort[] {
    const released = this.waiting;
    this.waiting = [];
    this.waitingCount = 0;
    return released;
  }

  get idle(): boolean {
    return this.runningCount === 0 && this.waitingCount === 0;
  }

  /** Arrival of the oldest request pulled but not yet started, if any. */
  oldestWaitingArrivalMs(): number | undefined {
    return this.waiting[0]?.arrivalMs;
  }

  /** An independent copy (the oracle tries a replica count on a copy of the world). */
  clone(): ServingReplica {
    const copy = new ServingReplica(this.model);
    copy.waiting = this.waiting.map((c) => ({ ...c }));
    copy.running = this.running.map((r) => ({ ...r }));
    copy.waitingCount = this.waitingCount;
    copy.runningCount = this.runningCount;
    copy.kvUsedTokens = this.kvUsedTokens;
    copy.busyUntilMs = this.busyUntilMs;
    copy.utilisation = this.utilisation;
    copy.busyFraction = this.busyFraction;
    copy.generatedTokensLastTick = this.generatedTokensLastTick;
    copy.promptTokensLastTick = this.promptTokensLastTick;
    copy.averageInFlightLastTick = this.averageInFlightLastTick;
    return copy;
  }

  get kvUsage(): number {
    return this.kvUsedTokens / this.model.kvCacheTokens;
  }

  processTick(tickStartMs: number, tickMs: number, sink: ServingSink): void {
    if (this.runningCount === 0 && this.waitingCount === 0 && this.busyUntilMs <= tickStartMs) {
      this.utilisation = 0;
      this.busyFraction = 0;
      this.generatedTokensLastTick = 0;
      this.promptTokensLastTick = 0;
      this.averageInFlightLastTick = 0;
      return;
    }
    this.requestSeconds = 0;
    this.promptTokensLastTick = 0;
    const tickEndMs = tickStartMs + tickMs;
    const carriedMs = Math.max(0, Math.min(this.busyUntilMs, tickEndMs) - tickStartMs);
    const state = { cursorMs: Math.max(tickStartMs, this.busyUntilMs), prefillBusyMs: carriedMs };
    let decodeUsedMs = 0;
    let generated = 0;
    let activeSeconds = 0;
    for (;;) {
      this.admit(state, tickEndMs, sink);
      // Decode steps interleave with prefills (chunked prefill): the batch decodes whenever the
      // GPU is not prefilling. When a sequence finishes while requests wait, its slot is refilled
      // at once rather than at the next tick.
      const windowMs = tickMs - state.prefillBusyMs - decodeUsedMs;
      if (windowMs <= 0) break;
      const refill = this.waiting.length > 0;
      const step = this.decode(windowMs / 1000, sink, refill);
      generated += step.generated;
      activeSeconds += step.activeSeconds;
      decodeUsedMs += step.usedSeconds * 1000;
      if (!refill || !step.freedSlots) break;
      state.cursorMs = Math.max(state.cursorMs, tickStartMs + state.prefillBusyMs + decodeUsedMs);
    }
    this.busyUntilMs = state.cursorMs;
    const m = this.model;
    // Still waiting at the end: they waited (about) the whole tick.
    this.requestSeconds += this.waitingCount * (tickMs / 1000);
    this.averageInFlightLastTick = this.requestSeconds / (tickMs / 1000);
    this.generatedTokensLastTick = generated;
    this.busyFraction = Math.min(1, (state.prefillBusyMs / 1000 + activeSeconds) / (tickMs / 1000));
    this.utilisation = Math.min(
      1,
      (state.prefillBusyMs / 1000 + generated / m.decodeTokensPerSecond) / (tickMs / 1000),
    );
  }

  /** Admits waiting requests while sequences and KV cache allow, prefilling them in turn. */
  private admit(
    state: { cursorMs: number; prefillBusyMs: number },
    tickEndMs: number,
    sink: ServingSink,
  ): void {
    const m = this.model;
    while (this.waiting.length > 0 && state.cursorMs < tickEndMs) {
      const cohort = this.waiting[0] as Cohort;
      const kvPerRequest = Math.max(1, cohort.contextTokens + cohort.generatedTokens);
      const slots = m.maxNumSeqs - this.runningCount;
      const kvRoom = Math.floor((m.kvCacheTokens - this.kvUsedTokens) / kvPerRequest);
      // A request larger than the whole cache still runs alone (vLLM would truncate or reject it;
      // the queue model never drops requests).
      const admissible = this.runningCount === 0 ? Math.max(1, kvRoom) : kvRoom;
      const n = Math.min(cohort.count, slots, admissible);
      if (n <= 0) break;
      const p = (cohort.contextTokens / m.prefillTokensPerSecond) * 1000;
      const step = arrivalStepMs(cohort);
      const a0 = cohort.arrivalMs;
      const cursorMs = state.cursorMs;
      // One prefill after another, each starting when the GPU is free and the request is there:
      // finish_i = max(cursor + (i+1)·p, a_0 + (i+1)·p) when requests come faster than they are
      // prefilled, else max(cursor + (i+1)·p, a_i + p).
      const queued = step <= p;
      const firstTtftMs = Math.max(cursorMs + p, a0 + p) - a0;
      const lastFinishMs = Math.max(cursorMs + n * p, queued ? a0 + n * p : a0 + (n - 1) * step + p);
      const lastTtftMs = lastFinishMs - (a0 + (n - 1) * step);
      sink.firstTokens(
        n,
        firstTtftMs / 1000,
        lastTtftMs / 1000,
        (Math.max(firstTtftMs, lastTtftMs) - p) / 1000,
        a0,
      );
      // Time from arrival to first token, inside this tick at most.
      this.requestSeconds += (n * Math.min((firstTtftMs + lastTtftMs) / 2, tickEndMs - a0)) / 1000;
      const busyStartMs = Math.max(cursorMs, a0);
      state.prefillBusyMs += Math.max(
        0,
        Math.min(busyStartMs + n * p, tickEndMs) - Math.min(busyStartMs, tickEndMs),
      );
      state.cursorMs = lastFinishMs;
      this.promptTokensLastTick += n * cohort.contextTokens;
      this.running.push({
        count: n,
        remainingTokens: cohort.generatedTokens,
        kvTokensPerRequest: kvPerRequest,
      });
      this.runningCount += n;
      this.kvUsedTokens += n * kvPerRequest;
      this.waitingCount -= n;
      if (n < cohort.count) splitFront(cohort, n);
      else cohort.count = 0;
      if (cohort.count === 0) this.waiting.shift();
    }
  }

  /**
   * Water-filling: everyone decodes at the shared rate until the shortest finishes, repeat.
   * With `stopWhenFreed`, returns as soon as some sequences finish (their slots can be refilled).
   */
  private decode(
    seconds: number,
    sink: ServingSink,
    stopWhenFreed: boolean,
  ): { generated: number; activeSeconds: number; usedSeconds: number; freedSlots: boolean } {
    const m = this.model;
    let generated = 0;
    let left = seconds;
    let freedSlots = false;
    while (this.runningCount > 0 && left > 1e-9 && !(stopWhenFreed && freedSlots)) {
      const perSequence =
        Math.min(m.decodeTokensPerSecond, this.runningCount * m.decodeTokensPerSecondPerSequence) /
        this.runningCount;
      let shortest = Number.POSITIVE_INFINITY;
      for (const r of this.running) shortest = Math.min(shortest, r.remainingTokens);
      const step = Math.min(left, shortest / perSequence);
      const advance = perSequence * step;
      this.requestSeconds += this.runningCount * step;
      generated += advance * this.runningCount;
      left -= step;
      let kept = 0;
      for (const r of this.running) {
        r.remainingTokens -= advance;
        if (r.remainingTokens <= 1e-6) {
          this.runningCount -= r.count;
          this.kvUsedTokens -= r.count * r.kvTokensPerRequest;
          sink.completed(r.count);
          freedSlots = true;
        } else this.running[kept++] = r;
      }
      this.running.length = kept;
    }
    if (this.runningCount === 0) this.kvUsedTokens = 0;
    // Time the batch spent decoding; once nothing runs, the rest of the window is idle.
    const usedSeconds = seconds - Math.max(0, left);
    return { generated, activeSeconds: usedSeconds, usedSeconds, freedSlots };
  }
}
