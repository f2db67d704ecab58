import { parseScalerSpec, type ScalerSpec } from "../../src/config/spec.ts";
import { decide, type PolicyMemory } from "../../src/policy/decide.ts";
import { Decider } from "../../src/policy/decider.ts";
import type { Decision } from "../../src/policy/decision.ts";
import type { FailureKind, Reading } from "../../src/readings/reading.ts";
import type { SignalReadings } from "../../src/readings/signal-table.ts";

/** A spec from scalerMetadata over no environment: the documented defaults apply. */
export function specOf(metadata: Record<string, string> = {}): ScalerSpec {
  return parseScalerSpec({ name: "vllm", namespace: "inference" }, metadata, {});
}

export const ok = (value: number, observedAtMs = 0): Reading => ({ ok: true, value, observedAtMs });

export const broken = (message = "connect ECONNREFUSED", kind: FailureKind = "unreachable"): Reading => ({
  ok: false,
  failure: { source: "prometheus", kind, message },
});

/** What the Prometheus source answers when no pod exports the series (e.g. scaled to zero). */
export const empty = (): Reading => broken("no pods of Deployment vllm report it", "empty");

export const at = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad instant ${iso}`);
  return ms;
};

export type Values = Partial<Record<keyof SignalReadings, number | Reading>>;

/** Plain numbers become readings observed at `nowMs`; `broken()` entries stay failures. */
export function readingsOf(values: Values, nowMs: number): SignalReadings {
  const readings: Record<string, Reading> = {};
  for (const [key, value] of Object.entries(values))
    if (value !== undefined) readings[key] = typeof value === "number" ? ok(value, nowMs) : value;
  return readings as SignalReadings;
}

/** A Monday, 20:00 in Singapore: no schedule in these tests says anything about it unless asked. */
export const NOON = at("2026-11-23T12:00:00Z");

export function decideOnce(spec: ScalerSpec, values: Values, nowMs = NOON, memory?: PolicyMemory): Decision {
  return decide(spec, readingsOf(values, nowMs), nowMs, memory).decision;
}

/** Drives decide() through a timeline of polls, carrying memory through a Decider like the server does. */
export function timeline(
  spec: ScalerSpec,
  startMs: number,
  polls: readonly { afterSeconds: number; readings: Values }[],
): Decision[] {
  const decider = new Decider();
  return polls.map((poll) => {
    const atMs = startMs + poll.afterSeconds * 1000;
    return decider.decide("timeline", spec, readingsOf(poll.readings, atMs), atMs);
  });
}

/** Metadata without the HPA tolerance step or hysteresis, where a test isolates another rule. */
export const PLAIN = { scaleDownBand: "0", stepOverTolerance: "false" };
