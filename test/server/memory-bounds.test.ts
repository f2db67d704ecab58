import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { DecisionBook } from "../../src/server/decision-book.ts";
import { decisionSeriesSlices } from "../../src/server/decision-series.ts";
import { MAX_METADATA_CHARACTERS } from "../../src/server/external-scaler.ts";
import { SpecTemplates } from "../../src/server/spec-templates.ts";
import { ONE_PER_MESSAGE, ref, ScriptedSource, statusOf, useHarness } from "../support/scaler-harness.ts";

const running = useHarness({}, 2);

describe("scalerMetadata size at the door", () => {
  it("refuses more than MAX_METADATA_CHARACTERS with INVALID_ARGUMENT naming the largest key, and remembers nothing", async () => {
    const before = running.harness.scaler.book.size;
    const so = ref("junk", { ...ONE_PER_MESSAGE, junkKey: "j".repeat(MAX_METADATA_CHARACTERS) });
    for (const method of ["GetMetricSpec", "IsActive"]) {
      const result = await statusOf(running.client.call(method, so));
      expect(result.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(result.details).toContain('the largest entry is scalerMetadata."junkKey"');
    }
    expect(running.harness.scaler.book.size).toBe(before);
  });

  it("accepts metadata just under the limit (a long custom query is legitimate)", async () => {
    const so = ref("long-but-fine", { ...ONE_PER_MESSAGE, modelName: "m".repeat(60) });
    expect((await statusOf(running.client.call("GetMetricSpec", so))).code).toBe(grpc.status.OK);
  });
});

describe("the decision book's bounds", () => {
  const env = {};
  const source = new ScriptedSource();
  source.setBacklog(1);

  it("forgets the least recently used entries beyond maxBytes, whatever the entry count allows", () => {
    const book = new DecisionBook({
      source,
      env,
      clock: Date.now,
      decisionTtlMs: 1000,
      maxEntries: 10_000,
      maxBytes: 200_000,
    });
    for (let i = 0; i < 500; i++) {
      try {
        book.specFor({ name: `so-${i}`, namespace: "ns", scalerMetadata: { ...ONE_PER_MESSAGE } });
      } catch {}
    }
    expect(book.approximateBytes).toBeLessThanOrEqual(200_000);
    expect(book.size).toBeGreaterThan(5);
    expect(book.size).toBeLessThan(500);
  });

  it("parses each distinct namespace and metadata once: ScaledObjects that differ by name share the settings", () => {
    const book = new DecisionBook({
      source,
      env: { SERVICEBUS_ALLOWED_ENTITIES: "team-a=chat-*" },
      clock: Date.now,
      decisionTtlMs: 1000,
    });
    const metadata = { ...ONE_PER_MESSAGE, serviceBusQueue: "chat-requests", deployment: "vllm" };
    const first = book.specFor({ name: "chat-1", namespace: "team-a", scalerMetadata: metadata });
    const second = book.specFor({ name: "chat-2", namespace: "team-a", scalerMetadata: { ...metadata } });
    expect(second.scaledObject).toEqual({ name: "chat-2", namespace: "team-a" });
    expect(first.scaledObject).toEqual({ name: "chat-1", namespace: "team-a" });
    expect(second.target).toBe(first.target);
    expect(second.sources).toBe(first.sources);
    // The namespace is part of what is shared: the tenant rules still apply to team-b.
    expect(() => book.specFor({ name: "chat-1", namespace: "team-b", scalerMetadata: metadata })).toThrow(
      /not allowed for namespace team-b/,
    );
    // Other metadata is parsed on its own, and a bad value is still named.
    const other = book.specFor({
      name: "chat-3",
      namespace: "team-a",
      scalerMetadata: { ...metadata, maxReplicas: "7" },
    });
    expect(other.target.maxReplicas).toBe(7);
    expect(first.target.maxReplicas).toBe(1000);
    for (const name of ["bad-1", "bad-2"])
      expect(() =>
        book.specFor({ name, namespace: "team-a", scalerMetadata: { ...metadata, maxReplicas: "x" } }),
      ).toThrow(/scalerMetadata\.maxReplicas/);
  });

  it("bounds the shared parsed specs by bytes, keys included, whatever a tenant sends", () => {
    const templates = new SpecTemplates({ env, maxEntries: 10_000, maxBytes: 200_000 });
    for (let i = 0; i < 500; i++) {
      const metadata = { ...ONE_PER_MESSAGE, modelName: `m${i}-${"x".repeat(3000)}` };
      const content = JSON.stringify(["ns", metadata]);
      templates.specFor({ name: `so-${i}`, namespace: "ns" }, metadata, content);
    }
    expect(templates.approximateBytes).toBeLessThanOrEqual(200_000);
    expect(templates.size).toBeGreaterThan(1);
    expect(templates.size).toBeLessThan(500);
  });

  it("remembers an invalid spec without the stack frames of its first parse", () => {
    const book = new DecisionBook({ source, env, clock: Date.now, decisionTtlMs: 1000 });
    const request = { name: "bad", namespace: "ns", scalerMetadata: { maxReplicas: "x", mistypedKey: "1" } };
    const errors = [1, 2].map(() => {
      try {
        book.specFor(request);
      } catch (error) {
        return error as Error;
      }
      throw new Error("expected the spec to be refused");
    });
    // The same remembered error both times, naming both keys, with no frames kept alive.
    expect(errors[1]).toBe(errors[0]);
    expect(errors[0]?.message).toContain('unknown key "mistypedKey"');
    expect(errors[0]?.message).toContain("scalerMetadata.maxReplicas must be a whole number");
    expect(errors[0]?.stack).not.toMatch(/\n\s+at /);
  });

  it("finds a ScaledObject whatever the order KEDA sends its metadata in, and only with the very same metadata", () => {
    const book = new DecisionBook({ source, env, clock: Date.now, decisionTtlMs: 1000, maxEntries: 3 });
    const so = (scalerMetadata: Record<string, string>) => ({
      name: "chat",
      namespace: "ns",
      scalerMetadata,
    });
    const first = book.lookup(so({ ...ONE_PER_MESSAGE, maxReplicas: "7" }));
    const reversed = Object.fromEntries(Object.entries({ ...ONE_PER_MESSAGE, maxReplicas: "7" }).reverse());
    expect(book.lookup(so(reversed))).toBe(first);
    // Another value, a key more or a key fewer: another ScaledObject's settings.
    expect(book.lookup(so({ ...ONE_PER_MESSAGE, maxReplicas: "8" }))).not.toBe(first);
    const longer = book.lookup(so({ ...ONE_PER_MESSAGE, maxReplicas: "7", minReplicas: "1" }));
    expect(longer).not.toBe(first);
    const { maxReplicas: _, ...fewer } = { ...ONE_PER_MESSAGE, minReplicas: "1" };
    expect(book.lookup(so({ ...fewer, maxReplicas: "7" }))).toBe(longer);
    expect(book.lookup(so(fewer))).not.toBe(longer); // a fourth: evicts `first`, the oldest
    expect(book.size).toBe(3);
    expect(book.lookup(so({ ...ONE_PER_MESSAGE }))).not.toBe(first);
    expect(book.size).toBe(3);
    // Forgotten by name too: the same metadata again makes a new entry.
    expect(book.lookup(so({ ...ONE_PER_MESSAGE, maxReplicas: "7" }))).not.toBe(first);
    // Another name or namespace with the same metadata is another ScaledObject.
    const again = book.lookup(so({ ...ONE_PER_MESSAGE, maxReplicas: "7" }));
    expect(book.lookup({ ...so({ ...ONE_PER_MESSAGE, maxReplicas: "7" }), name: "chat2" })).not.toBe(again);
    expect(book.lookup({ ...so({ ...ONE_PER_MESSAGE, maxReplicas: "7" }), namespace: "ns2" })).not.toBe(
      again,
    );
  });

  it("finds every metadata variant of one name, past the few it compares, by digest", () => {
    const book = new DecisionBook({ source, env, clock: Date.now, decisionTtlMs: 1000 });
    const variant = (i: number) => ({
      name: "edited",
      namespace: "ns",
      scalerMetadata: { ...ONE_PER_MESSAGE, maxReplicas: String(10 + i) },
    });
    const first = Array.from({ length: 50 }, (_, i) => book.lookup(variant(i)));
    const again = Array.from({ length: 50 }, (_, i) => book.lookup(variant(i)));
    for (const [i, entry] of again.entries()) expect(entry).toBe(first[i]);
    expect(new Set(first).size).toBe(50);
    expect(book.size).toBe(50);
  });

  it("finds a ScaledObject with many metadata keys again in any order (by digest: the index compares only a few dozen keys)", () => {
    const book = new DecisionBook({ source, env, clock: Date.now, decisionTtlMs: 1000 });
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, `value${i}`]));
    const so = (scalerMetadata: Record<string, string>) => ({
      name: "wide",
      namespace: "ns",
      scalerMetadata,
    });
    const first = book.lookup(so(many));
    expect(book.lookup(so(Object.fromEntries(Object.entries(many).reverse())))).toBe(first);
    expect(book.lookup(so({ ...many, key0: "changed" }))).not.toBe(first);
    expect(book.size).toBe(2);
  });

  it("keys entries by a digest: an invalid spec with long values keeps only short problems", () => {
    const book = new DecisionBook({ source, env, clock: Date.now, decisionTtlMs: 1000 });
    const metadata: Record<string, string> = {};
    for (let i = 0; i < 30; i++) metadata[`bad${i}`] = "v".repeat(2000);
    expect(() => book.specFor({ name: "bad", namespace: "ns", scalerMetadata: metadata })).toThrow();
    // 30 unknown keys of 2,000 characters: kept are at most 8 problems, each quoting ≤ 80 characters.
    expect(book.approximateBytes).toBeLessThan(6 * 1024 + 2 * 8 * 200);
  });
});

