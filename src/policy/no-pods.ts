import type { Reading } from "../readings/reading.ts";
import { type SignalKey, type SignalReadings, signalKeysWhere } from "../readings/signal-table.ts";
import type { RuleFired } from "./decision.ts";

/**
 * Signals that the serving pods themselves export (vLLM, DCGM with pod attribution). With no pod
 * ready, their queries come back empty — that is the state of a Deployment scaled to zero, not a
 * broken source, and treating it as missing data would keep a dev workload awake forever.
 */
const FROM_PODS = signalKeysWhere((a) => a.fromPods);

export interface IdleInterpretation {
  readonly readings: SignalReadings;
  /** The no-ready-pods rule, when the readings were reinterpreted. */
  readonly reasons: readonly RuleFired[];
  /** TTFT P95 was NaN: no request finished prefill in the window, so there is no percentile. */
  readonly ttftWithoutSamples: boolean;
  /** End-to-end latency P95 was NaN in the same way: no request finished in the window. */
  readonly e2eWithoutSamples: boolean;
}

/**
 * A percentile that is `not_a_number` is one over no requests only when its request rate says
 * there were too few; with the rate unknown or high, a NaN is broken data like any other
 * (fail-static holds it).
 */
function percentileWithoutSamples(
  p95: Reading | undefined,
  rate: Reading | undefined,
  minRequestsPerSecond: number,
): boolean {
  const fewRequests = rate?.ok === true && (rate.value === 0 || rate.value < minRequestsPerSecond);
  return p95 !== undefined && !p95.ok && p95.failure.kind === "not_a_number" && fewRequests;
}

/**
 * Reads two kinds of "failure" for what they are:
 * - with kube-state-metrics saying no replica is ready, an `empty` answer from a pod-exported
 *   signal means there is no pod to report it: nothing waits or runs inside vLLM (0), and the
 *   ready-relative signals have nothing to scale from (they abstain on 0 ready replicas);
 * - a TTFT or end-to-end P95 that is `not_a_number` while its request rate is (near) zero is a
 *   percentile over no requests: the signal abstains.
 * Anything else stays a failure for the fail-static rules.
 */
export function interpretIdleReadings(
  readings: SignalReadings,
  minRequestsPerSecond: { readonly ttft: number; readonly e2e: number },
): IdleInterpretation {
  const ready = readings.replicasReady;
  const noPodReady = ready?.ok === true && ready.value === 0;
  const ttftWithoutSamples = percentileWithoutSamples(
    readings.ttftP95Seconds,
    readings.ttftRequestsPerSecond,
    minRequestsPerSecond.ttft,
  );
  const e2eWithoutSamples = percentileWithoutSamples(
    readings.e2eP95Seconds,
    readings.e2eRequestsPerSecond,
    minRequestsPerSecond.e2e,
  );
  if (!noPodReady && !ttftWithoutSamples && !e2eWithoutSamples)
    return { readings, ttftWithoutSamples, e2eWithoutSamples, reasons: [] };

  const result: Partial<Record<SignalKey, Reading>> = { ...readings };
  const reread: SignalKey[] = [];
  if (noPodReady && ready?.ok)
    for (const key of FROM_PODS) {
      const reading = readings[key];
      if (reading && !reading.ok && reading.failure.kind === "empty") {
        result[key] = { ok: true, value: 0, observedAtMs: ready.observedAtMs };
        reread.push(key);
      }
    }
  if (ttftWithoutSamples && !reread.includes("ttftP95Seconds")) delete result.ttftP95Seconds;
  if (e2eWithoutSamples && !reread.includes("e2eP95Seconds")) delete result.e2eP95Seconds;
  return {
    readings: result,
    ttftWithoutSamples: ttftWithoutSamples && !reread.includes("ttftP95Seconds"),
    e2eWithoutSamples: e2eWithoutSamples && !reread.includes("e2eP95Seconds"),
    reasons:
      reread.length > 0
        ? [
            {
              rule: "no-ready-pods",
              note: `no replica is ready, so the pods' own metrics are empty: read ${reread.join(", ")} as 0 (nothing waits or runs inside vLLM)`,
            },
          ]
        : [],
  };
}
