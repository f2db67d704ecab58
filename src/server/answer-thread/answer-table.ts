import * as grpc from "@grpc/grpc-js";
import { ConfigError, type RawInputs } from "../../config/resolve.ts";
import type { ScalerSpec } from "../../config/spec.ts";
import type { Answer, AnswerSource } from "../answer-source.ts";
import { RpcError } from "../rpc-errors.ts";
import { type ScaledObjectRequest, ScaledObjectTable, type TableEntry } from "../scaled-object-table.ts";
import type { KeptAnswer } from "./messages.ts";

/** What the table asks of the thread that keeps the decision book (desk.ts, over a MessagePort). */
export interface AnswerDeskLink {
  /**
   * Decides (or reuses the decision in hand) and answers; fails with the gRPC status to send.
   * `polledAtMs`: the call is one of KEDA's polls, made then.
   */
  ask(slotId: number, request: ScaledObjectRequest, polledAtMs: number | undefined): Promise<KeptAnswer>;
  /** One of KEDA's polls answered here at `atMs`, so that the book learns its rhythm. */
  polled(slotId: number, atMs: number): void;
  /** The table forgot this slot (beyond a bound). */
  dropped(slotId: number): void;
}

/** A ScaledObject as the answer thread keeps it: its settings and the last answer it was sent. */
interface Slot extends TableEntry {
  /** How the two threads name this ScaledObject. */
  readonly id: number;
  answer: Answer | undefined;
  /** When the book kept `answer` (its clock): it answers KEDA while younger than the TTL. */
  keptAtMs: number;
  /** The book's sequence number of `answer`: a later one replaces it, an earlier one does not. */
  sequence: number;
  /** The ask under way, shared by every call that finds the answer missing or expired. */
  asking: Promise<Answer> | undefined;
}

/** What a slot costs beyond its spec: the slot, its answer and the entries that find it. */
const SLOT_OVERHEAD_BYTES = 512;

/**
 * The bound on the table's approximate bytes: the decision book's (DEFAULT_MAX_BOOK_BYTES), so
 * that 10,000 ScaledObjects fit here as they fit there. Kept here rather than imported, so that
 * the thread does not load the book and the policy it never runs.
 */
export const ANSWER_TABLE_MAX_BYTES = 64 * 1024 * 1024;

export interface AnswerTableOptions {
  readonly env: RawInputs["env"];
  readonly clock: () => number;
  /** DECISION_TTL_SECONDS in ms: an answer is used for this long after the book kept it. */
  readonly decisionTtlMs: number;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly desk: AnswerDeskLink;
}

function answerOf([, available, metricValue, active, unavailableReason]: KeptAnswer): Answer {
  return {
    available: available === 1,
    metricValue,
    active: active === 1,
    unavailableReason: available === 1 ? undefined : unavailableReason,
  };
}

/**
 * The answer thread's side of the decision book: every ScaledObject KEDA polls, with its settings
 * (parsed here too, so that GetMetricSpec and a bad manifest are answered without the other
 * thread) and the last answer the book kept for it. A call finds its answer here and is answered
 * at once; only a missing or expired answer is asked for, once for every call that waits on it.
 * The book decides ahead of each expected poll (it learns the rhythm from the notes sent here),
 * so that in steady state every poll finds an answer younger than the TTL.
 */
export class AnswerTable implements AnswerSource<Slot> {
  private readonly slots: ScaledObjectTable<Slot>;
  private readonly byId = new Map<number, Slot>();
  private nextId = 1;
  private readonly options: AnswerTableOptions;

  constructor(options: AnswerTableOptions) {
    this.options = options;
    this.slots = new ScaledObjectTable<Slot>({
      env: options.env,
      clock: options.clock,
      maxEntries: options.maxEntries,
      maxBytes: options.maxBytes,
      create: (fields) => {
        const slot: Slot = {
          ...fields,
          id: this.nextId++,
          answer: undefined,
          keptAtMs: 0,
          sequence: 0,
          asking: undefined,
          bytes: SLOT_OVERHEAD_BYTES + fields.bytes,
        };
        this.byId.set(slot.id, slot);
        return slot;
      },
      onEvict: (slot) => {
        this.byId.delete(slot.id);
        this.options.desk.dropped(slot.id);
      },
    });
  }

  lookup(request: ScaledObjectRequest): Slot {
    return this.slots.entryFor(request);
  }

  specOf(slot: Slot): ScalerSpec {
    const spec = slot.spec;
    if (spec instanceof ConfigError) throw spec;
    return spec;
  }

  specFor(request: ScaledObjectRequest): ScalerSpec {
    return this.specOf(this.lookup(request));
  }

  answerOf(slot: Slot, request: ScaledObjectRequest, polled: boolean): Answer | Promise<Answer> {
    this.specOf(slot);
    const nowMs = this.options.clock();
    // A negative age (the wall clock stepped back) counts as expired, not as young.
    const ageMs = nowMs - slot.keptAtMs;
    if (slot.answer && ageMs >= 0 && ageMs < this.options.decisionTtlMs) {
      if (polled) this.options.desk.polled(slot.id, nowMs);
      return slot.answer;
    }
    if (slot.asking) {
      if (polled) this.options.desk.polled(slot.id, nowMs);
      return slot.asking;
    }
    const asking = this.options.desk.ask(slot.id, request, polled ? nowMs : undefined).then(
      (kept) => {
        slot.asking = undefined;
        return this.keep(slot, kept);
      },
      (error: unknown) => {
        slot.asking = undefined;
        throw error;
      },
    );
    slot.asking = asking;
    return asking;
  }

  answerFor(request: ScaledObjectRequest): Promise<Answer> {
    try {
      return Promise.resolve(this.answerOf(this.lookup(request), request, false));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Answers the book kept: each replaces its slot's unless kept before it (a reply can cross a batch). */
  received(answers: readonly KeptAnswer[]): void {
    for (const kept of answers) {
      const slot = this.byId.get(kept[0]);
      if (slot) this.keep(slot, kept);
    }
  }

  get size(): number {
    return this.slots.size;
  }

  private keep(slot: Slot, kept: KeptAnswer): Answer {
    // Ordered by the book's sequence, not by time: after the wall clock steps back, a fresh
    // decision carries an earlier time than the one it replaces, and must still replace it.
    const sequence = kept[6];
    if (slot.answer === undefined || sequence >= slot.sequence) {
      slot.answer = answerOf(kept);
      slot.keptAtMs = kept[5];
      slot.sequence = sequence;
    }
    return slot.answer;
  }
}

/** The failure an ask came back with, as the calls waiting on it fail. */
export function refusal(code: number, details: string): RpcError {
  return new RpcError(code in grpc.status ? code : grpc.status.INTERNAL, details);
}
