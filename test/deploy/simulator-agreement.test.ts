import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { oursDeploymentFromYaml } from "../../src/sim/ours-config.ts";
import { OURS_REALTIME_SCALED_OBJECT } from "../../src/sim/policies.ts";
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
