import { type ReplicaModel, workSecondsPerRequest } from "./model.ts";
import { Rng } from "./rng.ts";
import type { Cohort } from "./serving.ts";
import {
  meanOf,
  sampleContextTokens,
  sampleGeneratedTokens,
  type TokenSizeDistribution,
} from "./token-sizes.ts";
import type { CountTrace, RequestTrace, Trace } from "./trace.ts";

/**
 * The trace turned into per-tick request cohorts, built once and replayed identically for every
 * policy. A cohort is every request arriving within one tick: its count, token sums and mean
 * arrival offset, so the simulator never handles single requests or tokens.
 */
export interface ArrivalStream {
  readonly startMs: number;
  readonly tickMs: number;
  readonly ticks: number;
  readonly count: Uint32Array;
  readonly contextTokens: Float64Array;
  readonly generatedTokens: Float64Array;
  /** First and last arrival within the tick, ms after the tick's start. */
  readonly firstOffsetMs: Float32Array;
  readonly lastOffsetMs: Float32Array;
  /** 0 where the trace has no data: neither demand nor cost is counted there. */
  readonly accounted: Uint8Array;
  readonly totalRequests: number;
  readonly scale: number;
}

export interface ArrivalOptions {
  readonly tickMs: number;
  /** Multiplies the arrival rate. */
  readonly scale: number;
  readonly seed: number;
  /** Token sizes for count traces. */
  readonly tokenSizes: TokenSizeDistribution;
  /**
   * Coefficient of variation of the arrival rate between ticks (0: Poisson arrivals). A
   * gamma-distributed rate multiplier makes the counts over-dispersed, as real bursts are.
   */
  readonly burstiness: number;
}

const MINUTE_MS = 60_000;

function floorTo(ms: number, step: number): number {
  return Math.floor(ms / step) * step;
}

export function buildArrivals(trace: Trace, options: ArrivalOptions): ArrivalStream {
  if (!(options.scale > 0) || !Number.isFinite(options.scale))
    throw new Error(`the arrival scale must be a positive number, got ${options.scale}`);
  return trace.kind === "requests" ? fromRequests(trace, options) : fromCounts(trace, options);
}

function emptyStream(startMs: number, tickMs: number, ticks: number, scale: number) {
  return {
    startMs,
    tickMs,
    ticks,
    count: new Uint32Array(ticks),
    contextTokens: new Float64Array(ticks),
    generatedTokens: new Float64Array(ticks),
    firstOffsetMs: new Float32Array(ticks),
    lastOffsetMs: new Float32Array(ticks),
    accounted: new Uint8Array(ticks).fill(1),
    totalRequests: 0,
    scale,
  };
}

function fromRequests(trace: RequestTrace, options: ArrivalOptions): ArrivalStream {
  const rng = new Rng(options.seed);
  const first = trace.atMs[0] as number;
  const last = trace.atMs[trace.atMs.length - 1] as number;
  const startMs = floorTo(first, MINUTE_MS);
  const ticks = Math.floor((last - startMs) / options.tickMs) + 1;
  const stream = emptyStream(startMs, options.tickMs, ticks, options.scale);
  const whole = Math.floor(options.scale);
  const fraction = options.scale - whole;
  let total = 0;
  for (let i = 0; i < trace.atMs.length; i++) {
    // Scaling a request trace replicates (or thins) each request in place: the shape is kept.
    const copies = whole + (fraction > 0 && rng.next() < fraction ? 1 : 0);
    if (copies === 0) continue;
    const offset = (trace.atMs[i] as number) - startMs;
    const tick = Math.floor(offset / options.tickMs);
    stream.count[tick] = (stream.count[tick] as number) + copies;
    stream.contextTokens[tick] =
      (stream.contextTokens[tick] as number) + copies * (trace.contextTokens[i] as number);
    stream.generatedTokens[tick] =
      (stream.generatedTokens[tick] as number) + copies * (trace.generatedTokens[i] as number);
    const within = offset - tick * options.tickMs;
    // Requests are sorted: the first one seen in a tick is its earliest.
    if (stream.count[tick] === copies) stream.firstOffsetMs[tick] = within;
    stream.lastOffsetMs[tick] = within;
    total += copies;
  }
  return { ...stream, totalRequests: total };
}

function fromCounts(trace: CountTrace, options: ArrivalOptions): ArrivalStream {
  const rng = new Rng(options.seed);
  const startMs = trace.startMs;
  const ticks = Math.ceil((trace.counts.length * trace.intervalMs) / options.tickMs);
  const stream = emptyStream(startMs, options.tickMs, ticks, options.scale);
  const shape = options.burstiness > 0 ? 1 / (options.burstiness * options.burstiness) : 0;
  let total = 0;
  for (let t = 0; t < ticks; t++) {
    const tickStart = t * options.tickMs;
    const tickEnd = tickStart + options.tickMs;
    // The expected requests in this tick: the overlapping share of each interval it touches.
    let expected = 0;
    let known = true;
    for (
      let slot = Math.floor(tickStart / trace.intervalMs);
      slot * trace.intervalMs < tickEnd && slot < trace.counts.length;
      slot++
    ) {
      const value = trace.counts[slot] as number;
      if (Number.isNaN(value)) {
        known = false;
        continue;
      }
      const overlap =
        Math.min(tickEnd, (slot + 1) * trace.intervalMs) - Math.max(tickStart, slot * trace.intervalMs);
      expected += (value * options.scale * overlap) / trace.intervalMs;
    }
    if (!known) {
      stream.accounted[t] = 0;
      continue;
    }
    const rate = shape > 0 ? (expected * rng.gamma(shape)) / shape : expected;
    const n = rng.poisson(rate);
    if (n === 0) continue;
    let context = 0;
    let generated = 0;
    for (let k = 0; k < n; k++) {
      context += sampleContextTokens(options.tokenSizes, rng);
      generated += sampleGeneratedTokens(options.tokenSizes, rng);
    }
    stream.count[t] = n;
    stream.contextTokens[t] = context;
    stream.generatedTokens[t] = generated;
    // Poisson arrivals are uniform within the tick: n evenly spaced, one in the middle of each n-th.
    stream.firstOffsetMs[t] = options.tickMs / (2 * n);
    stream.lastOffsetMs[t] = options.tickMs - options.tickMs / (2 * n);
    total += n;
  }
  return { ...stream, totalRequests: total };
}

