import { describe, expect, it } from "vitest";
import { parseSimulateArgs } from "../../src/sim/options.ts";
import { oursDeploymentFromYaml } from "../../src/sim/ours-config.ts";
import { runTrace } from "../../src/sim/run-trace.ts";
import { azureTraceCsv } from "./fixtures.ts";

const SCALED_OBJECT = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: vllm
spec:
  scaleTargetRef:
    name: vllm
  pollingInterval: 10
  cooldownPeriod: 120
  minReplicaCount: 0
  maxReplicaCount: 3
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleDown:
          stabilizationWindowSeconds: 60
          policies:
            - type: Pods
              value: 1
              periodSeconds: 60
  triggers:
    - type: external
      metadata:
        scalerAddress: keda-llm-scaler:6000
        maxReplicas: "3"
        targetUtilisation: 0.8
`;

describe("ours from a ScaledObject", () => {
  it("takes the external trigger's metadata, polling, cooldown, bounds and behaviour", () => {
    const deployment = oursDeploymentFromYaml(SCALED_OBJECT, "so.yaml");
    expect(deployment.pollingIntervalMs).toBe(10_000);
    expect(deployment.cooldownMs).toBe(120_000);
    expect(deployment.maxReplicaCount).toBe(3);
    expect(deployment.metadata).toMatchObject({ maxReplicas: "3", targetUtilisation: "0.8" });
    expect(deployment.behavior?.scaleDown).toEqual({
      stabilizationWindowSeconds: 60,
      selectPolicy: "Max",
      policies: [{ type: "Pods", value: 1, periodSeconds: 60 }],
    });
    // Unset scale-up rules take the API defaults.
    expect(deployment.behavior?.scaleUp.policies).toHaveLength(2);
  });

  it("names what is wrong in a manifest", () => {
    expect(() => oursDeploymentFromYaml("kind: ScaledObject\nspec:\n  triggers: []\n", "x.yaml")).toThrow(
      /x\.yaml: the ScaledObject has no external trigger/,
    );
    expect(() =>
      oursDeploymentFromYaml(SCALED_OBJECT.replace("pollingInterval: 10", "pollingInterval: soon"), "y.yaml"),
    ).toThrow(/spec\.pollingInterval must be a whole number/);
  });

  it("runs the shipping decide(): its maxReplicas caps ours, and a bad key is refused by name", () => {
    // 800 a minute of 1,000 + 200 tokens: 13.3 req/s at ~5 req/s per replica (the example's token
    // rates) is 2.7 replicas of load, 4 at the 70 % target.
    const csv = azureTraceCsv(20, () => 800, { context: 1000, generated: 200 });
    const options = parseSimulateArgs(["--trace", "burst.csv", "--policy", "ours", "--warmup-minutes", "0"]);
    // (The Deployment starts at the opening's 3 replicas of work at 100 %.)
    const capped = runTrace({ ...options, metadata: { maxReplicas: "3" } }, csv, undefined).result;
    expect(capped.policies[0]?.peakReplicas).toBeLessThanOrEqual(3);
    const free = runTrace(options, csv, undefined).result;
    expect(free.policies[0]?.peakReplicas).toBeGreaterThan(3);
    expect(() => runTrace({ ...options, metadata: { targetUtilization: "0.5" } }, csv, undefined)).toThrow(
      /unknown key "targetUtilization" \(did you mean "targetUtilisation"\?\)/,
    );
  });

  it("ours-warm-node runs the headroom role too: placeholder pods hold a spare GPU node, which is paid for", () => {
    // A Thursday afternoon (inside the default warm window), steady traffic.
    const csv = azureTraceCsv(60, () => 120, { context: 1000, generated: 200 }, "2023-11-16 14:00:00");
    const options = parseSimulateArgs([
      "--trace",
      "steady.csv",
      "--policy",
      "ours",
      "--policy",
      "ours-warm-node",
    ]);
    const result = runTrace(options, csv, undefined).result;
    const [ours, warm] = result.policies;
    if (!ours || !warm) throw new Error("missing results");
    expect(warm.requests).toBe(ours.requests);
    // One spare node for the whole hour: about one GPU-hour more.
    expect(warm.gpuHours - ours.gpuHours).toBeGreaterThan(0.8);
    expect(warm.gpuHours - ours.gpuHours).toBeLessThan(1.2);
  });
});
