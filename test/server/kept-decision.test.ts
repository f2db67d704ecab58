import { describe, expect, it } from "vitest";
import { decide } from "../../src/policy/decide.ts";
import { InProcessMemoryStore } from "../../src/policy/decider.ts";
import type { Decision } from "../../src/policy/decision.ts";
import { DEMAND_SIGNALS } from "../../src/policy/demand/index.ts";
import type { PolicyMemory } from "../../src/policy/memory.ts";
import type { SignalReadings } from "../../src/readings/signal-table.ts";
import { DecisionBook } from "../../src/server/decision-book.ts";
import { decisionSeriesSlices } from "../../src/server/decision-series.ts";
import { createHttpEndpoints, listenHttp } from "../../src/server/http.ts";
import { fullDecision } from "../../src/server/kept-decision.ts";
import { createLogger } from "../../src/server/logger.ts";
import { ScalerMetrics } from "../../src/server/metrics.ts";
import type { SignalSource } from "../../src/sources/signal-source.ts";
import { broken, NOON, readingsOf, type Values } from "../policy/helpers.ts";

/** Readings a test sets before each decision, answered at once. */
class SettableSource implements SignalSource {
  values: Values = {};
  nowMs = NOON;
  async read(): Promise<SignalReadings> {
    return this.readNowOrLater();
  }
  readNowOrLater(): SignalReadings {
    return readingsOf(this.values, this.nowMs);
  }
}

/**
 * A backlog that rises and drains under a scale-down delay: each answer depends on the policy
 * memory the decision started from, so a decision made again from the wrong memory differs.
 */
const POLLS: readonly Values[] = [
  { queueBacklog: 30, vllmWaiting: 0, replicasReady: 1, replicasDesired: 1 },
  { queueBacklog: 400, vllmWaiting: 12, replicasReady: 1, replicasDesired: 1 },
  { queueBacklog: 0, vllmWaiting: 0, replicasReady: 4, replicasDesired: 4 },
  { queueBacklog: 0, vllmWaiting: 0, replicasReady: 4, replicasDesired: 4 },
];

