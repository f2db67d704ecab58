/**
 * Why a round's tail is what it is: of the calls at or above the round's p99, how many were in
 * flight mostly through a full collection of the measured server, through its other pauses
 * (scavenges, weak callbacks), through the load generator's own pauses (they stop every call it
 * is timing, whichever server is measured), or through none of these. A round's p99 is set by its
 * few dozen slowest calls, so this says whether a round read high because of the server's
 * collector, because of the instrument, or for neither (the machine, or the server's work per
 * call). Being in flight through a pause is not proof that the pause made the call slow: a call is
 * put under the kind of pause it spent the most milliseconds in, so that a 0.5 ms scavenge does
 * not take the blame for a call that also sat through a 6 ms pause of the generator.
 */
import type { GcEvent } from "./gc-summary.ts";
import { percentile } from "./rounds.ts";

export interface SlowCalls {
  /** The round's p99, in ms: every call at least this slow is counted below. */
  readonly p99Ms: number;
  readonly calls: number;
  /** Mostly in flight through the server's full collections, or the pauses that start their marking. */
  readonly serverFull: number;
  /** Mostly in flight through the server's scavenges and other short pauses (weak callbacks). */
  readonly serverScavenge: number;
  /** Mostly in flight through the generator's own pauses. */
  readonly generator: number;
  /** In flight through none of these pauses. */
  readonly other: number;
}

export interface TimedCalls {
  /** When each call was sent, in ms since the epoch. */
  readonly startsMs: readonly number[];
  /** Each call's latency in ms, in the same order. */
  readonly latenciesMs: readonly number[];
}

/** Milliseconds of the call's flight [start, start + latency] that the pauses cover (summed). */
function pausedDuring(pauses: readonly GcEvent[], startMs: number, latencyMs: number): number {
  let ms = 0;
  for (const pause of pauses) {
    const from = Math.max(pause.atMs, startMs);
    const to = Math.min(pause.atMs + pause.pauseMs, startMs + latencyMs);
    if (to > from) ms += to - from;
  }
  return ms;
}

const isFull = (pause: GcEvent) => pause.kind === "full" || pause.kind === "incremental";

/**
 * The round's slowest calls (at or above its p99), each counted once, under the kind of pause it
 * spent the most of its flight in; on a tie, the server's full collections, then its other pauses,
 * then the generator's.
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
  const full = serverPauses.filter(isFull);
  const short = serverPauses.filter((pause) => !isFull(pause));
  const counts = { calls: 0, serverFull: 0, serverScavenge: 0, generator: 0, other: 0 };
  for (let i = 0; i < latenciesMs.length; i++) {
    const latencyMs = latenciesMs[i]!;
    if (latencyMs < p99Ms) continue;
    const startMs = startsMs[i]!;
    const inFull = pausedDuring(full, startMs, latencyMs);
    const inShort = pausedDuring(short, startMs, latencyMs);
    const inGenerator = pausedDuring(generatorPauses, startMs, latencyMs);
    const most = Math.max(inFull, inShort, inGenerator);
    counts.calls++;
    if (most === 0) counts.other++;
    else if (inFull === most) counts.serverFull++;
    else if (inShort === most) counts.serverScavenge++;
    else counts.generator++;
  }
  return { p99Ms, ...counts };
}
