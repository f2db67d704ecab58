import type { ScalerSpec } from "../config/spec.ts";
import type { SignalReadings } from "../readings/signal-table.ts";
import { type DecideOptions, decide } from "./decide.ts";
import type { Decision } from "./decision.ts";
import type { PolicyMemory } from "./memory.ts";

/**
 * Where the memory between polls is kept, by ScaledObject key. The default keeps it in the
 * process; a store that loads and saves it elsewhere (so that several scaler replicas answer
 * alike) plugs in here without touching the policy.
 *
 * What get() returns must stay as it is until the key's next set(): the server keeps it as the
 * memory its latest decision started from, and decides again from it on request. A store may
 * reuse it after that (the server's copies each memory into records it overwrites in turn).
 */
export interface MemoryStore {
  get(key: string): PolicyMemory | undefined;
  /** `decidedAtMs` is the instant of the decision that produced it: the newest wins between replicas. */
  set(key: string, memory: PolicyMemory, decidedAtMs: number): void;
  delete(key: string): void;
}

export class InProcessMemoryStore implements MemoryStore {
  private readonly memories = new Map<string, PolicyMemory>();

  get(key: string): PolicyMemory | undefined {
    return this.memories.get(key);
  }

  set(key: string, memory: PolicyMemory): void {
    this.memories.set(key, memory);
  }

  delete(key: string): void {
    this.memories.delete(key);
  }

  get size(): number {
    return this.memories.size;
  }
}

/**
 * The one owner of the memory carried from poll to poll (Knative's multiscaler plays this part):
 * decide() is pure and hands back the memory for the next poll; the Decider keeps it per key.
 * The server's decision book, the simulator, `explain` and the tests all decide through one.
 */
export class Decider {
  private readonly store: MemoryStore;

  constructor(store: MemoryStore = new InProcessMemoryStore()) {
    this.store = store;
  }

  /** The decision for one poll of the ScaledObject known as `key`, remembering what the next needs. */
  decide(key: string, spec: ScalerSpec, readings: SignalReadings, nowMs: number): Decision {
    return this.decideFrom(key, spec, readings, nowMs).decision;
  }

  /**
   * As decide(), with the memory the decision started from: decide() is pure, so the spec, the
   * readings, the instant and that memory make the same decision again (the server keeps them
   * rather than the decision), for as long as the store keeps that memory as it is: until the
   * key's next decision (MemoryStore).
   */
  decideFrom(
    key: string,
    spec: ScalerSpec,
    readings: SignalReadings,
    nowMs: number,
    options?: DecideOptions,
  ): { decision: Decision; startedFrom: PolicyMemory | undefined } {
    const startedFrom = this.store.get(key);
    const result = decide(spec, readings, nowMs, startedFrom, options);
    this.store.set(key, result.memory, nowMs);
    return { decision: result.decision, startedFrom };
  }

  /** Drops a ScaledObject's memory (evicted, or deleted): its next decision starts afresh. */
  forget(key: string): void {
    this.store.delete(key);
  }
}
