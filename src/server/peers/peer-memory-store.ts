import type { MemoryStore } from "../../policy/decider.ts";
import type { PolicyMemory } from "../../policy/memory.ts";
import { type HeldMemory, InPlaceMemoryStore } from "../in-place-memory-store.ts";
import type { MemoryEntryMessage, ValidEntry } from "./wire.ts";
import {
  canonicalMemoryJsonOf,
  MAX_ENTRIES_PER_MESSAGE,
  MAX_MEMORY_JSON_CHARACTERS,
  MAX_MESSAGE_CHARACTERS,
  memoryJsonOf,
} from "./wire.ts";

/** Reads a key's memories and their stamp at the moment of sending. */
type HeldReader = (key: string) => HeldMemory | undefined;

/**
 * The keys whose memory was decided here and one peer has not acknowledged yet, each with the
 * instant of its latest decision. The memory itself is read from the store when sent: it is
 * overwritten in place at every decision, so the newest is what goes.
 */
export class Outbox {
  private readonly pending = new Map<string, number>();

  private readonly maxEntries: number;
  private readonly heldFor: HeldReader;

  constructor(maxEntries: number, heldFor: HeldReader) {
    this.maxEntries = maxEntries;
    this.heldFor = heldFor;
  }

  add(key: string, decidedAtMs: number): void {
    this.pending.delete(key);
    this.pending.set(key, decidedAtMs);
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
   * sendable one waits). Dropped here, unsent: a key forgotten since, or whose memory is now a
   * peer's later one (that peer sends it); and a memory whose JSON is longer than a peer accepts
   * (the policy's own bounds never reach that size, and measuring it here rather than at every
   * decision costs one JSON text per memory sent instead of one more per decision).
   */
  nextBatch(): MemoryEntryMessage[] {
    const batch: MemoryEntryMessage[] = [];
    let characters = 0;
    for (const [key, decidedAtMs] of this.pending) {
      if (batch.length >= MAX_ENTRIES_PER_MESSAGE) break;
      const held = this.heldFor(key);
      const stillOurs = held?.local === true && held.decidedAtMs === decidedAtMs;
      const memoryJson = stillOurs ? memoryJsonOf(held.memory) : undefined;
      if (memoryJson === undefined || memoryJson.length > MAX_MEMORY_JSON_CHARACTERS) {
        this.pending.delete(key);
        continue;
      }
      if (batch.length > 0 && characters + memoryJson.length > MAX_MESSAGE_CHARACTERS) break;
      batch.push({ key, decidedAtMs, memoryJson });
      characters += memoryJson.length;
    }
    return batch;
  }

  /** Drops what a peer acknowledged, unless a newer decision for the key came in meanwhile. */
  acknowledge(batch: readonly MemoryEntryMessage[]): void {
    for (const sent of batch)
      if (this.pending.get(sent.key) === sent.decidedAtMs) this.pending.delete(sent.key);
  }
}

/**
 * Policy memory shared between the scaler's replicas. Reads and writes are local and synchronous
 * (a decision never waits on a peer); every memory decided here is queued for each peer's Outbox,
 * and memories from peers replace the local one only when decided later. Bounded like the decision
 * book: beyond maxEntries the least recently updated key is forgotten. Kept in place
 * (in-place-memory-store.ts): a memory from a peer replaces the one the key's next decision starts
 * from, never the one its latest decision started from.
 */
export class PeerMemoryStore implements MemoryStore {
  private readonly memories: InPlaceMemoryStore;
  private readonly outboxes = new Set<Outbox>();

  private readonly maxEntries: number;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
    this.memories = new InPlaceMemoryStore(maxEntries);
  }

  get(key: string): PolicyMemory | undefined {
    return this.memories.get(key);
  }

  set(key: string, memory: PolicyMemory, decidedAtMs: number): void {
    this.memories.set(key, memory, decidedAtMs);
    for (const outbox of this.outboxes) outbox.add(key, decidedAtMs);
  }

  /** Forgets locally only (the book evicted the key here); peers keep theirs until they evict it. */
  delete(key: string): void {
    this.memories.delete(key);
  }

  /**
   * Keeps a peer's memory if it was decided later than ours; true when it was kept. On a tie the
   * larger canonical JSON text wins (keys sorted), so that every replica picks the same.
   */
  merge(entry: ValidEntry): boolean {
    const ours = this.memories.heldFor(entry.key);
    if (ours && entry.decidedAtMs <= ours.decidedAtMs) {
      if (entry.decidedAtMs < ours.decidedAtMs) return false;
      if (canonicalMemoryJsonOf(entry.memory) <= canonicalMemoryJsonOf(ours.memory)) return false;
    }
    this.memories.replace(entry.key, entry.memory, entry.decidedAtMs);
    return true;
  }

  /**
   * A queue for one peer: the keys whose latest decision was made here, then every future one. A
   * peer found after a decision (a restarted pod has a new address, seen on the next lookup) may
   * have copied its snapshot before it; the memories received here are the other replicas' to
   * send, and they send them the same way.
   */
  openOutbox(): Outbox {
    const outbox = new Outbox(this.maxEntries, (key) => this.memories.heldFor(key));
    for (const key of this.memories.keys()) {
      const held = this.memories.heldFor(key);
      if (held?.local) outbox.add(key, held.decidedAtMs);
    }
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
      const held = this.memories.heldFor(key)!;
      const memoryJson = memoryJsonOf(held.memory);
      if (memoryJson.length > MAX_MEMORY_JSON_CHARACTERS) continue;
      if (entries.length >= MAX_ENTRIES_PER_MESSAGE) return { entries, complete: false };
      if (entries.length > 0 && characters + memoryJson.length > MAX_MESSAGE_CHARACTERS)
        return { entries, complete: false };
      entries.push({ key, decidedAtMs: held.decidedAtMs, memoryJson });
      characters += memoryJson.length;
    }
    return { entries, complete: true };
  }

  get size(): number {
    return this.memories.size;
  }
}
