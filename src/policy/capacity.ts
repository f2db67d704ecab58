/**
 * The replica's real capacity, learned from what vLLM reports while the replicas work.
 *
 * `requestsPerSecondPerReplica` is a guess (a user measures it once, on other prompts, on another
 * vLLM version); the drain rule divides every demand by it, so a guess twice too high halves the
 * fleet and one twice too low doubles the bill. The configured value is the prior; two kinds of
 * evidence move the estimate, and it always stays within [prior × minFactor, prior × maxFactor]:
 *
 * - **saturated**: requests have waited at the pods at every poll for a whole rate window while
 *   every replica was ready (nothing starting), so the replicas served as fast as they can: first
 *   tokens per second per ready replica *is* the capacity. A single poll that finds a few waiting
 *   is not enough: at ordinary load it would read the load per replica as the capacity, and each
 *   such sample would lower the estimate, add replicas, and lower the next sample (a ratchet).
 * - **engine activity**: a GPU metric that measures the share of the engine's throughput in use
 *   (DCGM_FI_PROF_GR_ENGINE_ACTIVE, not the busy-time DCGM_FI_DEV_GPU_UTIL) gives capacity =
 *   served per replica ÷ activity at any load — the only way to find out that a guess is too low
 *   while the headroom keeps the replicas from ever saturating.
 *
 * Samples enter a running average (time constant `timeConstantMs`), so one odd poll moves the
 * estimate only a little. Pure: everything comes in as arguments and goes out in the result.
 */

export interface CapacityMemory {
  /** Requests per second one replica serves at 100 %. */
  readonly perReplica: number;
  /** When the last sample entered the average. */
  readonly atMs: number;
  /** Samples averaged so far (explains how much the estimate rests on). */
  readonly samples: number;
  /** Since when requests have waited at the pods at every poll (saturation must fill a rate window). */
  readonly saturatedSinceMs?: number;
}

export interface CapacitySettings {
  readonly enabled: boolean;
  /** The configured requestsPerSecondPerReplica. */
  readonly prior: number;
  readonly minFactor: number;
  readonly maxFactor: number;
  readonly timeConstantMs: number;
  /** The rate window: a served rate is a saturated throughput only if saturation lasted this long. */
  readonly rateWindowMs: number;
}

export interface CapacityEvidence {
  /** First tokens per second over the rate window, all pods. */
  readonly servedPerSecond: number | undefined;
  readonly readyReplicas: number | undefined;
  /** Replicas starting (Pending or loading): the rate window mixes two fleet sizes. */
  readonly startingReplicas: number | undefined;
  /** Requests waiting inside vLLM (all pods). */
  readonly waitingAtPods: number | undefined;
  /** Share of engine throughput in use, 0–1, only when the GPU metric measures it. */
  readonly engineActive?: number | undefined;
}

export interface LearnedCapacity {
  readonly perReplica: number;
  readonly memory: CapacityMemory | undefined;
  /** Why the capacity is what it is, for the decision's reasons (absent when it is the prior, unlearnt). */
  readonly note?: string;
}

/** Below this engine activity the ratio is mostly noise (prefill bursts, one sequence decoding). */
const MIN_ACTIVITY = 0.25;

const round2 = (n: number): number => Math.round(n * 100) / 100;

interface Sample {
  readonly perReplica: number;
  readonly why: string;
}

function saturated(evidence: CapacityEvidence): boolean {
  const { readyReplicas: ready, waitingAtPods: waiting, startingReplicas: starting } = evidence;
  return ready !== undefined && ready >= 1 && waiting !== undefined && waiting >= ready && starting === 0;
}

function sampleOf(evidence: CapacityEvidence, saturatedForWindow: boolean): Sample | undefined {
  const { servedPerSecond: served, readyReplicas: ready, startingReplicas: starting } = evidence;
  if (served === undefined || ready === undefined || ready < 1 || !(served > 0)) return undefined;
  if (starting === undefined || starting > 0) return undefined;
  const perPod = served / ready;
  const waiting = evidence.waitingAtPods;
  if (saturatedForWindow)
    return {
      perReplica: perPod,
      why: `${round2(served)} req/s served by ${ready} ready replicas, saturated for the whole rate window (${waiting} waiting at the pods)`,
    };
  const active = evidence.engineActive;
  if (active !== undefined && active >= MIN_ACTIVITY && active <= 1)
    return {
      perReplica: perPod / active,
      why: `${round2(perPod)} req/s per replica at ${Math.round(active * 100)} % engine activity`,
    };
  return undefined;
}

/** The capacity to plan with now, and the memory for the next poll. */
export function learnCapacity(
  settings: CapacitySettings,
  evidence: CapacityEvidence,
  memory: CapacityMemory | undefined,
  nowMs: number,
): LearnedCapacity {
  const { prior } = settings;
  if (!settings.enabled) return { perReplica: prior, memory: undefined };
  const low = prior * settings.minFactor;
  const high = prior * settings.maxFactor;
  const clamp = (n: number) => Math.min(high, Math.max(low, n));
  const since = saturated(evidence) ? (memory?.saturatedSinceMs ?? nowMs) : undefined;
  const sample = sampleOf(evidence, since !== undefined && nowMs - since >= settings.rateWindowMs);
  let next: CapacityMemory | undefined = memory;
  if (sample) {
    const before = memory?.perReplica ?? prior;
    const elapsed = memory ? Math.max(0, nowMs - memory.atMs) : settings.timeConstantMs;
    // An exponential average over time, not over polls: a slower poll weighs each sample more.
    const weight = 1 - Math.exp(-elapsed / Math.max(1, settings.timeConstantMs));
    next = {
      perReplica: clamp(before + weight * (sample.perReplica - before)),
      atMs: nowMs,
      samples: (memory?.samples ?? 0) + 1,
    };
  }
  if (next) {
    const { saturatedSinceMs: _, ...rest } = next;
    next = since === undefined ? rest : { ...rest, saturatedSinceMs: since };
  } else if (since !== undefined)
    next = { perReplica: prior, atMs: nowMs, samples: 0, saturatedSinceMs: since };
  if (!next || next.samples === 0) return { perReplica: prior, memory: next };
  const perReplica = clamp(next.perReplica);
  const bound =
    perReplica <= low + 1e-9
      ? ` (held at the lower bound ×${settings.minFactor})`
      : perReplica >= high - 1e-9
        ? ` (held at the upper bound ×${settings.maxFactor})`
        : "";
  const latest = sample ? `; latest: ${sample.why}` : "";
  return {
    perReplica,
    memory: next,
    note: `learned capacity ${round2(perReplica)} req/s per replica (configured ${prior}, ${next.samples} sample(s))${bound}${latest}`,
  };
}
