import * as grpc from "@grpc/grpc-js";
import { beforeAll, describe, expect, it } from "vitest";
import { ONE_PER_MESSAGE, ref, statusOf, useHarness } from "../support/scaler-harness.ts";

/**
 * KEDA keeps one gRPC connection per scaler address for all of its ScaledObjects, so what one
 * tenant's manifest does to a call, it does to everyone's. These run on one client (one HTTP/2
 * connection) at the default message limit, where a 100 KB value is a legal message.
 */
const setup = useHarness({}, 4);

beforeAll(async () => {
  // Connected and warm before the hostile call, so every later call shares this connection.
  const warmUp = setup.client.call("GetMetricSpec", ref("warm-up", ONE_PER_MESSAGE));
  expect((await statusOf(warmUp)).code).toBe(grpc.status.OK);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function hostile(characters: number) {
  return ref("hostile", { minReplicas: "{", maxReplicas: "x".repeat(characters) }, "tenant-b");
}

function normalCalls(name: string) {
  const so = ref(name, ONE_PER_MESSAGE, "tenant-a");
  return Promise.all([
    statusOf(setup.client.call("GetMetricSpec", so)),
    statusOf(setup.client.call("GetMetrics", { scaledObjectRef: so, metricName: "llm-desired-replicas" })),
    statusOf(setup.client.call("IsActive", so)),
  ]);
}

describe("one hostile ScaledObject on KEDA's shared connection", () => {
  it.each([40_000, 100_000, 200_000])(
    "a %i-character value gets a short INVALID_ARGUMENT, and calls 50 ms and 1 s later succeed",
    async (characters) => {
      const bad = hostile(characters);
      const badCalls = Promise.all([
        statusOf(setup.client.call("GetMetricSpec", bad)),
        statusOf(
          setup.client.call("GetMetrics", { scaledObjectRef: bad, metricName: "llm-desired-replicas" }),
        ),
        statusOf(setup.client.call("IsActive", bad)),
      ]);
      await sleep(50);
      const soon = normalCalls(`soon-${characters}`);
      await sleep(950);
      const later = normalCalls(`later-${characters}`);

      for (const result of await badCalls) {
        expect(result.code).toBe(grpc.status.INVALID_ARGUMENT);
        expect(result.details).toContain("maxReplicas");
        expect(result.details.length).toBeLessThan(1100);
      }
      for (const result of [...(await soon), ...(await later)])
        expect(result).toEqual({ code: 0, details: "" });
    },
  );

  it("repeats at most 80 characters of a bad value and says how long it was", async () => {
    const result = await statusOf(setup.client.call("GetMetricSpec", hostile(5_000)));
    expect(result.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(result.details).toContain(`"${"x".repeat(80)}…" (5000 characters)`);
    // The cross-check (maxReplicas ≥ minReplicas) runs on parsed numbers only, never on raw text.
    expect(result.details).not.toContain("must be at least minReplicas");
  });
});
