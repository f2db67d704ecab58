import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_MODEL } from "../../src/sim/model.ts";
import { oursDeploymentFromYaml } from "../../src/sim/ours-config.ts";
import { OURS_REALTIME_METADATA, OURS_REALTIME_SCALED_OBJECT } from "../../src/sim/policies.ts";
import { DEPLOY_DIR } from "./support/kustomize.ts";

/**
 * The simulator's built-in "ours" claims to be deploy/examples/realtime's ScaledObject. If either
 * changes alone, the simulator's figures stop describing what is shipped: this keeps them equal.
 */
describe("the simulator's `ours` and deploy/examples/realtime", () => {
  it("have the same polling, cooldown, bounds, HPA behaviour and fallback", () => {
    const file = join(DEPLOY_DIR, "examples/realtime/scaledobject.yaml");
    const { metadata: _, ...shipped } = oursDeploymentFromYaml(readFileSync(file, "utf8"), file);
    expect(shipped).toEqual(OURS_REALTIME_SCALED_OBJECT);
  });
});

describe("the simulator's default model and the realtime example's Deployment", () => {
  it("run the same batch size, and ours copies the example's trigger metadata (its capacity guess included)", () => {
    const deployment = readFileSync(join(DEPLOY_DIR, "examples/realtime/vllm-deployment.yaml"), "utf8");
    expect(deployment).toContain(`--max-num-seqs=${DEFAULT_MODEL.replica.maxNumSeqs}`);
    expect(deployment).toContain("meta-llama/Llama-3.1-8B-Instruct");
    const file = join(DEPLOY_DIR, "examples/realtime/scaledobject.yaml");
    const { metadata } = oursDeploymentFromYaml(readFileSync(file, "utf8"), file);
    for (const [key, value] of Object.entries(OURS_REALTIME_METADATA)) expect(metadata[key], key).toBe(value);
  });
});
