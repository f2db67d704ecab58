import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { describe, expect, it } from "vitest";
import { containerNodeOptions, deploymentNodeOptions } from "../../bench/support/deployment-runtime.ts";
import { ANSWER_THREAD_WORST_CASE_MIB } from "../../src/server/answer-thread/host.ts";
import { QUERY_THREAD_WORST_CASE_MIB } from "../../src/sources/prometheus/query-thread.ts";
import { DEPLOY_DIR, find, kustomizationDirs, renderKustomization } from "./support/kustomize.ts";

/**
 * Room outside V8's heap: compiled code, thread stacks, gRPC and HTTP buffers. Measured once, at
 * 4,000 ScaledObjects under `npm run bench:grpc`: RSS 231 MiB with 121 MiB of heap committed (from
 * the scaler's `--trace-gc`), so ~110 MiB; the rest of the margin is for bursts of large requests,
 * whose buffers V8's flags do not bound.
 */
const NON_HEAP_MIB = 192;
/**
 * V8 grows a small old space reluctantly: at 160 MiB it ran a full GC every ~100 ms under the
 * bench's default load, at 384 MiB a poll's p99 reached 241 ms under 10,000 ScaledObjects.
 */
const MIN_OLD_SPACE_MIB = 768;

function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(match[1]) * (match[2] === "Gi" ? 1024 : 1);
}

/** V8's own heap limit when NODE_OPTIONS carries these flags, as the container passes them. */
function heapLimitMiB(nodeOptions: string): number {
  const out = execFileSync(process.execPath, ["-p", "v8.getHeapStatistics().heap_size_limit"], {
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
  });
  return Number(out) / 2 ** 20;
}

/** The old-space limit Node applies: the last --max-old-space-size wins. */
function oldSpaceMiB(nodeOptions: string): number {
  const values = [...nodeOptions.matchAll(/--max-old-space-size=(\d+)/g)].map((match) => Number(match[1]));
  return values.at(-1) ?? Number.NaN;
}

const scalerContainers = kustomizationDirs().flatMap((dir) =>
  find<IDeployment>(renderKustomization(dir).manifests, "Deployment", "keda-llm-scaler").map((deployment) => {
    const container = deployment.spec?.template.spec?.containers.find((c) => c.name === "scaler");
    if (!container) throw new Error(`${dir}: the keda-llm-scaler Deployment has no scaler container`);
    return { dir, container };
  }),
);

describe("the scaler container's heap", () => {
  it("is rendered by every kustomization that deploys the scaler", () => {
    expect(scalerContainers.map((s) => s.dir)).toContain("deploy/base");
  });

  it.each(scalerContainers)(
    "$dir: V8's whole heap limit and the query and answer threads' worst cases fit the memory limit with room for the rest",
    ({ container }) => {
      const options = containerNodeOptions(container) ?? "";
      expect(oldSpaceMiB(options), "--max-old-space-size").toBeGreaterThanOrEqual(MIN_OLD_SPACE_MIB);
      // Without --max-semi-space-size V8 sizes the young generation up to 192 MB next to this old
      // space: the heap limit then outgrows the container and an overrun is an OOM kill.
      const limit = mebibytes(String(container.resources?.limits?.memory));
      // The Prometheus query thread's heap is bounded by what it reads, not by V8 (query-thread.ts);
      // the answer thread's by its table (answer-thread/host.ts).
      expect(
        heapLimitMiB(options) + QUERY_THREAD_WORST_CASE_MIB + ANSWER_THREAD_WORST_CASE_MIB + NON_HEAP_MIB,
      ).toBeLessThanOrEqual(limit);
    },
  );

  it("is what `npm run bench:grpc` runs both servers with", () => {
    const base = scalerContainers.find((s) => s.dir === "deploy/base");
    const options = base && containerNodeOptions(base.container);
    expect(deploymentNodeOptions(join(DEPLOY_DIR, "base/deployment.yaml"))).toBe(options);
  });
});
