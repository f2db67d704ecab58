import * as grpc from "@grpc/grpc-js";
import { describe, expect, it, vi } from "vitest";
import { type HarnessInUse, ONE_PER_MESSAGE, ref, statusOf, useHarness } from "../support/scaler-harness.ts";

/** Every ScaledObject's GetMetrics value and IsActive, as KEDA would read them in one poll. */
async function poll(running: HarnessInUse, names: readonly string[]) {
  const answers: [number, boolean][] = [];
  for (const name of names) {
    const so = ref(name, { ...ONE_PER_MESSAGE });
    const metrics = await running.client.call<{ metricValues: { metricValue: number }[] }>("GetMetrics", {
      scaledObjectRef: so,
      metricName: "llm-desired-replicas",
    });
    const active = await running.client.call<{ result: boolean }>("IsActive", so);
    answers.push([metrics.metricValues[0]?.metricValue ?? Number.NaN, active.result]);
  }
  return answers;
}

describe("KEDA answered on a thread of its own (ANSWER_THREAD)", () => {
  // A TTL longer than the test's pauses below would hide a stale answer: 20 ms, as the harness sets.
  const onThread = useHarness({ ANSWER_THREAD: "true" });
  const onMain = useHarness({});
  const names = ["a", "b", "c", "d"];

  it("is on when asked, and off by default", () => {
    expect(onThread.harness.scaler.answerThread).toBe(true);
    expect(onMain.harness.scaler.answerThread).toBe(false);
  });

  it("gives the answers the main thread gives, and follows the readings as they change", async () => {
    const seen = new Map<number, [number, boolean][]>();
    for (const backlog of [0, 7, 300, 2]) {
      onThread.harness.source.setBacklog(backlog);
      onMain.harness.source.setBacklog(backlog);
      // Past the TTL, so that each poll sees the new readings.
      await new Promise((resolve) => setTimeout(resolve, 60));
      const threaded = await poll(onThread, names);
      expect(threaded).toEqual(await poll(onMain, names));
      seen.set(backlog, threaded);
    }
    // The thread's answers moved with the readings: not one answer kept for all.
    expect(seen.get(300)?.[0]?.[0]).toBeGreaterThan(seen.get(7)?.[0]?.[0] ?? Number.POSITIVE_INFINITY);
  });

  it("refuses a bad manifest as the main thread does", async () => {
    const bad = ref("bad", { maxReplicas: "x" });
    const [threaded, main] = await Promise.all(
      [onThread, onMain].map((running) => statusOf(running.client.call("IsActive", bad))),
    );
    expect(threaded?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(threaded).toEqual(main);
  });

  it("counts its calls in the main thread's /metrics, every one before the scrape", async () => {
    const before = await okCount(onThread, "GetMetrics");
    await poll(onThread, names);
    expect(await okCount(onThread, "GetMetrics")).toBe(before + names.length);
  });
});

describe("the answer thread, once the book has learned KEDA's rhythm", () => {
  // Polls every 1.5 s against a TTL of 1 s: each poll finds the answer it was sent a moment before.
  const running = useHarness({ ANSWER_THREAD: "true", DECISION_TTL_SECONDS: "1" });

  it("answers every poll from the answers the book sent ahead, without asking, and they follow the readings", async () => {
    const { book } = running.harness.scaler;
    const pollEvery = async (times: number) => {
      const answers: [number, boolean][][] = [];
      for (let i = 0; i < times; i++) {
        answers.push(await poll(running, ["steady"]));
        await new Promise((resolve) => setTimeout(resolve, 1500));
      }
      return answers;
    };
    running.harness.source.setBacklog(5);
    await pollEvery(5);
    const decisionOf = vi.spyOn(book, "decisionOf");
    const notePoll = vi.spyOn(book, "notePoll");
    const before = await pollEvery(2);
    running.harness.source.setBacklog(300);
    const after = await pollEvery(2);
    // No call waited for the main thread: every one was answered on the thread and noted.
    expect(decisionOf).not.toHaveBeenCalled();
    expect(notePoll.mock.calls.length).toBeGreaterThanOrEqual(8);
    expect(after.at(-1)?.[0]?.[0]).toBeGreaterThan(before.at(-1)?.[0]?.[0] ?? Number.POSITIVE_INFINITY);
    decisionOf.mockRestore();
    notePoll.mockRestore();
  }, 30_000);
});

async function okCount(running: HarnessInUse, method: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${running.harness.scaler.httpPort}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`keda_llm_scaler_rpc_requests_total{method="${method}",code="OK"}`));
  return line ? Number(line.split(" ")[1]) : 0;
}
