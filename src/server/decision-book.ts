import { createHash } from "node:crypto";
import type { RawInputs } from "../config/resolve.ts";
import { ConfigError } from "../config/resolve.ts";
import type { ScaledObjectIdentity, ScalerSpec } from "../config/spec.ts";
import { type DecideOptions, decide } from "../policy/decide.ts";
import { Decider, type MemoryStore } from "../policy/decider.ts";
import type { Decision } from "../policy/decision.ts";
import type { PolicyMemory } from "../policy/memory.ts";
import type { SignalReadings } from "../readings/signal-table.ts";
import type { SignalSource } from "../sources/signal-source.ts";
import { DeadlineQueue } from "./deadline-queue.ts";
import { InPlaceMemoryStore } from "./in-place-memory-store.ts";
import { type DecisionInputs, decisionInWords, type KeptDecision, keepDecision } from "./kept-decision.ts";
import { NameIndex, type RememberedMetadata, rememberMetadata } from "./name-index.ts";
import { PollRhythm } from "./poll-rhythm.ts";
import { SpecTemplates } from "./spec-templates.ts";

export interface ScaledObjectRequest extends ScaledObjectIdentity {
  readonly scalerMetadata: Readonly<Record<string, string>>;
}

interface Entry {
  readonly identity: ScaledObjectIdentity;
  /**
   * The metadata it was created with, when short enough to find the entry by comparing it
   * (a copy); long metadata is found by its digest instead.
   */
  readonly metadata: RememberedMetadata | undefined;
  /** The Decider's key for this ScaledObject's memory. */
  readonly key: string;
  readonly spec: ScalerSpec | ConfigError;
  latest: KeptDecision | undefined;
  /** When `latest` was computed (process clock), for reuse within the TTL. */
  latestAtMs: number;
  /** When the entry last moved to the recent end of the least-recently-used order. */
  usedAtMs: number;
  inFlight: Promise<KeptDecision> | undefined;
  /** Decisions that changed the answer (desired replicas, value, activity, availability, factor). */
  changes: number;
  /** When KEDA polls this ScaledObject, learned from its polls (made at the first one). */
  rhythm: PollRhythm | undefined;
  /** The decision to make ahead of the next expected poll (the one in the book's queue). */
  ahead: AheadPlan | undefined;
  /** Approximate bytes this entry keeps alive, for the book's byte bound. */
  readonly bytes: number;
}

/** A decision to make at `atMs`, a moment before the poll expected at `pollAtMs`. */
interface AheadPlan {
  readonly atMs: number;
  readonly pollAtMs: number;
  /** Let go when the plan is cancelled, so that a forgotten entry is not kept until `atMs`. */
  entry: Entry | undefined;
}

/** A remembered ScaledObject, as callers hold it between the lookup and the answer. */
export interface BookEntry {
  readonly identity: ScaledObjectIdentity;
}

export interface DecisionBookOptions {
  readonly source: SignalSource;
  readonly env: RawInputs["env"];
  readonly clock: () => number;
  /** A decision is reused for this long: the GetMetrics + IsActive pair of one poll see one snapshot. */
  readonly decisionTtlMs: number;
  /** Bound on remembered ScaledObjects; the least recently used is forgotten first. */
  readonly maxEntries?: number;
  /** Bound on the approximate bytes of all entries together; the least recently used goes first. */
  readonly maxBytes?: number;
  /**
   * Every decision made; `changed` when it changes what KEDA or a dashboard sees (decisionChanged).
   * A changed decision comes in words; any other with figures only: the notes of its verdicts that
   * voted or abstained and, unless it is unavailable, its summary are empty (fullDecision() makes
   * them again).
   */
  readonly onDecision?: (decision: Decision, changed: boolean) => void;
  /** A decision made ahead of a poll failed (on a timer, with no caller to answer). */
  readonly onError?: (error: unknown) => void;
  readonly onForget?: (identity: ScaledObjectIdentity) => void;
  /** Where the policy's memory between polls lives (default: in this process). */
  readonly memoryStore?: MemoryStore;
}

/**
 * A digest of the ScaledObject and its metadata (in key order: order is not meaningful). The key
 * is 43 characters whatever the tenant sends; keying on the metadata's JSON kept every byte of
 * it alive as long as the entry.
 */
export function entryKey(request: ScaledObjectRequest): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify([request.namespace, request.name]));
  for (const key of Object.keys(request.scalerMetadata).sort())
    hash.update(JSON.stringify([key, request.scalerMetadata[key]]));
  return hash.digest("base64url");
}

