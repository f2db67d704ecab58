import { describe, expect, it } from "vitest";
import {
  hasKubectl,
  kustomizationDirs,
  type Manifest,
  renderWithKubectl,
  renderWithMini,
} from "./support/kustomize.ts";

/**
 * mini-kustomize stands in for kubectl where kubectl is missing, so it must render exactly what
 * kubectl renders. Compared object by object (kubectl sorts objects by kind; order is not meaning).
 */
function byIdentity(manifests: readonly Manifest[]): Map<string, Manifest> {
  return new Map(
    manifests.map((m) => [`${m.apiVersion} ${m.kind} ${m.metadata.namespace ?? ""}/${m.metadata.name}`, m]),
  );
}

describe.skipIf(!hasKubectl)("mini-kustomize renders what kubectl kustomize renders", () => {
  it.each(kustomizationDirs())("%s", (dir) => {
    const expected = byIdentity(renderWithKubectl(dir).manifests);
    const actual = byIdentity(renderWithMini(dir).manifests);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [identity, manifest] of expected) expect(actual.get(identity), identity).toEqual(manifest);
  });
});

describe("mini-kustomize refuses what it does not implement", () => {
  it("names an unsupported kustomization field instead of ignoring it", async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const { renderWithMiniKustomize } = await import("./support/mini-kustomize.ts");
    const dir = mkdtempSync(join(tmpdir(), "mini-kustomize-"));
    try {
      writeFileSync(join(dir, "kustomization.yaml"), "kind: Kustomization\nnamePrefix: x-\nresources: []\n");
      expect(() => renderWithMiniKustomize(dir)).toThrow(/namePrefix is not supported/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
