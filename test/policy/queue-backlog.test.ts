import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { queueDemand } from "../../src/policy/demand/queue.ts";
import type { UsableReadings } from "../../src/policy/usable.ts";
import { backlogOf } from "../../src/policy/workload.ts";
import { NOON, specOf } from "./helpers.ts";

type Values = { queueBacklog?: number; vllmWaiting?: number };

/** Fresh readings, as the fail-static stage hands them to the demand rules. */
function usableReadings(values: Values): UsableReadings {
  const usable: UsableReadings = {};
  for (const [key, value] of Object.entries(values))
    if (value !== undefined) usable[key as keyof Values] = { state: "fresh", value, observedAtMs: NOON };
  return usable;
}

/** The queue rule's demand for these readings, in both modes. */
function demands(values: Values): { drain: number | undefined; perReplica: number | undefined } {
  const usable = usableReadings(values);
  const drain = queueDemand(specOf({ ttftEnabled: "false" }), usable).demandReplicas;
  const perReplica = queueDemand(
    specOf({ queueMode: "perReplica", messagesPerReplica: "5" }),
    usable,
  ).demandReplicas;
  return { drain, perReplica };
}

const count = fc.integer({ min: 0, max: 100_000 });

describe("the queue backlog: Service Bus active messages and vLLM waiting", () => {
  it("never counts twice: vLLM's waiting requests are among the active messages, so they add nothing", () => {
    fc.assert(
      fc.property(count, count, (active, share) => {
        const waiting = Math.min(active, share);
        expect(demands({ queueBacklog: active, vllmWaiting: waiting })).toEqual(
          demands({ queueBacklog: active }),
        );
        expect(backlogOf(usableReadings({ queueBacklog: active, vllmWaiting: waiting })).exact).toBe(active);
      }),
    );
  });

  it("never lowers the answer for a missing reading: each one alone asks for no more than both", () => {
    fc.assert(
      fc.property(count, count, (active, waiting) => {
        const both = demands({ queueBacklog: active, vllmWaiting: waiting });
        for (const alone of [demands({ queueBacklog: active }), demands({ vllmWaiting: waiting })]) {
          expect(both.drain as number).toBeGreaterThanOrEqual(alone.drain as number);
          expect(both.perReplica as number).toBeGreaterThanOrEqual(alone.perReplica as number);
        }
        // The larger reading stands, whichever it is (either may be the fresher).
        expect(both.perReplica).toBeCloseTo(Math.max(active, waiting) / 5, 9);
      }),
    );
  });

  it("behind a load balancer (no Service Bus reading) vLLM's waiting count is the backlog", () => {
    expect(demands({ vllmWaiting: 30 }).perReplica).toBeCloseTo(6);
    expect(demands({ vllmWaiting: 30 }).drain).toBeCloseTo(30 / 60 / 2);
  });
});
