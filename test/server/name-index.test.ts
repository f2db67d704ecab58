import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NameIndex, rememberMetadata, sameMetadata } from "../../src/server/name-index.ts";

/** The same entries in another order: KEDA's Go maps come in any order. */
function reordered(metadata: Record<string, string>, order: readonly number[]): Record<string, string> {
  const keys = Object.keys(metadata);
  const out: Record<string, string> = {};
  if (keys.length === 0) return out;
  for (const index of order) {
    const key = keys[index % keys.length] as string;
    out[key] = metadata[key] as string;
  }
  for (const key of keys) out[key] = metadata[key] as string;
  return out;
}

const metadataArbitrary = fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), {
  maxKeys: 6,
});

function sameEntries(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && b[key] === a[key])
  );
}

describe("sameMetadata", () => {
  it("is true exactly when both maps hold the same entries, whatever their order", () => {
    fc.assert(
      fc.property(
        metadataArbitrary,
        metadataArbitrary,
        fc.array(fc.nat(), { maxLength: 8 }),
        (a, b, order) => {
          const remembered = rememberMetadata(a);
          expect(sameMetadata(remembered, reordered(a, order))).toBe(true);
          expect(sameMetadata(remembered, b)).toBe(sameEntries(a, b));
        },
      ),
    );
  });

  it("tells apart one more key, one key fewer and one changed value", () => {
    const remembered = rememberMetadata({ modelName: "llama", maxReplicas: "16" });
    expect(sameMetadata(remembered, { maxReplicas: "16", modelName: "llama" })).toBe(true);
    expect(sameMetadata(remembered, { modelName: "llama", maxReplicas: "16", rateWindow: "10s" })).toBe(
      false,
    );
    expect(sameMetadata(remembered, { modelName: "llama" })).toBe(false);
    expect(sameMetadata(remembered, { modelName: "llama", maxReplicas: "17" })).toBe(false);
    // A key the remembered metadata does not have, in place of one it has.
    expect(sameMetadata(remembered, { modelName: "llama", minReplicas: "16" })).toBe(false);
  });

  it("treats keys named like Object's own members as any other key", () => {
    const remembered = rememberMetadata({ constructor: "a", toString: "b", hasOwnProperty: "c" });
    expect(sameMetadata(remembered, { hasOwnProperty: "c", toString: "b", constructor: "a" })).toBe(true);
    expect(sameMetadata(remembered, { constructor: "a", toString: "b" })).toBe(false);
    expect(sameMetadata(rememberMetadata({ modelName: "llama" }), { constructor: "a" })).toBe(false);
  });

  it("keeps a copy, not the request's own object", () => {
    const sent = { modelName: "llama" };
    const remembered = rememberMetadata(sent);
    sent.modelName = "mistral";
    expect(sameMetadata(remembered, { modelName: "llama" })).toBe(true);
  });
});

describe("NameIndex", () => {
  const identity = { namespace: "team-a", name: "vllm" };
  const entry = (metadata: Record<string, string>, of = identity) => ({
    identity: of,
    metadata: rememberMetadata(metadata),
  });

  it("finds an entry by namespace, name and metadata, and forgets it when removed", () => {
    const index = new NameIndex<ReturnType<typeof entry>>();
    const first = entry({ modelName: "llama" });
    const edited = entry({ modelName: "llama", maxReplicas: "8" });
    const otherNamespace = entry({ modelName: "llama" }, { namespace: "team-b", name: "vllm" });
    index.add(first);
    index.add(edited);
    index.add(otherNamespace);
    expect(index.variants(identity)).toBe(2);
    expect(index.find({ ...identity, scalerMetadata: { modelName: "llama" } })).toBe(first);
    expect(index.find({ ...identity, scalerMetadata: { maxReplicas: "8", modelName: "llama" } })).toBe(
      edited,
    );
    expect(index.find({ namespace: "team-b", name: "vllm", scalerMetadata: { modelName: "llama" } })).toBe(
      otherNamespace,
    );
    expect(index.find({ ...identity, scalerMetadata: { modelName: "mistral" } })).toBeUndefined();
    // The namespace and name are two strings, not one joined: no choice of them reads as another.
    expect(
      index.find({ namespace: "team-", name: "avllm", scalerMetadata: { modelName: "llama" } }),
    ).toBeUndefined();

    index.remove(first);
    expect(index.variants(identity)).toBe(1);
    expect(index.find({ ...identity, scalerMetadata: { modelName: "llama" } })).toBeUndefined();
    index.remove(edited);
    index.remove(edited);
    expect(index.variants(identity)).toBe(0);
    expect(index.find({ namespace: "team-b", name: "vllm", scalerMetadata: { modelName: "llama" } })).toBe(
      otherNamespace,
    );
  });
});
