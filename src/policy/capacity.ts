/**
 * The replica's real capacity, learned from what vLLM reports.
 *
 * `requestsPerSecondPerReplica` is a guess (a user measures it once, on other prompts, on another
 * vLLM version); the drain rule divides every demand by it, so a guess twice too high halves the
 * fleet and one twice too low doubles the bill. Requests per second are no property of a replica:
 * a replica prefills so many prompt tokens and decodes so many tokens per second (a property of
 * model and GPU), and how many requests that makes depends on the traffic's tokens per request.
 * Two kinds of evidence shape the capacity used:
 *
 * - **tokens per request** (with `prefillTokensPerSecondPerReplica` and
 *   `decodeTokensPerSecondPerReplica`): vLLM's prompt and generation token counters over the
 *   request rate give the traffic's tokens per request at any load, so capacity =
 *   1 ÷ (prompt tokens ÷ prefill rate + generated tokens ÷ decode rate). This follows the traffic's
 *   mix (long prompts, short answers, reasoning) instead of the mix the user once measured.
 * - **saturation**: requests have waited at the pods (at least one per ready replica) at every poll
 *   for a whole rate window, with the same number of replicas ready all along, so those replicas
 *   served as fast as they can: first tokens per second per ready replica *is* the capacity.
 *   Replicas still starting serve nothing, so a scale-up under way does not spoil the sample —
 *   which matters, because a capacity guessed too high shows exactly then, while nodes start. Its ratio to the token-based capacity
 *   (or to requestsPerSecondPerReplica) is a correction factor that stays within
 *   [capacityMinFactor, capacityMaxFactor]. A single poll that finds a few waiting is not enough:
 *   at ordinary load it would read the load per replica as the capacity (a ratchet).
 *
 * No GPU metric is evidence: DCGM's utilisation fields (GPU_UTIL, PROF_GR_ENGINE_ACTIVE) are
 * ratios of time an engine is busy, and its profiling ratios (SM activity, tensor pipe, DRAM)
 * measure hardware units, none of them the share of the replica's token throughput in use.
 *
 * The capacity rises only on a calm poll (every backlog reading fresh and zero): missing, stale
 * or odd evidence, or requests waiting, never raise it, so they never lower the answer. Samples
 * enter running averages over time (`timeConstantMs`), so one odd poll moves it only a little.
 * Pure: everything comes in as arguments and goes out in the result.
 */

export interface CapacityMemory {
  /** Requests per second one replica serves at 100 % for the traffic's tokens per request (running average). */
  readonly mixPerReplica?: number;
  /** When the last tokens-per-request sample entered the average. */
  readonly mixAtMs?: number;
  /** The traffic's latest tokens per request, for the reasons. */
  readonly mix?: { readonly prompt: number; readonly generated: number };
  /** Saturation's correction factor on the prior (running average; 1 = the prior is right). */
  readonly factor: number;
  /** When the last saturation sample entered the average. */
  readonly atMs: number;
  /** Saturation samples averaged so far. */
  readonly samples: number;
  /** Since when requests have waited at the pods at every poll (saturation must fill a rate window). */
  readonly saturatedSinceMs?: number;
  /** The ready replicas all along that saturation: a change restarts it (the window would mix fleets). */
  readonly saturatedReady?: number;
}

export interface TokenRates {
  /** Prompt tokens per second one replica prefills. */
  readonly prefill: number;
  /** Generated tokens per second of one replica with a full batch. */
  readonly decode: number;
}

export interface CapacitySettings {
  readonly enabled: boolean;
  /** The configured requestsPerSecondPerReplica. */
  readonly prior: number;
  /** The configured token rates of one replica; absent: requests per second are the prior. */
  readonly tokenRates?: TokenRates | undefined;
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
  /** Requests waiting inside vLLM (all pods). */
  readonly waitingAtPods: number | undefined;
  /** Prompt tokens per second over the rate window, all pods. */
  readonly promptTokensPerSecond?: number | undefined;
  /** Generated tokens per second over the rate window, all pods. */
  readonly generationTokensPerSecond?: number | undefined;
  /** Every backlog reading the drain rule adds is fresh and zero: the only state a capacity may rise in. */
  readonly calm: boolean;
}

export interface LearnedCapacity {
  readonly perReplica: number;
  readonly memory: CapacityMemory | undefined;
  /** Why the capacity is what it is, for the decision's reasons (absent when it is the prior, unlearnt). */
  readonly note?: string;
}

/**
 * Fewer requests than this in a rate window give tokens-per-request figures that are mostly
 * noise (one long prompt moves them); the last average stands instead.
 */
const MIN_REQUESTS_PER_WINDOW = 30;

const round2 = (n: number): number => Math.round(n * 100) / 100;
const round0 = (n: number): string => Math.round(n).toLocaleString("en-US");

const finiteAtLeast = (n: number | undefined, low: number): n is number =>
  n !== undefined && Number.isFinite(n) && n >= low;

function saturated(evidence: CapacityEvidence): boolean {
  const { readyReplicas: ready, waitingAtPods: waiting } = evidence;
  return finiteAtLeast(ready, 1) && Number.isInteger(ready) && finiteAtLeast(waiting, 0) && waiting >= ready;
}

/** The exponential average's weight for a sample `elapsedMs` after the last one (over time, not polls). */
function weightAfter(elapsedMs: number, timeConstantMs: number): number {
  return 1 - Math.exp(-Math.max(0, elapsedMs) / Math.max(1, timeConstantMs));
}

