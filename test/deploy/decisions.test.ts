import { describe, expect, it } from "vitest";
import { externalTriggersIn } from "../../src/config/scaledobject.ts";
import { parseScalerSpec } from "../../src/config/spec.ts";
import { decide } from "../../src/policy/decide.ts";
import type { SignalReadings } from "../../src/readings/signal-table.ts";
import { renderKustomization } from "./support/kustomize.ts";

/**
 * What the shipped ScaledObjects make the scaler decide, through the same decide() the server
 * calls: the warm floor of the real-time example and the headroom placeholders, at instants that
 * tell (an APAC service: Singapore business hours, pre-warm 15 min, weekends at zero, month-end peak).
 */

function spec(example: string, name: string) {
  const trigger = externalTriggersIn(renderKustomization(`deploy/examples/${example}`).yaml).find(
    (t) => t.scaledObject.name === name,
  );
  if (!trigger) throw new Error(`no trigger for ${name}`);
  return parseScalerSpec(trigger.scaledObject, trigger.metadata, {});
}

function idle(atMs: number): SignalReadings {
  const ok = (value: number) => ({ ok: true as const, value, observedAtMs: atMs });
  return {
    queueBacklog: ok(0),
    vllmWaiting: ok(0),
    vllmRunning: ok(0),
    replicasDesired: ok(0),
    replicasReady: ok(0),
    replicasUnavailable: ok(0),
  };
}

function answerAt(example: string, name: string, at: string): { replicas: number; active: boolean } {
  const nowMs = Date.parse(at);
  const { decision } = decide(spec(example, name), idle(nowMs), nowMs);
  return { replicas: decision.metricValue, active: decision.active };
}

describe("the real-time example's warm floor (Asia/Singapore Mon-Fri 08:00-23:00)", () => {
  it.each([
    ["Monday 07:40, before the pre-warm", "2026-11-23T07:40:00+08:00", 0],
    ["Monday 07:50, pre-warmed 15 minutes early", "2026-11-23T07:50:00+08:00", 1],
    ["Tuesday 23:20, inside the 30-minute close delay", "2026-11-24T23:20:00+08:00", 1],
    ["Tuesday 23:40, after it", "2026-11-24T23:40:00+08:00", 0],
    ["Saturday 10:00", "2026-11-28T10:00:00+08:00", 0],
    [
      "Sunday 21:00 before the month's last weekday (from 20:00 the day before)",
      "2026-11-29T21:00:00+08:00",
      2,
    ],
  ])("with no traffic, %s: %i replica(s)", (_, at, replicas) => {
    expect(answerAt("realtime", "vllm-realtime", at)).toEqual({ replicas, active: replicas > 0 });
  });
});

describe("the warm node buffer follows the serving side", () => {
  it.each([
    ["Monday 07:40", "2026-11-23T07:40:00+08:00", 0],
    ["a weekday morning, pre-warmed", "2026-11-24T07:50:00+08:00", 1],
    ["Tuesday 23:20, close delay", "2026-11-24T23:20:00+08:00", 1],
    ["Tuesday 23:40", "2026-11-24T23:40:00+08:00", 0],
    ["a Saturday", "2026-11-28T10:00:00+08:00", 0],
    ["the month-end eve (one spare node, whatever the serving floor)", "2026-11-29T21:00:00+08:00", 1],
  ])("%s: %i placeholder(s)", (_, at, placeholders) => {
    expect(answerAt("headroom", "gpu-headroom", at)).toEqual({
      replicas: placeholders,
      active: placeholders > 0,
    });
  });
});

describe("the real-time example under load", () => {
  it("answers 3 for 200 queued, 4 waiting and 30 running on one ready replica (1.7 replicas / 0.7)", () => {
    const nowMs = Date.parse("2026-11-24T09:05:00+08:00");
    const ok = (value: number) => ({ ok: true as const, value, observedAtMs: nowMs });
    const { decision } = decide(
      spec("realtime", "vllm-realtime"),
      {
        queueBacklog: ok(200),
        vllmWaiting: ok(4),
        vllmRunning: ok(30),
        replicasDesired: ok(1),
        replicasReady: ok(1),
        replicasUnavailable: ok(0),
      },
      nowMs,
    );
    expect(decision.metricValue).toBe(3);
    expect(decision.drivingFactor).toBe("queue");
  });
});

describe("batch and dev have no floor", () => {
  it.each([
    ["batch", "vllm-batch"],
    ["dev", "vllm-dev"],
  ])("%s sits at zero on a weekday morning without work", (example, name) => {
    expect(answerAt(example, name, "2026-11-24T10:00:00+08:00")).toEqual({ replicas: 0, active: false });
  });
});