/**
 * The request's namespace and metadata as one string (metadata in key order: order is not
 * meaningful), every part length-prefixed so that no choice of keys and values can make two
 * different requests read alike. What a ScaledObject's settings depend on: its name is not part of it.
 */
function contentOf(request: ScaledObjectRequest): string {
  const metadata = request.scalerMetadata;
  const keys = Object.keys(metadata).sort();
  let text = `${request.namespace.length}:${request.namespace}`;
  for (const key of keys) {
    const value = metadata[key] ?? "";
    text += `${key.length}:${key}${value.length}:${value}`;
  }
  return text;
}

/** Keys and characters (keys and values) of the request's metadata, counted without allocating. */
function metadataSize(metadata: Readonly<Record<string, string>>): { keys: number; characters: number } {
  let keys = 0;
  let characters = 0;
  for (const key in metadata) {
    keys++;
    characters += key.length + (metadata[key]?.length ?? 0);
  }
  return { keys, characters };
}

/**
 * Requests whose metadata is at most this long are found by name and compared entry by entry (a
 * normal ScaledObject's is a few hundred characters): a poll builds no key and hashes nothing.
 * Longer ones are found by their digest, so the index never holds a tenant's bulk.
 */
const MAX_COMPARED_CHARACTERS = 1024;

/**
 * And at most this many keys: a comparison looks for each of a request's keys among the
 * remembered ones (name-index.ts), so its cost grows with the square of their number. A normal
 * ScaledObject has a dozen or fewer.
 */
const MAX_COMPARED_KEYS = 32;

/**
 * Metadata variants of one ScaledObject found by comparison (a ScaledObject being edited has two
 * or three); more are found by digest. Without a bound, a caller sending one name with thousands
 * of variants made every lookup of that name a scan of thousands, on the event loop every
 * tenant's calls share.
 */
const MAX_VARIANTS_PER_NAME = 4;

/** What an entry costs beyond its spec: its kept decision and that decision's inputs, its memory. */
const ENTRY_OVERHEAD_BYTES = 2 * 1024;

/** How the book decides: words are made only when someone reads them (settle, fullDecision). */
const FIGURES_ONLY: DecideOptions = { words: false };

/** A decision planned ahead is not moved for a call that plans it less than this much apart. */
const AHEAD_RESOLUTION_MS = 250;

/**
 * How long before the next poll its decision is made: enough for a timer on a busy event loop,
 * little enough that the readings are hardly older than the poll's own would be.
 */
const AHEAD_LEAD_MS = 1000;

/**
 * Decisions planned ahead come due on a timer that fires at most this often, for every one due
 * by then: each is made up to this much later than planned, still at least AHEAD_LEAD_MS − 25 ms
 * before its poll. At 4,000 ScaledObjects (a decision due every 2 ms) one timer serves a dozen,
 * made in one turn of the event loop (~0.6 ms) instead of a turn each; ScaledObjects polled in
 * step come due together either way (at most MAX_DUE_PER_TURN a turn, deadline-queue.ts).
 */
const AHEAD_TIMER_RESOLUTION_MS = 25;

/** Gaps between polls that differ by at most this are one clock: KEDA's loops drift by milliseconds. */
const RHYTHM_TOLERANCE_MS = 500;

/** The least-recently-used order is kept to this resolution: an entry moves at most this often. */
const LRU_RESOLUTION_MS = 1000;

/** Distinct metadata whose parsed settings are kept for the next ScaledObject that sends it. */
const MAX_TEMPLATES = 2048;
const MAX_TEMPLATE_BYTES = 8 * 1024 * 1024;

/**
 * The default of maxBytes. A normal ScaledObject is estimated at ~5.4 KB: its parsed spec is
 * charged in full although ScaledObjects with the same metadata share it (measured: ~2.5 KB of
 * heap after one poll, `npm run bench:memory`). The estimate leaves out what a long scale-down
 * window adds to the policy memory (~3 KB a record at 300 s, two records: docs/reliability.md's
 * budget); 10,000 fit even so, inside the Deployment's --max-old-space-size=768.
 */
export const DEFAULT_MAX_BOOK_BYTES = 64 * 1024 * 1024;

/** The figures of a decision that KEDA or a dashboard sees. */
type ChangeFields = Pick<
  Decision,
  "desiredReplicas" | "metricValue" | "active" | "available" | "drivingFactor"
>;

