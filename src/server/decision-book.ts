import type { RawInputs } from "../config/resolve.ts";
import { ConfigError } from "../config/resolve.ts";
import type { ScaledObjectIdentity, ScalerSpec } from "../config/spec.ts";
import { type DecideOptions, decide } from "../policy/decide.ts";
import { Decider, type MemoryStore } from "../policy/decider.ts";
import type { Decision } from "../policy/decision.ts";
import type { PolicyMemory } from "../policy/memory.ts";
import type { SignalReadings } from "../readings/signal-table.ts";
import type { SignalSource } from "../sources/signal-source.ts";
import type { AnswerSource } from "./answer-source.ts";
import { DeadlineQueue } from "./deadline-queue.ts";
import { InPlaceMemoryStore } from "./in-place-memory-store.ts";
import { type DecisionInputs, decisionInWords, type KeptDecision, keepDecision } from "./kept-decision.ts";
import { PollRhythm } from "./poll-rhythm.ts";
import { type ScaledObjectRequest, ScaledObjectTable, type TableEntry } from "./scaled-object-table.ts";

export { entryKey, type ScaledObjectRequest } from "./scaled-object-table.ts";

/** A ScaledObject as the book remembers it; its key is also the Decider's key for its memory. */
interface Entry extends TableEntry {
  latest: KeptDecision | undefined;
  /** When `latest` was computed (process clock), for reuse within the TTL. */
  latestAtMs: number;
  /** The book's count of kept decisions when `latest` was kept: orders answers whatever the clock did. */
  latestSequence: number;
  inFlight: Promise<KeptDecision> | undefined;
  /** Decisions that changed the answer (desired replicas, value, activity, availability, factor). */
  changes: number;
  /** When KEDA polls this ScaledObject, learned from its polls (made at the first one). */
  rhythm: PollRhythm | undefined;
  /** The decision to make ahead of the next expected poll (the one in the book's queue). */
  ahead: AheadPlan | undefined;
}

/** When a decision was kept, and its place in the order the book kept decisions in. */
export interface KeptStamp {
  readonly atMs: number;
  readonly sequence: number;
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
  /** A ScaledObject was forgotten (beyond a bound); `handle` is what lookup() had handed out. */
  readonly onForget?: (identity: ScaledObjectIdentity, handle: BookEntry) => void;
  /** Every decision kept, with the entry it is for and when it was kept (its TTL counts from then). */
  readonly onKept?: (handle: BookEntry, kept: KeptDecision, stamp: KeptStamp) => void;
  /** Where the policy's memory between polls lives (default: in this process). */
  readonly memoryStore?: MemoryStore;
}

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
export class DecisionBook implements AnswerSource<BookEntry> {
  private readonly entries: ScaledObjectTable<Entry>;
  private closed = false;
  /** Decisions kept so far, all entries together: each kept decision's sequence number. */
  private keptSequence = 0;
  private readonly decider: Decider;
  private readonly memoryStore: MemoryStore;
  /** Every entry's decision planned ahead, on one timer; a plan is live while its entry holds it. */
  private readonly aheadQueue: DeadlineQueue<AheadPlan>;

  private readonly options: DecisionBookOptions;

  constructor(options: DecisionBookOptions) {
    this.options = options;
    this.memoryStore = options.memoryStore ?? new InPlaceMemoryStore();
    this.decider = new Decider(this.memoryStore);
    this.aheadQueue = new DeadlineQueue<AheadPlan>({
      clock: options.clock,
      isLive: (plan) => plan.entry?.ahead === plan,
      due: (plan) => this.decideAhead(plan),
      resolutionMs: AHEAD_TIMER_RESOLUTION_MS,
    });
    this.entries = new ScaledObjectTable<Entry>({
      env: options.env,
      clock: options.clock,
      maxEntries: options.maxEntries ?? 10_000,
      maxBytes: options.maxBytes ?? DEFAULT_MAX_BOOK_BYTES,
      create: (fields) => ({
        ...fields,
        latest: undefined,
        latestAtMs: 0,
        latestSequence: 0,
        inFlight: undefined,
        changes: 0,
        rhythm: undefined,
        ahead: undefined,
        bytes: ENTRY_OVERHEAD_BYTES + fields.bytes,
      }),
      onEvict: (entry) => this.forget(entry),
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
    return this.entries.entryFor(request);
  }

  /** When the entry's latest decision was kept (its TTL counts from then); 0 before the first. */
  keptStamp(handle: BookEntry): KeptStamp {
    const entry = handle as Entry;
    return { atMs: entry.latestAtMs, sequence: entry.latestSequence };
  }

  /** Whether the entry is still remembered (not forgotten since lookup() handed it out). */
  holds(handle: BookEntry): boolean {
    return this.entries.holds(handle as Entry);
  }

  /**
   * Notes one of KEDA's polls answered elsewhere (the answer thread, from a decision it was sent)
   * at `atMs`: its rhythm is learned and the next decision planned, as a poll through
   * decisionOf() would, but nothing is decided now.
   */
  notePoll(handle: BookEntry, atMs: number): void {
    const entry = handle as Entry;
    if (entry.spec instanceof ConfigError || !this.entries.holds(entry)) return;
    // A poll answered elsewhere is a use, as one answered here is: the least recently polled go first.
    this.entries.touch(entry, atMs);
    this.planAhead(entry, atMs);
  }

  /** The AnswerSource of a book that answers KEDA itself: the decision is the answer. */
  answerOf(
    handle: BookEntry,
    _request: ScaledObjectRequest,
    polled: boolean,
  ): KeptDecision | Promise<KeptDecision> {
    return this.decisionOf(handle, polled);
  }

  answerFor(request: ScaledObjectRequest): Promise<KeptDecision> {
    return this.decisionFor(request);
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
    return this.entries.approximateBytes;
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
    if (this.closed || !this.entries.holds(entry) || entry.inFlight) return;
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
    if (this.entries.holds(entry))
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
    entry.latestSequence = ++this.keptSequence;
    this.options.onDecision?.(decision, changed);
    this.options.onKept?.(entry, kept, { atMs: entry.latestAtMs, sequence: entry.latestSequence });
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

  private forget(entry: Entry): void {
    this.decider.forget(entry.key);
    this.cancelAhead(entry);
    this.options.onForget?.(entry.identity, entry);
  }
}