describe("the decision the book keeps", () => {
  it("gives back, whole, the very decision that was made, at every poll", async () => {
    const source = new SettableSource();
    let clockMs = NOON;
    const made: Decision[] = [];
    const changes: boolean[] = [];
    const book = new DecisionBook({
      source,
      env: {},
      clock: () => clockMs,
      decisionTtlMs: 1000,
      onDecision: (decision, changed) => {
        made.push(decision);
        changes.push(changed);
      },
    });
    const request = {
      name: "chat",
      namespace: "team-a",
      scalerMetadata: { serviceBusQueue: "requests", scaleDownDelaySeconds: "300" },
    };
    for (const [index, values] of POLLS.entries()) {
      clockMs = NOON + index * 30_000;
      source.values = values;
      source.nowMs = clockMs;
      const kept = await book.decisionFor(request);
      const decision = made[made.length - 1]!;
      // The figures KEDA and /metrics read are the decision's own...
      expect(kept).toMatchObject({
        scaledObject: decision.scaledObject,
        atMs: decision.atMs,
        available: decision.available,
        desiredReplicas: decision.desiredReplicas,
        metricValue: decision.metricValue,
        active: decision.active,
        floorReplicas: decision.floorReplicas,
        loadReplicas: decision.loadReplicas,
        drivingFactor: decision.drivingFactor,
      });
      // (every signal that votes has its place among the demands kept)
      expect(new Set(decision.signals.map((v) => v.signal))).toEqual(new Set(DEMAND_SIGNALS));
      for (const [i, signal] of DEMAND_SIGNALS.entries()) {
        const demand = decision.signals.find((v) => v.signal === signal)?.demandReplicas;
        expect(Number.isNaN(kept.demand[i]!) ? undefined : kept.demand[i]).toBe(demand);
      }
      // ...and /debug/decisions shows it whole, verdicts, rules and summary, as it was made. The
      // book decides without words and makes them again when they are read: a decision that
      // changed the answer is handed over in words (the log writes its summary), any other as
      // figures only.
      const whole = fullDecision(kept);
      expect(whole.summary).not.toBe("");
      expect(fullDecision(book.latestDecisions()[0]!)).toEqual(whole);
      if (changes[changes.length - 1]) expect(whole).toEqual(decision);
      else {
        const { spec, readings, nowMs, memory } = kept.inputs;
        expect(decide(spec, readings, nowMs, memory, { words: false }).decision).toEqual(decision);
        expect(decision.summary).toBe("");
      }
    }
    expect(changes).toContain(false);
    // /metrics writes the kept demands: the queue's, and no line for a signal that did not vote.
    let text = "";
    for await (const slice of decisionSeriesSlices(book.records())) text += slice;
    const last = made[made.length - 1]!;
    for (const verdict of last.signals) {
      const line = new RegExp(`signal_demand_replicas\\{[^}]*signal="${verdict.signal}"\\} (\\S+)`).exec(
        text,
      );
      if (verdict.demandReplicas === undefined) expect(line, verdict.signal).toBeNull();
      else expect(Number(line?.[1]), verdict.signal).toBe(verdict.demandReplicas);
    }
    expect(text).toMatch(/signal="queue"/);
    // The memory mattered: the scale-down delay held the drained backlog's answer up.
    expect(made.map((d) => d.desiredReplicas)).toEqual([
      made[0]!.desiredReplicas,
      made[1]!.desiredReplicas,
      made[1]!.desiredReplicas,
      made[1]!.desiredReplicas,
    ]);
    expect(made[1]!.desiredReplicas).toBeGreaterThan(made[0]!.desiredReplicas);
  });

  it("keeps one object per ScaledObject, overwritten by each decision, and reports what changed", async () => {
    const source = new SettableSource();
    let clockMs = NOON;
    const made: { decision: Decision; changed: boolean }[] = [];
    const book = new DecisionBook({
      source,
      env: {},
      clock: () => clockMs,
      decisionTtlMs: 1000,
      onDecision: (decision, changed) => made.push({ decision, changed }),
    });
    const request = {
      name: "chat",
      namespace: "team-a",
      scalerMetadata: { serviceBusQueue: "requests", scaleDownDelaySeconds: "300" },
    };
    const kept = [];
    for (const [index, values] of [...POLLS, POLLS[3]!].entries()) {
      clockMs = NOON + index * 30_000;
      source.values = values;
      source.nowMs = clockMs;
      kept.push(await book.decisionFor(request));
    }
    // A new object per decision would be copied to the old generation by every poll.
    for (const each of kept) expect(each).toBe(kept[0]);
    expect(kept[0]!.atMs).toBe(clockMs);
    // A decision changed the answer when KEDA or a dashboard would see a difference from the one
    // before it; the last two polls, the same drained backlog under the same delay, did not.
    const seen = made.map(({ decision: d }) => [
      d.desiredReplicas,
      d.metricValue,
      d.active,
      d.available,
      d.drivingFactor,
    ]);
    const expected = seen.map(
      (figures, i) => i === 0 || JSON.stringify(figures) !== JSON.stringify(seen[i - 1]),
    );
    expect(made.map((m) => m.changed)).toEqual(expected);
    expect(expected.at(-1)).toBe(false);
    expect([...book.records()][0]?.changes).toBe(expected.filter(Boolean).length);
  });

  it("keeps the memory each decision started from, not the one it left", async () => {
    class RecordingStore extends InProcessMemoryStore {
      readonly saved: PolicyMemory[] = [];
      override set(key: string, memory: PolicyMemory): void {
        this.saved.push(memory);
        super.set(key, memory);
      }
    }
    const store = new RecordingStore();
    const source = new SettableSource();
    let clockMs = NOON;
    const book = new DecisionBook({
      source,
      env: {},
      clock: () => clockMs,
      decisionTtlMs: 1000,
      memoryStore: store,
    });
    const request = { name: "chat", namespace: "team-a", scalerMetadata: { serviceBusQueue: "q" } };
    source.values = POLLS[0]!;
    const first = await book.decisionFor(request);
    expect(first.inputs.memory).toBeUndefined();
    clockMs += 30_000;
    source.nowMs = clockMs;
    source.values = POLLS[1]!;
    const second = await book.decisionFor(request);
    expect(store.saved).toHaveLength(2);
    expect(second.inputs.memory).toBe(store.saved[0]);
  });

  it("keeps UNAVAILABLE's reason, the error KEDA is sent, and nothing of the kind otherwise", async () => {
    const source = new SettableSource();
    const book = new DecisionBook({ source, env: {}, clock: () => NOON, decisionTtlMs: 1000 });
    const request = { name: "chat", namespace: "team-a", scalerMetadata: { serviceBusQueue: "q" } };
    source.values = POLLS[0]!;
    const answered = await book.decisionFor(request);
    expect(answered.unavailableReason).toBeUndefined();
    // Every reading failing, and no previous answer to hold: no answer (KEDA's fallback applies).
    const other = { ...request, name: "blind" };
    source.values = Object.fromEntries(Object.keys(POLLS[0]!).map((key) => [key, broken()]));
    const blind = await book.decisionFor(other);
    expect(blind.available).toBe(false);
    expect(blind.unavailableReason).toBe(fullDecision(blind).summary);
    expect(blind.unavailableReason).toMatch(/UNAVAILABLE/);
  });
});

describe("/debug/decisions", () => {
  it("makes a large page whole again in slices, letting other work in between", async () => {
    const source = new SettableSource();
    source.values = POLLS[1]!;
    const book = new DecisionBook({ source, env: {}, clock: () => NOON, decisionTtlMs: 1000 });
    for (let n = 0; n < 250; n++)
      await book.decisionFor({
        name: `chat-${n}`,
        namespace: "team-a",
        scalerMetadata: { serviceBusQueue: "q" },
      });
    const server = createHttpEndpoints({
      metrics: new ScalerMetrics(),
      logger: createLogger("silent"),
      // Each decision notes the turn of the event loop in which the page reads its inputs.
      decisions: () =>
        book.latestDecisions().map((kept) => ({
          ...kept,
          get inputs() {
            readInTurns.add(turns);
            return kept.inputs;
          },
        })),
      exposeDecisions: "true",
      isServing: () => true,
    });
    const port = await listenHttp(server, 0, "127.0.0.1");
    let turns = 0;
    const readInTurns = new Set<number>();
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    try {
      const body = (await (await fetch(`http://127.0.0.1:${port}/debug/decisions?limit=250`)).json()) as {
        shown: number;
        decisions: Decision[];
      };
      counting = false;
      expect(body.shown).toBe(250);
      const kept = book.latestDecisions().find((d) => d.scaledObject.name === "chat-7")!;
      const shown = body.decisions.find((d) => d.scaledObject.name === "chat-7");
      expect(shown).toEqual(JSON.parse(JSON.stringify(fullDecision(kept))));
      // 250 decisions in slices of 100: made in three turns of the loop, not one.
      expect(readInTurns.size).toBe(3);
    } finally {
      counting = false;
      server.close();
    }
  });
});
