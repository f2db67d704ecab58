import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { type AnswerDeskLink, AnswerTable } from "../../src/server/answer-thread/answer-table.ts";
import { DROPPED, type KeptAnswer, POLLED } from "../../src/server/answer-thread/messages.ts";
import { RpcError } from "../../src/server/rpc-errors.ts";
import { ONE_PER_MESSAGE, ref } from "../support/scaler-harness.ts";

/** A desk that records what the table says and answers each ask when the test settles it. */
class ScriptedDesk implements AnswerDeskLink {
  readonly asks: {
    slotId: number;
    polledAtMs: number | undefined;
    settle: (answer: KeptAnswer | Error) => void;
  }[] = [];
  readonly notes: [kind: number, slotId: number, atMs: number][] = [];

  ask(slotId: number, _request: unknown, polledAtMs: number | undefined): Promise<KeptAnswer> {
    return new Promise((resolve, reject) =>
      this.asks.push({
        slotId,
        polledAtMs,
        settle: (answer) => (answer instanceof Error ? reject(answer) : resolve(answer)),
      }),
    );
  }

  polled(slotId: number, atMs: number): void {
    this.notes.push([POLLED, slotId, atMs]);
  }

  dropped(slotId: number): void {
    this.notes.push([DROPPED, slotId, 0]);
  }
}

const TTL_MS = 5000;

function tableWith(options: { maxEntries?: number } = {}) {
  let nowMs = 1_000_000;
  const desk = new ScriptedDesk();
  const table = new AnswerTable({
    env: {},
    clock: () => nowMs,
    decisionTtlMs: TTL_MS,
    maxEntries: options.maxEntries ?? 100,
    maxBytes: 64 * 1024 * 1024,
    desk,
  });
  return { table, desk, at: (ms: number) => (nowMs = ms), now: () => nowMs };
}

const so = ref("llm", { ...ONE_PER_MESSAGE });
let sequence = 0;
/** An answer as the book keeps it, each later than the one before in the book's order. */
const kept = (slotId: number, metricValue: number, keptAtMs: number, order = ++sequence): KeptAnswer => [
  slotId,
  1,
  metricValue,
  metricValue > 0 ? 1 : 0,
  "",
  keptAtMs,
  order,
];

describe("the answer thread's table of answers", () => {
  it("asks once for a missing answer, however many calls wait on it, and answers them all from the reply", async () => {
    const { table, desk, now } = tableWith();
    const slot = table.lookup(so);
    const first = table.answerOf(slot, so, true);
    const second = table.answerOf(table.lookup(so), so, true);
    expect(first).toBeInstanceOf(Promise);
    expect(desk.asks).toHaveLength(1);
    expect(desk.asks[0]?.polledAtMs).toBe(now());
    // The poll that joined the ask is noted; the one that asked is noted by the book itself.
    expect(desk.notes).toEqual([[POLLED, slot.id, now()]]);
    desk.asks[0]?.settle(kept(slot.id, 3, now()));
    expect(await first).toEqual({
      available: true,
      metricValue: 3,
      active: true,
      unavailableReason: undefined,
    });
    expect(await second).toEqual(await first);
  });

  it("answers from the answer in hand while it is younger than the TTL, noting each poll, and asks again after", async () => {
    const { table, desk, at, now } = tableWith();
    const slot = table.lookup(so);
    table.received([kept(slot.id, 2, now())]);
    at(now() + TTL_MS - 1);
    expect(table.answerOf(slot, so, true)).toMatchObject({ metricValue: 2 });
    // A stream's refresh reads the same answer and is no poll.
    await expect(table.answerFor(so)).resolves.toMatchObject({ metricValue: 2 });
    expect(desk.notes).toEqual([[POLLED, slot.id, now()]]);
    expect(desk.asks).toHaveLength(0);
    at(now() + 1);
    expect(table.answerOf(slot, so, true)).toBeInstanceOf(Promise);
    expect(desk.asks).toHaveLength(1);
  });

  it("keeps the later of two answers that cross (a reply against a batch), in the book's order", async () => {
    const { table, desk, now } = tableWith();
    const slot = table.lookup(so);
    const waiting = table.answerOf(slot, so, true);
    const older = kept(slot.id, 4, now());
    table.received([kept(slot.id, 5, now())]);
    desk.asks[0]?.settle(older);
    expect(await waiting).toMatchObject({ metricValue: 5 });
  });

  it("after the wall clock steps back, asks, and answers with the book's new decision though its time is earlier", async () => {
    const { table, desk, now, at } = tableWith();
    const slot = table.lookup(so);
    table.received([kept(slot.id, 2, now())]);
    at(now() - 60_000);
    const waiting = table.answerOf(slot, so, true);
    expect(waiting).toBeInstanceOf(Promise);
    desk.asks[0]?.settle(kept(slot.id, 6, now()));
    expect(await waiting).toMatchObject({ metricValue: 6 });
    // And the new answer is in hand: the next poll is answered without asking.
    expect(table.answerOf(slot, so, true)).toMatchObject({ metricValue: 6 });
    expect(desk.asks).toHaveLength(1);
  });

  it("fails the waiting calls with the status the book sent, and asks afresh on the next call", async () => {
    const { table, desk } = tableWith();
    const slot = table.lookup(so);
    const waiting = table.answerOf(slot, so, true);
    desk.asks[0]?.settle(
      new RpcError(grpc.status.INTERNAL, "internal error in keda-llm-scaler (see its logs)"),
    );
    await expect(waiting).rejects.toMatchObject({ code: grpc.status.INTERNAL });
    void table.answerOf(slot, so, true);
    expect(desk.asks).toHaveLength(2);
  });

  it("carries an unavailable answer's reason, which the service sends KEDA as UNAVAILABLE", () => {
    const { table, now } = tableWith();
    const slot = table.lookup(so);
    table.received([[slot.id, 0, 1, 0, "every signal failed", now(), ++sequence]]);
    expect(table.answerOf(slot, so, true)).toEqual({
      available: false,
      metricValue: 1,
      active: false,
      unavailableReason: "every signal failed",
    });
  });

  it("refuses a bad manifest itself, without asking the book", () => {
    const { table, desk } = tableWith();
    const bad = ref("bad", { maxReplicas: "x" });
    expect(() => table.specFor(bad)).toThrow(/maxReplicas/);
    expect(() => table.answerOf(table.lookup(bad), bad, true)).toThrow(/maxReplicas/);
    expect(desk.asks).toHaveLength(0);
  });

  it("forgets the least recently used beyond its bound, tells the book, and ignores answers for a forgotten slot", () => {
    const { table, desk, now } = tableWith({ maxEntries: 2 });
    const first = table.lookup(ref("a"));
    table.lookup(ref("b"));
    table.lookup(ref("c"));
    expect(table.size).toBe(2);
    expect(desk.notes).toEqual([[DROPPED, first.id, 0]]);
    table.received([kept(first.id, 9, now())]);
    // Made again, with no answer: the one sent for the forgotten slot went nowhere.
    const again = table.lookup(ref("a"));
    expect(again.id).not.toBe(first.id);
    expect(table.answerOf(again, ref("a"), true)).toBeInstanceOf(Promise);
    expect(desk.asks.map((ask) => ask.slotId)).toEqual([again.id]);
  });
});