/**
 * The rate multiplier that makes the trace's busiest minute need `peakReplicas` replicas at
 * 100 % utilisation: how a 42 request/min web log stands in for an LLM fleet.
 */
export function scaleForPeakReplicas(
  trace: Trace,
  replica: ReplicaModel,
  tokenSizes: TokenSizeDistribution,
  peakReplicas: number,
): number {
  if (!(peakReplicas > 0)) throw new Error(`--peak-replicas must be a positive number, got ${peakReplicas}`);
  const peakWorkSecondsPerMinute = peakMinuteWorkSeconds(trace, replica, tokenSizes);
  if (peakWorkSecondsPerMinute <= 0) throw new Error(`${trace.name}: the trace has no requests to scale`);
  return (peakReplicas * 60) / peakWorkSecondsPerMinute;
}

function peakMinuteWorkSeconds(
  trace: Trace,
  replica: ReplicaModel,
  tokenSizes: TokenSizeDistribution,
): number {
  if (trace.kind === "counts") {
    const meanWork = workSecondsPerRequest(
      replica,
      meanOf(tokenSizes.contextQuantiles),
      meanOf(tokenSizes.generatedQuantiles),
    );
    let peak = 0;
    for (const value of trace.counts) if (!Number.isNaN(value)) peak = Math.max(peak, value);
    return peak * (MINUTE_MS / trace.intervalMs) * meanWork;
  }
  const perMinute = new Map<number, number>();
  for (let i = 0; i < trace.atMs.length; i++) {
    const minute = Math.floor((trace.atMs[i] as number) / MINUTE_MS);
    const work = workSecondsPerRequest(
      replica,
      trace.contextTokens[i] as number,
      trace.generatedTokens[i] as number,
    );
    perMinute.set(minute, (perMinute.get(minute) ?? 0) + work);
  }
  return Math.max(0, ...perMinute.values());
}

/** GPU-seconds of work arriving in one tick of the stream, at 100 % utilisation. */
export function workSecondsAt(arrivals: ArrivalStream, replica: ReplicaModel, tick: number): number {
  return (
    (arrivals.contextTokens[tick] as number) / replica.prefillTokensPerSecond +
    (arrivals.generatedTokens[tick] as number) / replica.decodeTokensPerSecond
  );
}

/** The requests of one tick of the stream as a fresh cohort, spread over the tick as they arrived. */
export function cohortAt(arrivals: ArrivalStream, tick: number, nowMs: number): Cohort | undefined {
  const n = arrivals.count[tick] as number;
  if (n === 0) return undefined;
  const first = arrivals.firstOffsetMs[tick] as number;
  return {
    count: n,
    contextTokens: (arrivals.contextTokens[tick] as number) / n,
    generatedTokens: (arrivals.generatedTokens[tick] as number) / n,
    arrivalMs: nowMs + first,
    spreadMs: (arrivals.lastOffsetMs[tick] as number) - first,
  };
}

/**
 * The stream without its no-data ticks, as the simulated world lives it: policies' clocks stop
 * across a gap, so a gap must not give the oracle time to serve either. `wallTick[i]` is the
 * original tick of the i-th tick kept. A stream without gaps is returned as it is.
 */
export function accountedTicksOnly(arrivals: ArrivalStream): { stream: ArrivalStream; wallTick: Int32Array } {
  const kept: number[] = [];
  for (let t = 0; t < arrivals.ticks; t++) if (arrivals.accounted[t]) kept.push(t);
  const wallTick = Int32Array.from(kept);
  if (kept.length === arrivals.ticks) return { stream: arrivals, wallTick };
  const pick = <T extends Uint32Array | Float64Array | Float32Array>(from: T, make: (n: number) => T): T => {
    const to = make(kept.length);
    for (let i = 0; i < kept.length; i++) to[i] = from[kept[i] as number] as number;
    return to;
  };
  return {
    stream: {
      ...arrivals,
      ticks: kept.length,
      count: pick(arrivals.count, (n) => new Uint32Array(n)),
      contextTokens: pick(arrivals.contextTokens, (n) => new Float64Array(n)),
      generatedTokens: pick(arrivals.generatedTokens, (n) => new Float64Array(n)),
      firstOffsetMs: pick(arrivals.firstOffsetMs, (n) => new Float32Array(n)),
      lastOffsetMs: pick(arrivals.lastOffsetMs, (n) => new Float32Array(n)),
      accounted: new Uint8Array(kept.length).fill(1),
    },
    wallTick,
  };
}
