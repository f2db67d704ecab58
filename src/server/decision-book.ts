import type { RawInputs } from "../config/resolve.ts";
import { ConfigError } from "../config/resolve.ts";
import { parseScalerSpec, type ScaledObjectIdentity, type ScalerSpec } from "../config/spec.ts";
import { Decider, type MemoryStore } from "../policy/decider.ts";
import type { Decision } from "../policy/decision.ts";
import type { SignalSource } from "../sources/signal-source.ts";

export interface ScaledObjectRequest extends ScaledObjectIdentity {
  readonly scalerMetadata: Readonly<Record<string, string>>;
}

interface Entry {
  readonly identity: ScaledObjectIdentity;
  /** The Decider's key for this ScaledObject's memory. */
  readonly key: string;
  readonly spec: ScalerSpec | ConfigError;
  latest: Decision | undefined;
  /** When `latest` was computed (process clock), for reuse within the TTL. */
  latestAtMs: number;
  inFlight: Promise<Decision> | undefined;
}

export interface DecisionBookOptions {
  readonly source: SignalSource;
  readonly env: RawInputs["env"];
  readonly clock: () => number;
  /** A decision is reused for this long: the GetMetrics + IsActive pair of one poll see one snapshot. */
  readonly decisionTtlMs: number;
  /** Bound on remembered ScaledObjects; the least recently used is forgotten first. */
  readonly maxEntries?: number;
  readonly onDecision?: (decision: Decision, previous: Decision | undefined) => void;
  readonly onForget?: (identity: ScaledObjectIdentity) => void;
  /** Where the policy's memory between polls lives (default: in this process). */
  readonly memoryStore?: MemoryStore;
}

/** Metadata order is not meaningful; the key must not depend on it. */
function entryKey(request: ScaledObjectRequest): string {
  const metadata = Object.keys(request.scalerMetadata)
    .sort()
    .map((key) => [key, request.scalerMetadata[key]]);
  return JSON.stringify([request.namespace, request.name, metadata]);
}

/**
 * The scaler's memory per ScaledObject: its parsed spec and its latest decision (the policy's
 * memory between polls is the Decider's). Concurrent callers for one ScaledObject share one
 * computation (single-flight), and a decision is reused within its TTL, so every RPC of one poll
 * answers from the same snapshot.
 */
export class DecisionBook {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly decider: Decider;

  constructor(private readonly options: DecisionBookOptions) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.decider = new Decider(options.memoryStore);
  }

  /** The spec for a ScaledObject, from configuration only (never from a source). Throws ConfigError. */
  specFor(request: ScaledObjectRequest): ScalerSpec {
    const spec = this.entryFor(request).spec;
    if (spec instanceof ConfigError) throw spec;
    return spec;
  }

  /** The current decision: reused within the TTL, otherwise computed once for all concurrent callers. */
  decisionFor(request: ScaledObjectRequest): Promise<Decision> {
    const entry = this.entryFor(request);
    if (entry.spec instanceof ConfigError) return Promise.reject(entry.spec);
    const now = this.options.clock();
    if (entry.latest && now - entry.latestAtMs < this.options.decisionTtlMs)
      return Promise.resolve(entry.latest);
    if (entry.inFlight) return entry.inFlight;
    const spec = entry.spec;
    const computation = this.compute(entry, spec).finally(() => {
      entry.inFlight = undefined;
    });
    entry.inFlight = computation;
    return computation;
  }

  /** The latest decision of every remembered ScaledObject, for /debug/decisions. */
  latestDecisions(): Decision[] {
    const decisions: Decision[] = [];
    for (const entry of this.entries.values()) if (entry.latest) decisions.push(entry.latest);
    return decisions;
  }

  get size(): number {
    return this.entries.size;
  }

  private async compute(entry: Entry, spec: ScalerSpec): Promise<Decision> {
    const nowMs = this.options.clock();
    const readings = await this.options.source.read(spec, { nowMs });
    const decision = this.decider.decide(entry.key, spec, readings, nowMs);
    const previous = entry.latest;
    entry.latest = decision;
    entry.latestAtMs = this.options.clock();
    this.options.onDecision?.(decision, previous);
    return decision;
  }

  private entryFor(request: ScaledObjectRequest): Entry {
    const key = entryKey(request);
    const existing = this.entries.get(key);
    if (existing) {
      // Re-insert to keep the map in least-recently-used order.
      this.entries.delete(key);
      this.entries.set(key, existing);
      return existing;
    }
    const identity = { name: request.name, namespace: request.namespace };
    let spec: ScalerSpec | ConfigError;
    try {
      spec = parseScalerSpec(identity, request.scalerMetadata, this.options.env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      spec = error;
    }
    const entry: Entry = {
      identity,
      key,
      spec,
      latest: undefined,
      latestAtMs: 0,
      inFlight: undefined,
    };
    this.entries.set(key, entry);
    this.evictBeyondBound();
    return entry;
  }

  private evictBeyondBound(): void {
    while (this.entries.size > this.maxEntries) {
      const oldestKey = this.entries.keys().next().value as string;
      const oldest = this.entries.get(oldestKey);
      this.entries.delete(oldestKey);
      this.decider.forget(oldestKey);
      if (oldest) this.options.onForget?.(oldest.identity);
    }
  }
}
