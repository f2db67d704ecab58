import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { averageValueProposal, hpaCanReach } from "../../src/policy/hpa.ts";
import {
  type Harness,
  KedaLikeClient,
  ONE_PER_MESSAGE,
  ref,
  startHarness,
} from "../support/scaler-harness.ts";

/** KEDA external-scaler behaviours not already covered by external-scaler.test.ts. */
interface MetricsResponse {
  metricValues: { metricValueFloat: number; metricValue: number }[];
}

let harness: Harness;
let client: KedaLikeClient;

beforeAll(async () => {
  // A decision is reused for 2 s, so each GetMetrics + IsActive pair sees one snapshot.
  harness = await startHarness({ DECISION_TTL_SECONDS: "2" });
  client = new KedaLikeClient(harness.address);
});

afterAll(async () => {
  client.close();
  await harness.stop();
});

describe("IsActive and GetMetrics agree", () => {
  it("agree on every backlog, and repeated reads change nothing", async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 500 }), async (backlog) => {
        harness.source.setBacklog(backlog);
        // A fresh ScaledObject per case: the decision book's snapshot is per ScaledObject.
        const so = ref(`prop-${round++}`, ONE_PER_MESSAGE);
        const request = { scaledObjectRef: so, metricName: "llm-desired-replicas" };
        const first = await client.call<MetricsResponse>("GetMetrics", request);
        const active = await client.call<{ result: boolean }>("IsActive", so);
        const again = await client.call<MetricsResponse>("GetMetrics", request);
        const value = first.metricValues[0]!.metricValueFloat;
        expect(active.result).toBe(value > 0);
        expect(again.metricValues[0]!.metricValueFloat).toBe(value);
        expect(first.metricValues[0]!.metricValue).toBe(value);
      }),
      { numRuns: 60 },
    );
  });
});

describe("HPA tolerance", () => {
  it("leaves 10 replicas alone when 11 are asked for: the 10 % dead band", () => {
    expect(averageValueProposal(10, 11, 1)).toBe(10);
    expect(hpaCanReach(10, 11)).toBe(false);
    expect(averageValueProposal(10, 12, 1)).toBe(12);
    expect(averageValueProposal(10, 9, 1)).toBe(10);
    expect(averageValueProposal(10, 8, 1)).toBe(8);
  });

  it("always reaches the asked count from zero and outside the band", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        (current, desired) => {
          const outside = current === 0 || Math.abs(desired / current - 1) > 0.1;
          if (outside) expect(averageValueProposal(current, desired, 1)).toBe(desired);
          else expect(averageValueProposal(current, desired, 1)).toBe(current);
        },
      ),
    );
  });
});
