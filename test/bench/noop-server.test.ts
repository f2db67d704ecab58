import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { KedaLikeClient, ref } from "../support/scaler-harness.ts";

const NOOP_SERVER = join(import.meta.dirname, "../../bench/support/noop-server.ts");

const running = new Set<ChildProcess>();
afterEach(async () => {
  for (const child of running) {
    child.kill("SIGKILL");
    if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
  }
  running.clear();
});

/** Starts the bench's no-op server as the bench does (Node's own type stripping) and connects to it. */
async function startNoop(env: Record<string, string>): Promise<KedaLikeClient> {
  const child = spawn(process.execPath, [NOOP_SERVER], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  running.add(child);
  const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
  const { grpcPort } = JSON.parse(line) as { grpcPort: number };
  return new KedaLikeClient(`127.0.0.1:${grpcPort}`);
}

describe("the bench's no-op server (bench:grpc's floor)", () => {
  it("answers constants", async () => {
    const client = await startNoop({});
    try {
      expect(await client.call("IsActive", ref("a"))).toEqual({ result: true });
      const metrics = await client.call<{ metricValues: { metricValue: string }[] }>("GetMetrics", {
        scaledObjectRef: ref("a"),
        metricName: "llm-desired-replicas",
      });
      expect(Number(metrics.metricValues[0]?.metricValue)).toBe(1);
    } finally {
      client.close();
    }
  });

  // --stand-in-work-us: the stand-in's answers come no sooner than its work allows. A lower bound
  // on time only: a busy machine can make a call slower, never faster.
  it("with NOOP_WORK_US, holds each GetMetrics and IsActive that long before it answers", async () => {
    const workMs = 40;
    const client = await startNoop({ NOOP_WORK_US: String(workMs * 1000) });
    try {
      for (const [method, request] of [
        ["IsActive", ref("a")],
        ["GetMetrics", { scaledObjectRef: ref("a"), metricName: "llm-desired-replicas" }],
      ] as const) {
        const started = performance.now();
        await client.call(method, request);
        expect(performance.now() - started, method).toBeGreaterThanOrEqual(workMs);
      }
    } finally {
      client.close();
    }
  });
});
