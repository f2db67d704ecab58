import type { Decision } from "../policy/decision.ts";

/** A change of ours' desired replicas over a run, with the sentence the policy gave for it. */
export interface DecisionChange {
  readonly atMs: number;
  readonly desiredReplicas: number;
  readonly drivingFactor: Decision["drivingFactor"];
  readonly summary: string;
}

/** What a run reports of ours' decisions: the first changes of its answer, and how many there were. */
export interface DecisionChangesResult {
  readonly total: number;
  readonly shown: readonly DecisionChange[];
}

/**
 * Every change of ours' desired replicas during the trace, with its reason: the report's answer
 * to "why did it scale at 10:40?" and "what was it thinking before the misses?". The first
 * `limit` are kept (a fortnight of per-minute traffic makes a few thousand); the count covers all.
 */
export class DecisionChanges {
  private kept: DecisionChange[] = [];
  private total = 0;
  private lastDesired: number | undefined;

  constructor(private readonly limit = 2000) {}

  record(decision: Decision): void {
    if (decision.desiredReplicas === this.lastDesired) return;
    this.lastDesired = decision.desiredReplicas;
    this.total++;
    if (this.kept.length < this.limit)
      this.kept.push({
        atMs: decision.atMs,
        desiredReplicas: decision.desiredReplicas,
        drivingFactor: decision.drivingFactor,
        summary: decision.summary,
      });
  }

  /** Forgets the warm-up's changes when the trace starts (the last answer stays the baseline). */
  restart(): void {
    this.kept = [];
    this.total = 0;
  }

  get result(): DecisionChangesResult {
    return { total: this.total, shown: this.kept };
  }
}