describe("/metrics per ScaledObject", () => {
  it("lists only the driving factor (value 1) and counts decision changes", async () => {
    const so = ref("metered", ONE_PER_MESSAGE, "team-m");
    await running.client.call("GetMetrics", { scaledObjectRef: so, metricName: "llm-desired-replicas" });
    const text = await (await fetch(`http://127.0.0.1:${running.harness.scaler.httpPort}/metrics`)).text();
    const factors = text
      .split("\n")
      .filter(
        (l) => l.startsWith("keda_llm_scaler_driving_factor{") && l.includes('scaled_object="metered"'),
      );
    expect(factors).toHaveLength(1);
    expect(factors[0]).toMatch(/ 1$/);
    expect(text).toMatch(
      /keda_llm_scaler_decision_changes_total\{namespace="team-m",scaled_object="metered"\} 1/,
    );
    expect(text).toMatch(/keda_llm_scaler_desired_replicas\{namespace="team-m",scaled_object="metered"\} 2/);
  });
});

describe("/metrics at thousands of ScaledObjects", () => {
  it("is written in slices with turns of the event loop between them, each family's lines together", async () => {
    const book = new DecisionBook({
      source: running.harness.source,
      env: {},
      clock: Date.now,
      decisionTtlMs: 60_000,
    });
    const scaledObjects = 1000;
    for (let i = 0; i < scaledObjects; i++) {
      const entry = book.lookup({
        name: `so-${i}`,
        namespace: `ns-${i % 7}`,
        scalerMetadata: ONE_PER_MESSAGE,
      });
      await book.decisionOf(entry);
    }
    let turns = 0;
    let scraping = true;
    const countTurn = () => {
      turns++;
      if (scraping) setImmediate(countTurn);
    };
    setImmediate(countTurn);
    const slices: string[] = [];
    for await (const slice of decisionSeriesSlices(book.records())) slices.push(slice);
    scraping = false;
    // Every family is cut into ⌈1000 / 256⌉ = 4 slices, and the loop turned between slices.
    expect(slices.length).toBeGreaterThanOrEqual(4 * 9);
    expect(turns).toBeGreaterThanOrEqual(slices.length - 1);
    const lines = slices.join("").split("\n").filter(Boolean);
    const desired = lines.filter((line) => line.startsWith("keda_llm_scaler_desired_replicas{"));
    expect(desired).toHaveLength(scaledObjects);
    // The exposition format wants each family's samples in one group, after its HELP and TYPE.
    const families = lines.filter((line) => !line.startsWith("#")).map((line) => line.split("{")[0]);
    const groups = families.filter((name, i) => i === 0 || name !== families[i - 1]);
    expect(new Set(groups).size).toBe(groups.length);
  });
});
