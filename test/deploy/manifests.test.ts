import { describe, expect, it } from "vitest";
import {
  kustomizationDirs,
  type Manifest,
  parseManifests,
  renderKustomization,
} from "./support/kustomize.ts";
import { validateManifests } from "./support/schemas.ts";

const dirs = kustomizationDirs();

describe("every kustomization under deploy/", () => {
  it("includes the base, the AKS overlays and one example per scenario", () => {
    expect(dirs).toEqual(
      expect.arrayContaining([
        "deploy/base",
        "deploy/overlays/aks",
        "deploy/overlays/aks-mtls",
        "deploy/examples/realtime",
        "deploy/examples/realtime-mtls",
        "deploy/examples/batch",
        "deploy/examples/dev",
        "deploy/examples/headroom",
      ]),
    );
  });

  it.each(dirs)(
    "%s renders offline and validates against the Kubernetes, KEDA, Prometheus Operator and cert-manager schemas",
    async (dir) => {
      const { manifests } = renderKustomization(dir);
      expect(manifests.length).toBeGreaterThan(0);
      expect(await validateManifests(manifests)).toEqual([]);
    },
  );

  it.each(dirs)("%s has no duplicate objects and namespaces every namespaced object", (dir) => {
    const { manifests } = renderKustomization(dir);
    const clusterScoped = new Set([
      "Namespace",
      "PriorityClass",
      "ClusterIssuer",
      "ClusterTriggerAuthentication",
    ]);
    const keys = manifests.map(
      (m) => `${m.apiVersion}/${m.kind}/${m.metadata.namespace ?? ""}/${m.metadata.name}`,
    );
    expect(new Set(keys).size).toBe(keys.length);
    for (const m of manifests)
      if (!clusterScoped.has(m.kind))
        expect(m.metadata.namespace, `${m.kind} ${m.metadata.name}`).toBeTruthy();
  });
});

describe("the schema check itself", () => {
  const deployment = (container: Record<string, unknown>): Manifest[] =>
    parseManifests(
      JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "x", namespace: "n" },
        spec: {
          selector: { matchLabels: { a: "b" } },
          template: {
            metadata: { labels: { a: "b" } },
            spec: { containers: [{ name: "c", image: "i", ...container }] },
          },
        },
      }),
      "inline",
    );

  it("accepts a valid object", async () => {
    expect(
      await validateManifests(deployment({ securityContext: { readOnlyRootFilesystem: true } })),
    ).toEqual([]);
  });

  it("rejects an unknown (misspelt) field deep inside a pod template", async () => {
    const problems = await validateManifests(
      deployment({ securityContext: { readOnlyRootFilesytem: true } }),
    );
    expect(problems.map((p) => p.message).join("\n")).toMatch(/readOnlyRootFilesytem/);
  });

  it("rejects a wrong type", async () => {
    const problems = await validateManifests(deployment({ ports: [{ containerPort: "http" }] }));
    expect(problems.length).toBeGreaterThan(0);
  });

  it("rejects an unknown field in a KEDA ScaledObject and a kind it has no schema for", async () => {
    const problems = await validateManifests(
      parseManifests(
        `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: so, namespace: n}
spec:
  scaleTargetRef: {name: t}
  minReplicas: 0
  triggers: [{type: external, metadata: {scalerAddress: "a:1"}}]
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: n}
`,
        "inline",
      ),
    );
    const text = problems.map((p) => `${p.object}: ${p.message}`).join("\n");
    expect(text).toMatch(/ScaledObject n\/so: .*minReplicas/);
    expect(text).toMatch(/Widget n\/w: no schema known/);
  });

  // KEDA 2.17 fields: a model that predates them would call each one unknown, so a shipped
  // ScaledObject using them could not be checked at all.
  const scaledObject = (spec: string) =>
    validateManifests(
      parseManifests(
        `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: so, namespace: n}
spec:
  scaleTargetRef: {name: t}
  triggers: [{type: external, name: llm, metadata: {scalerAddress: "a:1"}}]
${spec}`,
        "inline",
      ),
    );

  it("knows scalingModifiers, fallback.behavior and initialCooldownPeriod", async () => {
    expect(
      await scaledObject(`  initialCooldownPeriod: 120
  fallback: {failureThreshold: 3, replicas: 2, behavior: currentReplicasIfHigher}
  advanced:
    scalingModifiers: {formula: "llm", target: "1", activationTarget: "0", metricType: AverageValue}
`),
    ).toEqual([]);
  });

  it("rejects a fallback behaviour KEDA does not have and a misspelt scalingModifiers field", async () => {
    const problems = await scaledObject(`  fallback: {failureThreshold: 3, replicas: 2, behavior: keepCurrent}
  advanced:
    scalingModifiers: {formular: "llm", target: "1"}
`);
    const text = problems.map((p) => p.message).join("\n");
    expect(text).toMatch(/behavior/);
    expect(text).toMatch(/formular/);
  });
});