/** Whether a decision changes what KEDA or a dashboard sees. */
export function decisionChanged(decision: ChangeFields, previous: ChangeFields | undefined): boolean {
  return (
    !previous ||
    previous.desiredReplicas !== decision.desiredReplicas ||
    previous.metricValue !== decision.metricValue ||
    previous.active !== decision.active ||
    previous.available !== decision.available ||
    previous.drivingFactor !== decision.drivingFactor
  );
}

/**
 * The scaler's memory per ScaledObject: its parsed spec and its latest decision, kept as its
 * figures and inputs (the policy's memory between polls is the Decider's). Concurrent callers for
 * one ScaledObject share one computation (single-flight), and a decision is reused within its TTL,
 * so every RPC of one poll answers from the same snapshot.
 */
export class DecisionBook {
  private readonly entries = new Map<string, Entry>();
  /** The entries with short metadata by namespace and name: the common lookup, with no hashing. */
  private readonly byName = new NameIndex<Entry>();
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private bytes = 0;
  private closed = false;
  private readonly decider: Decider;
  private readonly memoryStore: MemoryStore;
  private readonly templates: SpecTemplates;
  /** Every entry's decision planned ahead, on one timer; a plan is live while its entry holds it. */
  private readonly aheadQueue: DeadlineQueue<AheadPlan>;

  private readonly options: DecisionBookOptions;

  constructor(options: DecisionBookOptions) {
    this.options = options;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BOOK_BYTES;
    this.memoryStore = options.memoryStore ?? new InPlaceMemoryStore();
    this.decider = new Decider(this.memoryStore);
    this.aheadQueue = new DeadlineQueue<AheadPlan>({
      clock: options.clock,
      isLive: (plan) => plan.entry?.ahead === plan,
      due: (plan) => this.decideAhead(plan),
      resolutionMs: AHEAD_TIMER_RESOLUTION_MS,
    });
    this.templates = new SpecTemplates({
      env: options.env,
      maxEntries: MAX_TEMPLATES,
      maxBytes: MAX_TEMPLATE_BYTES,
    });
  }

  /** The spec for a ScaledObject, from configuration only (never from a source). Throws ConfigError. */
  specFor(request: ScaledObjectRequest): ScalerSpec {
    return this.specOf(this.lookup(request));
  }

