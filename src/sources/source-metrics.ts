import { Counter, Histogram, Registry } from "prom-client";
import type { Reading, SourceName } from "../readings/reading.ts";

const PREFIX = "keda_llm_scaler_";

export interface SourceCounts {
  /** Requests actually sent upstream (cache misses). */
  readonly requests: number;
  /** Upstream answers that were a failure of any kind. */
  readonly errors: number;
  /** Reads answered from the shared cache or joined to an in-flight request. */
  readonly cacheHits: number;
}

const SOURCES: readonly SourceName[] = ["prometheus", "serviceBus", "azureMonitor"];

/**
 * The sources' own counters, in a registry of their own that the server appends to /metrics,
 * and as plain numbers for stats() (the load benchmark's "upstream requests per poll").
 */
export class SourceMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: `${PREFIX}source_requests_total`,
    help: "Upstream requests sent by the signal sources, by source and outcome (ok or the failure kind).",
    labelNames: ["source", "outcome"] as const,
    registers: [this.registry],
  });
  private readonly counts = new Map<SourceName, { requests: number; errors: number; cacheHits: number }>(
    SOURCES.map((s) => [s, { requests: 0, errors: 0, cacheHits: 0 }]),
  );
  // A hit happens on nearly every decision, and a labelled inc() builds a label hash each time:
  // hits are counted as plain numbers, and the counter is set to their totals when it is scraped.
  private readonly cacheHits = new Counter({
    name: `${PREFIX}source_cache_hits_total`,
    help: "Signal reads answered by the shared cache (or by joining an in-flight request).",
    labelNames: ["source"] as const,
    registers: [this.registry],
    collect: () => {
      this.cacheHits.reset();
      for (const [source, count] of this.counts)
        if (count.cacheHits > 0) this.cacheHits.inc({ source }, count.cacheHits);
    },
  });
  private readonly duration = new Histogram({
    name: `${PREFIX}source_request_duration_seconds`,
    help: "Duration of upstream requests of the signal sources.",
    labelNames: ["source"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  private readonly queryThreadStops = new Counter({
    name: `${PREFIX}prometheus_query_thread_stops_total`,
    help: "Times the thread that makes Prometheus requests stopped or could not start (its queries read unreachable until it restarts).",
    registers: [this.registry],
  });

  queryThreadStopped(): void {
    this.queryThreadStops.inc();
  }

  upstream(source: SourceName, outcome: Reading | { ok: true }, seconds: number): void {
    const label = outcome.ok ? "ok" : outcome.failure.kind;
    this.requests.inc({ source, outcome: label });
    this.duration.observe({ source }, seconds);
    const count = this.counts.get(source);
    if (count) {
      count.requests++;
      if (!outcome.ok) count.errors++;
    }
  }

  cacheHit(source: SourceName): void {
    const count = this.counts.get(source);
    if (count) count.cacheHits++;
  }

  snapshot(): Record<SourceName, SourceCounts> {
    const out = {} as Record<SourceName, SourceCounts>;
    for (const [source, count] of this.counts) out[source] = { ...count };
    return out;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
