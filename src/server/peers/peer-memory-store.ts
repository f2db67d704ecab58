import type { MemoryStore } from "../../policy/decider.ts";
import type { PolicyMemory } from "../../policy/memory.ts";
import type { MemoryEntryMessage, ValidEntry } from "./wire.ts";
import {
  MAX_ENTRIES_PER_MESSAGE,
  MAX_MEMORY_JSON_CHARACTERS,
  MAX_MESSAGE_CHARACTERS,
  memoryJsonOf,
} from "./wire.ts";

/**
 * One key's memory and the instant of the decision that made it. The JSON is written only when
 * sent (kept, it would add ~1.2 KB per ScaledObject: a 60 % heavier store).
 */
interface Stamped {
  readonly memory: PolicyMemory;
  readonly decidedAtMs: number;
  /** Decided here (not received): this replica is the one to send it. */
  readonly local: boolean;
}

/** The memories decided here that one peer has not acknowledged yet, newest per key. */
export class Outbox {
  private readonly pending = new Map<string, Stamped>();

  private readonly maxEntries: number;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  add(key: string, stamped: Stamped): void {
    this.pending.delete(key);
    this.pending.set(key, stamped);
    // A peer that stays away long enough loses the oldest entries, never unbounded memory: it
    // catches up from a snapshot when it comes back, or at the key's next decision.
    while (this.pending.size > this.maxEntries) {
      const oldest = this.pending.keys().next().value as string;
      this.pending.delete(oldest);
    }
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * The next batch, oldest first, bounded in entries and characters (at least one entry while a
   * sendable one waits). A memory whose JSON is longer than a peer accepts is dropped here, unsent:
   * the policy's own bounds never reach that size, and measuring it here rather than at every
   * decision costs one JSON text per memory sent instead of one more per decision.
   */
  nextBatch(): MemoryEntryMessage[] {
    const batch: MemoryEntryMessage[] = [];
    let characters = 0;
    for (const [key, stamped] of this.pending) {
      if (batch.length >= MAX_ENTRIES_PER_MESSAGE) break;
      const memoryJson = memoryJsonOf(stamped.memory);
      if (memoryJson.length > MAX_MEMORY_JSON_CHARACTERS) {
        this.pending.delete(key);
        continue;
      }
      if (batch.length > 0 && characters + memoryJson.length > MAX_MESSAGE_CHARACTERS) break;
      batch.push({ key, decidedAtMs: stamped.decidedAtMs, memoryJson });
      characters += memoryJson.length;
    }
    return batch;
  }

  /** Drops what a peer acknowledged, unless a newer decision for the key came in meanwhile. */
  acknowledge(batch: readonly MemoryEntryMessage[]): void {
    for (const sent of batch)
      if (this.pending.get(sent.key)?.decidedAtMs === sent.decidedAtMs) this.pending.delete(sent.key);
  }
}

/** Which of two memories of one key wins: the later decision; on a tie, the larger JSON text, so every replica picks the same. */
function newer(candidate: Stamped, current: Stamped | undefined): boolean {
  if (!current) return true;
  if (candidate.decidedAtMs !== current.decidedAtMs) return candidate.decidedAtMs > current.decidedAtMs;
  return memoryJsonOf(candidate.memory) > memoryJsonOf(current.memory);
}

/**
 * Policy memory shared between the scaler's replicas. Reads and writes are local and synchronous
 * (a decision never waits on a peer); every memory decided here is queued for each peer's Outbox,
 * and memories from peers replace the local one only when decided later. Bounded like the decision
 * book: beyond maxEntries the least recently updated key is forgotten.
 */
export class PeerMemoryStore implements MemoryStore {
  private readonly memories = new Map<string, Stamped>();
  private readonly outboxes = new Set<Outbox>();

  private readonly maxEntries: number;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get(key: string): PolicyMemory | undefined {
    return this.memories.get(key)?.memory;
  }

  set(key: string, memory: PolicyMemory, decidedAtMs: number): void {
    const stamped = { memory, decidedAtMs, local: true };
    this.remember(key, stamped);
    for (const outbox of this.outboxes) outbox.add(key, stamped);
  }

  /** Forgets locally only (the book evicted the key here); peers keep theirs until they evict it. */
  delete(key: string): void {
    this.memories.delete(key);
  }

  /** Keeps a peer's memory if it was decided later than ours; true when it was kept. */
  merge(entry: ValidEntry): boolean {
    const stamped = { memory: entry.memory, decidedAtMs: entry.decidedAtMs, local: false };
    if (!newer(stamped, this.memories.get(entry.key))) return false;
    this.remember(entry.key, stamped);
    return true;
  }

  /**
   * A queue for one peer: the memories whose latest decision was made here, then every future
   * one. A peer found after a decision (a restarted pod has a new address, seen on the next lookup)
   * may have copied its snapshot before it; the memories received here are the other replicas' to
   * send, and they send them the same way.
   */
  openOutbox(): Outbox {
    const outbox = new Outbox(this.maxEntries);
    for (const [key, stamped] of this.memories) if (stamped.local) outbox.add(key, stamped);
    this.outboxes.add(outbox);
    return outbox;
  }

  closeOutbox(outbox: Outbox): void {
    this.outboxes.delete(outbox);
  }

  /** One page of every memory here, in key order after `afterKey`, bounded like a push. */
  snapshotPage(afterKey: string): { entries: MemoryEntryMessage[]; complete: boolean } {
    const keys = [...this.memories.keys()].filter((key) => key > afterKey).sort();
    const entries: MemoryEntryMessage[] = [];
    let characters = 0;
    for (const key of keys) {
      const stamped = this.memories.get(key)!;
      const memoryJson = memoryJsonOf(stamped.memory);
      if (memoryJson.length > MAX_MEMORY_JSON_CHARACTERS) continue;
      if (entries.length >= MAX_ENTRIES_PER_MESSAGE) return { entries, complete: false };
      if (entries.length > 0 && characters + memoryJson.length > MAX_MESSAGE_CHARACTERS)
        return { entries, complete: false };
      entries.push({ key, decidedAtMs: stamped.decidedAtMs, memoryJson });
      characters += memoryJson.length;
    }
    return { entries, complete: true };
  }

  get size(): number {
    return this.memories.size;
  }

  private remember(key: string, stamped: Stamped): void {
    this.memories.delete(key);
    this.memories.set(key, stamped);
    while (this.memories.size > this.maxEntries) {
      const oldest = this.memories.keys().next().value as string;
      this.memories.delete(oldest);
    }
  }
}
