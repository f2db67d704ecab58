import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scalerSpecGroups } from "../../src/config/spec.ts";
import {
  type Harness,
  KedaLikeClient,
  ONE_PER_MESSAGE,
  ref,
  startHarness,
  statusOf,
} from "../support/scaler-harness.ts";

const MAX_SCALED_OBJECTS = 40;
const KNOWN_KEYS = Object.values(scalerSpecGroups).flatMap((group) =>
  Object.values(group).flatMap((setting) => (setting.key ? [setting.key] : [])),
);

/** Keys a confused or hostile manifest might carry: real ones, near misses, KEDA's, junk, unicode. */
const metadataKey = fc.oneof(
  fc.constantFrom(...KNOWN_KEYS),
  fc.constantFrom(...KNOWN_KEYS).map((k) => `${k}FromEnv`),
  fc.constantFrom("scalerAddress", "enableTLS", "unsafeSsl", "__proto__", "constructor", "toString"),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
);

const metadataValue = fc.oneof(
  fc.constantFrom("", " ", "0", "-1", "1e309", "NaN", "Infinity", "true", "0.7", "08:00", "null", "{}"),
  fc.integer().map(String),
  fc.double().map(String),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.string({ minLength: 1000, maxLength: 20_000 }),
);

const metadata = fc.dictionary(metadataKey, metadataValue, { maxKeys: 12 });

let harness: Harness;
let client: KedaLikeClient;

beforeAll(async () => {
  harness = await startHarness({
    MAX_SCALED_OBJECTS: String(MAX_SCALED_OBJECTS),
    GRPC_MAX_MESSAGE_BYTES: "65536",
    GRPC_MAX_CONCURRENT_STREAMS: "8",
  });
  harness.source.setBacklog(3);
  client = new KedaLikeClient(harness.address);
});

afterAll(async () => {
  client.close();
  await harness.stop();
});

describe("random scalerMetadata (property-based fuzz)", () => {
  it("answers every RPC cleanly (OK, or INVALID_ARGUMENT naming the key); nothing crashes or hangs", async () => {
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(metadata, fc.string({ minLength: 1, maxLength: 30 }), async (scalerMetadata, name) => {
        cases++;
        const so = { name, namespace: "fuzz", scalerMetadata };
        const results = await Promise.all([
          statusOf(client.call("GetMetricSpec", so, 3000)),
          statusOf(
            client.call("GetMetrics", { scaledObjectRef: so, metricName: "llm-desired-replicas" }, 3000),
          ),
          statusOf(client.call("IsActive", so, 3000)),
        ]);
        const [spec] = results;
        for (const result of results) {
          expect([grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND]).toContain(
            result.code,
          );
          if (result.code === grpc.status.INVALID_ARGUMENT)
            expect(result.details).toMatch(/scalerMetadata|env /);
        }
        // Configuration decides validity, so the three RPCs agree on it.
        expect(
          results.every(
            (r) =>
              (r.code === grpc.status.INVALID_ARGUMENT) === (spec!.code === grpc.status.INVALID_ARGUMENT),
          ),
        ).toBe(true);
      }),
      { numRuns: 250 },
    );
    expect(cases).toBe(250);
    // Memory stays bounded: at most MAX_SCALED_OBJECTS ScaledObjects are remembered.
    expect(harness.scaler.book.size).toBeLessThanOrEqual(MAX_SCALED_OBJECTS);
    // And the server still serves well-formed requests.
    const ok = await client.call<{ metricValues: { metricValueFloat: number }[] }>("GetMetrics", {
      scaledObjectRef: ref("after-fuzz", ONE_PER_MESSAGE),
      metricName: "llm-desired-replicas",
    });
    expect(ok.metricValues[0]!.metricValueFloat).toBe(3);
  }, 120_000);
});

describe("limits", () => {
  it("refuses a message above GRPC_MAX_MESSAGE_BYTES with RESOURCE_EXHAUSTED and keeps serving", async () => {
    const huge = ref("huge", { ...ONE_PER_MESSAGE, modelName: "x".repeat(100_000) });
    const result = await statusOf(client.call("GetMetricSpec", huge));
    expect(result.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const spec = await statusOf(client.call("GetMetricSpec", ref("normal", ONE_PER_MESSAGE)));
    expect(spec.code).toBe(grpc.status.OK);
  });

  it("bounds concurrent streams per connection at GRPC_MAX_CONCURRENT_STREAMS; freed streams make room", async () => {
    const streams = Array.from({ length: 8 }, (_, i) => {
      const stream = client.stream<{ result: boolean }>("StreamIsActive", ref(`s${i}`, ONE_PER_MESSAGE));
      stream.on("data", () => {});
      stream.on("error", () => {});
      return stream;
    });
    const first = await Promise.all(
      streams.map((s) => new Promise<boolean>((resolve) => s.once("data", () => resolve(true)))),
    );
    expect(first).toHaveLength(8);
    // The ninth call on the same connection cannot start while eight streams are open.
    const blocked = await statusOf(client.call("GetMetricSpec", ref("ninth", ONE_PER_MESSAGE), 500));
    expect(blocked.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(harness.scaler.openStreamCount).toBe(8);
    for (const s of streams) s.cancel();
    const after = await statusOf(client.call("GetMetricSpec", ref("ninth", ONE_PER_MESSAGE), 3000));
    expect(after.code).toBe(grpc.status.OK);
  });
});
