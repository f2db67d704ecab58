import { describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { parseScalerSpec } from "../../src/config/spec.ts";
import { createSignalSource } from "../../src/sources/collect.ts";
import { hasFastProperties } from "../support/v8-shape.ts";

describe("the readings a decision is made from", () => {
  it("come in an object of fixed shape, however many signals the spec reads", async () => {
    // Nothing listens on port 1: every read fails at once, and a failure is a reading too.
    const source = createSignalSource(
      loadServiceConfig({ PROMETHEUS_URL: "http://127.0.0.1:1", SOURCE_CACHE_TTL_MS: "0" }),
    );
    try {
      // The defaults read the forecast's whole history ladder and the measured lead time.
      const spec = parseScalerSpec({ name: "llama", namespace: "team-a" }, {}, {});
      const readings = await source.read(spec, { nowMs: Date.now() });
      // Well over the ~16 properties past which V8 keeps an object built key by key as a hash
      // table, which every stage of every decision walks and copies more slowly.
      expect(Object.keys(readings).length).toBeGreaterThan(24);
      expect(hasFastProperties(readings)).toBe(true);
    } finally {
      source.close?.();
    }
  });
});
