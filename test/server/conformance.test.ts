import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { averageValueProposal, hpaCanReach } from "../../src/policy/hpa.ts";
import { ONE_PER_MESSAGE, ref, useHarness } from "../support/scaler-harness.ts";

/** KEDA external-scaler behaviours not already covered by external-scaler.test.ts. */
interface MetricsResponse {
  metricValues: { metricValueFloat: number; metricValue: number }[];
}

// A decision is reused for 2 s, so each GetMetrics + IsActive pair sees one snapshot.
const running = useHarness({ DECISION_TTL_SECONDS: "2" });

describe("IsActive and GetMetrics agree", () => {
  it("agree on every backlog, and repeated reads change nothing", async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 500 }), async (backlog) => {
        running.harness.source.setBacklog(backlog);
        // A fresh ScaledObject per case: the decision book's snapshot is per ScaledObject.
        const so = ref(`prop-${round++}`, ONE_PER_MESSAGE);
        const request = { scaledObjectRef: so, metricName: "llm-desired-replicas" };
        const first = await running.client.call<MetricsResponse>("GetMetrics", request);
        const active = await running.client.call<{ result: boolean }>("IsActive", so);
        const again = await running.client.call<MetricsResponse>("GetMetrics", request);
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
          // The band is inclusive: within when |desired − current| ≤ 10 % of current, counted in
          // integers so that the oracle has no rounding of its own. (Kubernetes' current
          // `1 − tol ≤ ratio ≤ 1 + tol` gives the same at exactly 10 %, e.g. 320 → 352; the older
          // `|1 − ratio| ≤ tol` rounded that case outside.)
          const outside = current === 0 || 10 * Math.abs(desired - current) > current;
          if (outside) expect(averageValueProposal(current, desired, 1)).toBe(desired);
          else expect(averageValueProposal(current, desired, 1)).toBe(current);
        },
      ),
      // The boundary that once failed at random, always tried.
      { examples: [[320, 352]] },
    );
  });
});