/** Tokens per request of the traffic over the rate window, if enough requests were served to tell. */
function mixOf(
  evidence: CapacityEvidence,
  rateWindowMs: number,
): { prompt: number; generated: number } | undefined {
  const {
    servedPerSecond: served,
    promptTokensPerSecond: prompt,
    generationTokensPerSecond: generated,
  } = evidence;
  if (!finiteAtLeast(served, 0) || served * (rateWindowMs / 1000) < MIN_REQUESTS_PER_WINDOW) return undefined;
  if (!finiteAtLeast(prompt, 0) || !finiteAtLeast(generated, 0) || prompt + generated <= 0) return undefined;
  return { prompt: prompt / served, generated: generated / served };
}

/** Requests per second one replica serves at 100 % for this many tokens per request. */
export function requestsPerSecondFor(rates: TokenRates, mix: { prompt: number; generated: number }): number {
  return 1 / (mix.prompt / rates.prefill + mix.generated / rates.decode);
}

/** The running average of the token-based capacity, which rises only on calm polls. */
function nextMix(
  settings: CapacitySettings,
  evidence: CapacityEvidence,
  memory: CapacityMemory | undefined,
  nowMs: number,
): Pick<CapacityMemory, "mixPerReplica" | "mixAtMs" | "mix"> {
  const kept = {
    ...(memory?.mixPerReplica !== undefined ? { mixPerReplica: memory.mixPerReplica } : {}),
    ...(memory?.mixAtMs !== undefined ? { mixAtMs: memory.mixAtMs } : {}),
    ...(memory?.mix ? { mix: memory.mix } : {}),
  };
  const rates = settings.tokenRates;
  if (!rates) return kept;
  const mix = mixOf(evidence, settings.rateWindowMs);
  if (!mix) return kept;
  const sample = requestsPerSecondFor(rates, mix);
  const before = memory?.mixPerReplica;
  // The first sample replaces the configured requests per second outright: the token rates are
  // the better prior, unless requests wait (then the lower of the two, never a rise).
  const averaged =
    before === undefined
      ? sample
      : before + weightAfter(nowMs - (memory?.mixAtMs ?? nowMs), settings.timeConstantMs) * (sample - before);
  const next = evidence.calm ? averaged : Math.min(averaged, before ?? settings.prior);
  return { mixPerReplica: next, mixAtMs: nowMs, mix };
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
  const mixPart = nextMix(settings, evidence, memory, nowMs);
  const base = mixPart.mixPerReplica ?? prior;
  const ready = evidence.readyReplicas;
  const continues = memory?.saturatedSinceMs !== undefined && memory.saturatedReady === ready;
  const since = saturated(evidence) ? (continues ? memory?.saturatedSinceMs : nowMs) : undefined;
  const saturatedForWindow = since !== undefined && nowMs - since >= settings.rateWindowMs;
  let factor = memory?.factor ?? 1;
  let atMs = memory?.atMs ?? nowMs;
  let samples = memory?.samples ?? 0;
  let saturationWhy: string | undefined;
  const served = evidence.servedPerSecond;
  if (saturatedForWindow && finiteAtLeast(served, 0) && served > 0 && finiteAtLeast(ready, 1)) {
    const sample = served / ready / base;
    const elapsed = memory && samples > 0 ? nowMs - memory.atMs : settings.timeConstantMs;
    const averaged = factor + weightAfter(elapsed, settings.timeConstantMs) * (sample - factor);
    // Requests wait by definition here: a saturated sample may lower the capacity, never raise it.
    factor = Math.max(settings.minFactor, Math.min(factor, averaged));
    atMs = nowMs;
    samples += 1;
    saturationWhy = `${round2(served)} req/s served by ${ready} ready replicas, saturated for the whole rate window (${evidence.waitingAtPods} waiting at the pods)`;
  }
  const learnt = mixPart.mixPerReplica !== undefined || samples > 0;
  const next: CapacityMemory | undefined =
    learnt || since !== undefined
      ? {
          ...mixPart,
          factor,
          atMs,
          samples,
          ...(since !== undefined ? { saturatedSinceMs: since, saturatedReady: ready } : {}),
        }
      : undefined;
  if (!learnt) return { perReplica: prior, memory: next };
  // requestsPerSecondPerReplica × capacityMaxFactor caps the capacity, the token rates' figure
  // too: their model has no per-request overhead, so a mix of tiny requests would promise
  // hundreds per second. Downwards nothing caps the token rates' figure (a reasoning mix of long
  // answers really serves under 1 req/s, and a lower capacity only asks for more replicas);
  // capacityMinFactor bounds saturation's correction of whichever figure it starts from.
  const high = prior * settings.maxFactor;
  const start = Math.min(base, high);
  const low = start * settings.minFactor;
  const perReplica = Math.min(high, Math.max(low, start * factor));
  const bound =
    perReplica >= high - 1e-9 && base * factor >= high - 1e-9
      ? ` (held at the upper bound ×${settings.maxFactor} of ${prior})`
      : perReplica <= low + 1e-9 && samples > 0
        ? ` (held at the lower bound ×${settings.minFactor} of ${round2(start)})`
        : "";
  const parts: string[] = [];
  if (mixPart.mixPerReplica !== undefined && mixPart.mix && settings.tokenRates)
    parts.push(
      `${round0(mixPart.mix.prompt)} prompt + ${round0(mixPart.mix.generated)} generated tokens per request at ${round0(settings.tokenRates.prefill)} prefill and ${round0(settings.tokenRates.decode)} decode tokens/s per replica → ${round2(base)} req/s`,
    );
  if (samples > 0)
    parts.push(
      `×${round2(factor)} from saturation (${samples} sample(s))${saturationWhy ? `; latest: ${saturationWhy}` : ""}`,
    );
  return {
    perReplica,
    memory: next,
    note: `learned capacity ${round2(perReplica)} req/s per replica (configured ${prior})${bound} from ${parts.join("; ")}`,
  };
}
