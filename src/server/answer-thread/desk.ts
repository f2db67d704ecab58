import * as grpc from "@grpc/grpc-js";
import type { BookEntry, DecisionBook, KeptStamp } from "../decision-book.ts";
import type { KeptDecision } from "../kept-decision.ts";
import type { Logger } from "../logger.ts";
import { toServiceError } from "../rpc-errors.ts";
import type { ScaledObjectRequest } from "../scaled-object-table.ts";
import { DROPPED, type KeptAnswer, POLLED, type ToAnswerThread } from "./messages.ts";

function keptAnswer(slotId: number, kept: KeptDecision, stamp: KeptStamp): KeptAnswer {
  return [
    slotId,
    kept.available ? 1 : 0,
    kept.metricValue,
    kept.active ? 1 : 0,
    kept.unavailableReason ?? "",
    stamp.atMs,
    stamp.sequence,
  ];
}

/**
 * Kept answers wait at most this long before they go to the answer thread, in one message: the
 * book decides a second ahead of each expected poll, and every message wakes that thread and
 * costs it the copy's unpacking; decisions made ahead come every 25 ms (the book's timer).
 */
const KEPT_BATCH_MS = 100;

/**
 * The main thread's side of the answer thread: its asks are answered from the decision book, its
 * poll notes teach the book each ScaledObject's rhythm, and every decision the book keeps for a
 * ScaledObject the thread holds is sent to it, in batches (KEPT_BATCH_MS).
 */
export class AnswerDesk {
  /** The book's entry of each slot the answer thread holds (set by its asks). */
  private readonly entries = new Map<number, BookEntry>();
  private readonly slotOf = new WeakMap<BookEntry, number>();
  private pending: KeptAnswer[] = [];
  private readonly book: DecisionBook;
  private readonly send: (message: ToAnswerThread) => void;
  private readonly logger: Logger;

  constructor(book: DecisionBook, send: (message: ToAnswerThread) => void, logger: Logger) {
    this.book = book;
    this.send = send;
    this.logger = logger;
  }

  /**
   * An ask of the answer thread: the book's decision (in hand or made now) or why there is none.
   * A poll's rhythm is noted at the instant the thread took the call, not when the ask arrived.
   */
  ask(askId: number, slotId: number, request: ScaledObjectRequest, polledAtMs: number | undefined): void {
    const refuse = (error: unknown) => {
      const { code, details } = toServiceError(error);
      // The thread is told only the status; the cause is logged here, where it is known.
      if (code === grpc.status.INTERNAL) this.logger.error({ err: error }, "an answer for KEDA failed");
      this.send({ type: "refused", askId, code, details });
    };
    try {
      const entry = this.book.lookup(request);
      this.link(slotId, entry);
      const decision = this.book.decisionOf(entry, false);
      if (polledAtMs !== undefined) this.book.notePoll(entry, polledAtMs);
      const answer = (kept: KeptDecision) =>
        this.send({ type: "answered", askId, answer: keptAnswer(slotId, kept, this.book.keptStamp(entry)) });
      if (decision instanceof Promise) decision.then(answer, refuse);
      else answer(decision);
    } catch (error) {
      refuse(error);
    }
  }

  /** The answer thread's notes: polls it answered, slots it forgot. */
  noted(notes: readonly number[]): void {
    for (let i = 0; i + 2 < notes.length; i += 3) {
      const slotId = notes[i + 1] as number;
      const entry = this.entries.get(slotId);
      if (entry === undefined) continue;
      if (notes[i] === POLLED) this.book.notePoll(entry, notes[i + 2] as number);
      else if (notes[i] === DROPPED) this.unlink(slotId, entry);
    }
  }

  /** The book kept a decision (onKept): sent on if the answer thread holds the ScaledObject. */
  kept(entry: BookEntry, decision: KeptDecision, stamp: KeptStamp): void {
    const slotId = this.slotOf.get(entry);
    if (slotId === undefined) return;
    if (this.pending.length === 0) setTimeout(() => this.flush(), KEPT_BATCH_MS).unref();
    this.pending.push(keptAnswer(slotId, decision, stamp));
  }

  /** The book forgot an entry (onForget): the slot is linked again by its next ask. */
  forgotten(entry: BookEntry): void {
    const slotId = this.slotOf.get(entry);
    if (slotId !== undefined) this.unlink(slotId, entry);
  }

  get linked(): number {
    return this.entries.size;
  }

  private link(slotId: number, entry: BookEntry): void {
    const previous = this.entries.get(slotId);
    if (previous === entry) return;
    if (previous) this.slotOf.delete(previous);
    this.entries.set(slotId, entry);
    this.slotOf.set(entry, slotId);
  }

  private unlink(slotId: number, entry: BookEntry): void {
    if (this.entries.get(slotId) === entry) this.entries.delete(slotId);
    if (this.slotOf.get(entry) === slotId) this.slotOf.delete(entry);
  }

  private flush(): void {
    const answers = this.pending;
    this.pending = [];
    if (answers.length > 0) this.send({ type: "kept", answers });
  }
}
