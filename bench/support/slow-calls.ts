/**
 * Why a round's tail is what it is: of the calls at or above the round's p99, how many were in
 * flight while the measured server was paused by a full collection, by a scavenge, or while the
 * load generator itself was paused (its own collections stop every call it is timing, whichever
 * server is measured), and how many overlapped none of these. A round's p99 is set by its few
 * dozen slowest calls, so this says whether a round read high because of the server's collector,
 * because of the instrument, or for neither (the machine, or the server's work per call).
 */
import type { GcEvent } from "./gc-summary.ts";
import { percentile } from "./rounds.ts";

export interface SlowCalls {
  /** The round's p99, in ms: every call at least this slow is counted below. */
  readonly p99Ms: number;
  readonly calls: number;
  /** In flight during a full collection of the server, or the pause that started its marking. */
  readonly serverFull: number;
  /** In flight during one of the server's scavenges (and none of its full collections). */
  readonly serverScavenge: number;
  /** In flight during one of the generator's own pauses (and none of the server's). */
  readonly generator: number;
  /** In flight during none of these pauses. */
  readonly other: number;
}

export interface TimedCalls {
  /** When each call was sent, in ms since the epoch. */
  readonly startsMs: readonly number[];
  /** Each call's latency in ms, in the same order. */
  readonly latenciesMs: readonly number[];
}

/** Whether a pause overlaps the call's flight [start, start + latency]. */
function overlaps(pause: GcEvent, startMs: number, latencyMs: number): boolean {
  return pause.atMs < startMs + latencyMs && pause.atMs + pause.pauseMs > startMs;
}

/**
 * The round's slowest calls (at or above its p99), each counted once, under the first cause that
 * overlaps it in this order: the server's full collections, its scavenges, the generator's pauses.
 */
export function slowCalls(
  round: TimedCalls,
  serverPauses: readonly GcEvent[],
  generatorPauses: readonly GcEvent[],
): SlowCalls {
  const { startsMs, latenciesMs } = round;
  if (startsMs.length !== latenciesMs.length)
    throw new Error(`${startsMs.length} call starts for ${latenciesMs.length} latencies`);
  const p99Ms = percentile(Float64Array.from(latenciesMs).sort(), 0.99);
  const full = serverPauses.filter((pause) => pause.kind !== "scavenge");
  const scavenges = serverPauses.filter((pause) => pause.kind === "scavenge");
  const counts = { calls: 0, serverFull: 0, serverScavenge: 0, generator: 0, other: 0 };
  for (let i = 0; i < latenciesMs.length; i++) {
    const latencyMs = latenciesMs[i]!;
    if (latencyMs < p99Ms) continue;
    const startMs = startsMs[i]!;
    const during = (pause: GcEvent) => overlaps(pause, startMs, latencyMs);
    counts.calls++;
    if (full.some(during)) counts.serverFull++;
    else if (scavenges.some(during)) counts.serverScavenge++;
    else if (generatorPauses.some(during)) counts.generator++;
    else counts.other++;
  }
  return { p99Ms, ...counts };
}
