import type { MemoryStore } from "../policy/decider.ts";
import type { PolicyMemory } from "../policy/memory.ts";
import { MemoryRecord } from "./memory-record.ts";

/** One key's memory as the store's readers see it (peers' queues and merges). */
export interface HeldMemory {
  /** The memory the key's next decision starts from: overwritten in place, to read, never to keep. */
  readonly memory: PolicyMemory;
  /** The instant of the decision that made it. */
  readonly decidedAtMs: number;
  /** Decided here (not received from a peer). */
  readonly local: boolean;
}

/** One key's memories: two records that trade places at every decision made here. */
class Held implements HeldMemory {
  /** The memory the key's next decision starts from. */
  current = new MemoryRecord();
  /**
   * The memory the key's latest decision started from, as it was then (the server keeps it for
   * /debug); the next decision's memory is written here. None until the key's second memory.
   */
  spare: MemoryRecord | undefined;
  decidedAtMs = 0;
  local = false;

  get memory(): PolicyMemory {
    return this.current.memory;
  }
}

/**
 * The server's policy memory per ScaledObject key, copied into objects that live as long as the
 * key (memory-record.ts says why) rather than kept as each decision's new tree.
 *
 * What a caller may rely on: the memory get() returns stays as it is until the key's next set(),
 * and the memory set() was given is never kept (it may die with its decision). A decision starts
 * from get(), and set() then writes the other record, so the memory a kept decision started from
 * is intact for as long as it is the key's latest; replace() (a peer's newer memory) writes the
 * record the next decision starts from, never that one.
 *
 * With maxEntries, the least recently written key is forgotten beyond it (the peers' store: keys
 * arrive from peers without an entry in the book to evict them); without, keys leave by delete().
 */
export class InPlaceMemoryStore implements MemoryStore {
  private readonly held = new Map<string, Held>();
  private readonly maxEntries: number | undefined;

  constructor(maxEntries?: number) {
    this.maxEntries = maxEntries;
  }

  get(key: string): PolicyMemory | undefined {
    return this.held.get(key)?.current.memory;
  }

  /** The memory of a decision made here. */
  set(key: string, memory: PolicyMemory, decidedAtMs: number): void {
    const isNew = !this.held.has(key);
    const held = this.hold(key);
    if (isNew) {
      // No decision started from a memory of this key: nothing to keep as it was.
      held.current.copy(memory);
    } else {
      const into = held.spare ?? new MemoryRecord();
      into.copy(memory);
      held.spare = held.current;
      held.current = into;
    }
    held.decidedAtMs = decidedAtMs;
    held.local = true;
  }

  /** A peer's memory for the key's next decision; the one its latest decision started from stays. */
  replace(key: string, memory: PolicyMemory, decidedAtMs: number): void {
    const held = this.hold(key);
    held.current.copy(memory);
    held.decidedAtMs = decidedAtMs;
    held.local = false;
  }

  /** The key's memory and its stamp, to read (never to keep: it is overwritten in place). */
  heldFor(key: string): HeldMemory | undefined {
    return this.held.get(key);
  }

  delete(key: string): void {
    this.held.delete(key);
  }

  keys(): IterableIterator<string> {
    return this.held.keys();
  }

  get size(): number {
    return this.held.size;
  }

  private hold(key: string): Held {
    let held = this.held.get(key);
    if (!held) {
      held = new Held();
      this.held.set(key, held);
    } else if (this.maxEntries !== undefined) {
      // Re-inserted: the map's order is least recently written first.
      this.held.delete(key);
      this.held.set(key, held);
    }
    if (this.maxEntries !== undefined)
      while (this.held.size > this.maxEntries) this.held.delete(this.held.keys().next().value as string);
    return held;
  }
}