  /** The current decision: reused within the TTL, otherwise computed once for all concurrent callers. */
  decisionFor(request: ScaledObjectRequest): Promise<KeptDecision> {
    try {
      return Promise.resolve(this.decisionOf(this.lookup(request)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The remembered ScaledObject for a request (parsed on its first call): one lookup per RPC. */
  lookup(request: ScaledObjectRequest): BookEntry {
    return this.entryFor(request);
  }

  /** The entry's spec. Throws its ConfigError. */
  specOf(handle: BookEntry): ScalerSpec {
    const spec = (handle as Entry).spec;
    if (spec instanceof ConfigError) throw spec;
    return spec;
  }

  /**
   * The entry's current decision: the one within its TTL as a plain value, so that a call
   * answered from memory costs no promise; otherwise the computation all concurrent callers
   * share. Throws the entry's ConfigError. `polled`: the call is one of KEDA's polls (GetMetrics,
   * IsActive), whose rhythm is learned so that the next decision can be made just before the next
   * poll (not a stream's refresh, which runs on the server's own timer).
   */
  decisionOf(handle: BookEntry, polled = false): KeptDecision | Promise<KeptDecision> {
    const entry = handle as Entry;
    const spec = this.specOf(entry);
    const nowMs = this.options.clock();
    // A negative age (the wall clock stepped back) counts as expired, not as young.
    const ageMs = nowMs - entry.latestAtMs;
    const decision =
      entry.latest && ageMs >= 0 && ageMs < this.options.decisionTtlMs
        ? entry.latest
        : (entry.inFlight ?? this.decideNow(entry, spec, nowMs));
    if (polled) this.planAhead(entry, nowMs);
    return decision;
  }

  /** Stops deciding ahead (the server is shutting down): no decision is started after this. */
  close(): void {
    this.closed = true;
    for (const entry of this.entries.values()) this.cancelAhead(entry);
    this.aheadQueue.clear();
  }

  /** The latest decision of every remembered ScaledObject, for /debug/decisions. */
  latestDecisions(): KeptDecision[] {
    const decisions: KeptDecision[] = [];
    for (const entry of this.entries.values()) if (entry.latest) decisions.push(entry.latest);
    return decisions;
  }

  /** The latest decision and change count of every remembered ScaledObject, for /metrics. */
  *records(): Iterable<{ decision: KeptDecision; changes: number }> {
    for (const entry of this.entries.values())
      if (entry.latest) yield { decision: entry.latest, changes: entry.changes };
  }

  get size(): number {
    return this.entries.size;
  }

  /** The approximate bytes held by the entries (bounded by maxBytes). */
  get approximateBytes(): number {
    return this.bytes;
  }

  /** A new decision, at once when every reading is in memory (the common case: no promise). */
  private decideNow(entry: Entry, spec: ScalerSpec, nowMs: number): KeptDecision | Promise<KeptDecision> {
    const { source } = this.options;
    const readings = source.readNowOrLater
      ? source.readNowOrLater(spec, { nowMs })
      : source.read(spec, { nowMs });
    if (!(readings instanceof Promise)) return this.settle(entry, spec, readings, nowMs);
    const computation = readings
      .then((settled) => this.settle(entry, spec, settled, nowMs))
      .finally(() => {
        entry.inFlight = undefined;
      });
    entry.inFlight = computation;
    return computation;
  }

  /**
   * Notes the poll and, when KEDA polls on one steady clock and the decision in hand will have
   * expired by the next poll, decides a moment before it: the work is done between polls rather
   * than while KEDA waits, and the readings are at most AHEAD_LEAD_MS older than they would be.
   */
  private planAhead(entry: Entry, nowMs: number): void {
    const ttlMs = this.options.decisionTtlMs;
    entry.rhythm ??= new PollRhythm(ttlMs / 2, RHYTHM_TOLERANCE_MS);
    entry.rhythm.note(nowMs);
    const nextPollAtMs = entry.rhythm.nextPollAtMs();
    const decidedAtMs = entry.inFlight ? nowMs : entry.latestAtMs;
    // No steady clock, or the decision in hand still answers the next poll: nothing to plan.
    if (nextPollAtMs === undefined || nextPollAtMs - decidedAtMs < ttlMs || this.closed) {
      this.cancelAhead(entry);
      return;
    }
    const atMs = Math.max(nowMs, nextPollAtMs - Math.min(AHEAD_LEAD_MS, ttlMs / 2));
    // The GetMetrics + IsActive of one poll plan the same instant: keep the plan already made.
    if (entry.ahead && Math.abs(entry.ahead.atMs - atMs) < AHEAD_RESOLUTION_MS) return;
    this.cancelAhead(entry);
    const plan: AheadPlan = { atMs, pollAtMs: nextPollAtMs, entry };
    entry.ahead = plan;
    this.aheadQueue.add(plan);
  }

  private decideAhead({ entry, pollAtMs }: AheadPlan): void {
    if (!entry) return;
    entry.ahead = undefined;
    // Forgotten meanwhile, or a read under way.
    if (this.closed || this.entries.get(entry.key) !== entry || entry.inFlight) return;
    const nowMs = this.options.clock();
    // Decided meanwhile (a stream's refresh, an early call) recently enough to answer the poll.
    if (entry.latest && entry.latestAtMs <= nowMs && pollAtMs - entry.latestAtMs < this.options.decisionTtlMs)
      return;
    const spec = entry.spec;
    if (spec instanceof ConfigError) return;
    // On a timer there is no caller to hand an error to: it is reported, and the next poll
    // decides as it would have without deciding ahead.
    try {
      const decision = this.decideNow(entry, spec, nowMs);
      if (decision instanceof Promise) decision.catch((error: unknown) => this.options.onError?.(error));
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private cancelAhead(entry: Entry): void {
    const plan = entry.ahead;
    if (!plan) return;
    plan.entry = undefined;
    entry.ahead = undefined;
    if (!this.closed) this.aheadQueue.cancelled();
  }

  /**
   * The entry's decision, remembered for its next one while the entry is the book's. An entry
   * forgotten while its read was under way (evicted; perhaps already followed by a new entry for
   * the same ScaledObject) still answers its waiting caller, from the memory there is, but leaves
   * none: it would outlive the entry, or overwrite the memory the new entry's kept decision
   * started from (the store writes in place, src/server/in-place-memory-store.ts).
   */
  private decideFor(
    entry: Entry,
    spec: ScalerSpec,
    readings: SignalReadings,
    nowMs: number,
  ): { decision: Decision; startedFrom: PolicyMemory | undefined } {
    if (this.entries.get(entry.key) === entry)
      return this.decider.decideFrom(entry.key, spec, readings, nowMs, FIGURES_ONLY);
    const startedFrom = this.memoryStore.get(entry.key);
    return { decision: decide(spec, readings, nowMs, startedFrom, FIGURES_ONLY).decision, startedFrom };
  }

  /**
   * Decides without words, on the path that answers KEDA. A decision that changes the answer is
   * made again in words from the same inputs, for whoever is told of it (the log writes its
   * summary): during a ramp, when most polls change, that is a second decision each. An
   * unavailable one needs none: its summary, the error KEDA is sent, is made of the reasons the
   * rules give and the failed signals' notes, which decide() always writes (a property test holds
   * that it reads the same without words).
   */
  private settle(entry: Entry, spec: ScalerSpec, readings: SignalReadings, nowMs: number): KeptDecision {
    const { decision: figures, startedFrom } = this.decideFor(entry, spec, readings, nowMs);
    const inputs: DecisionInputs = { spec, readings, nowMs, memory: startedFrom };
    // Compared before the entry's kept decision is overwritten with the new one.
    const changed = decisionChanged(figures, entry.latest);
    if (changed) entry.changes++;
    const decision = changed && this.options.onDecision ? this.inWords(inputs, figures) : figures;
    const kept = keepDecision(decision, inputs, entry.latest);
    entry.latest = kept;
    entry.latestAtMs = this.options.clock();
    this.options.onDecision?.(decision, changed);
    return kept;
  }

  /**
   * The decision in words, or the figures when writing them failed: the words are for people, and
   * KEDA's answer must not depend on them.
   */
  private inWords(inputs: DecisionInputs, figures: Decision): Decision {
    try {
      return decisionInWords(inputs);
    } catch (error) {
      this.options.onError?.(error);
      return figures;
    }
  }

  private entryFor(request: ScaledObjectRequest): Entry {
    // Found by name in the common case; otherwise by digest (long metadata, or a name already
    // holding its share of metadata variants), computed only when the name lookup misses. The
    // comparisons are bounded by what is indexed (MAX_COMPARED_CHARACTERS, MAX_COMPARED_KEYS).
    const found = this.byName.find(request);
    const key = found ? found.key : entryKey(request);
    const existing = found ?? this.entries.get(key);
    if (existing) {
      // Re-insert to keep the map in least-recently-used order, at most once a second per entry:
      // the GetMetrics + IsActive of one poll (and a stream's refreshes) need not move it twice.
      const nowMs = this.options.clock();
      if (nowMs - existing.usedAtMs >= LRU_RESOLUTION_MS) {
        existing.usedAtMs = nowMs;
        this.entries.delete(existing.key);
        this.entries.set(existing.key, existing);
      }
      return existing;
    }
    const identity = { name: request.name, namespace: request.namespace };
    const { keys, characters } = metadataSize(request.scalerMetadata);
    const indexed =
      characters <= MAX_COMPARED_CHARACTERS &&
      keys <= MAX_COMPARED_KEYS &&
      this.byName.variants(identity) < MAX_VARIANTS_PER_NAME;
    const metadata = indexed ? rememberMetadata(request.scalerMetadata) : undefined;
    const { spec, bytes } = this.templates.specFor(identity, request.scalerMetadata, contentOf(request));
    const entry: Entry = {
      identity,
      metadata,
      key,
      spec,
      latest: undefined,
      latestAtMs: 0,
      usedAtMs: this.options.clock(),
      inFlight: undefined,
      changes: 0,
      rhythm: undefined,
      ahead: undefined,
      bytes: ENTRY_OVERHEAD_BYTES + bytes + (indexed ? 2 * characters : 0),
    };
    this.entries.set(key, entry);
    if (indexed) this.byName.add(entry);
    this.bytes += entry.bytes;
    this.evictBeyondBound();
    return entry;
  }

  private evictBeyondBound(): void {
    // The newest entry always stays, whatever its size: the caller is about to use it.
    while (this.entries.size > 1 && (this.entries.size > this.maxEntries || this.bytes > this.maxBytes)) {
      const oldestKey = this.entries.keys().next().value as string;
      const oldest = this.entries.get(oldestKey);
      this.entries.delete(oldestKey);
      this.decider.forget(oldestKey);
      if (oldest?.metadata) this.byName.remove(oldest);
      if (oldest) {
        this.cancelAhead(oldest);
        this.bytes -= oldest.bytes;
        this.options.onForget?.(oldest.identity);
      }
    }
  }
}
