import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { RpcMetrics } from "./answer-source.ts";
import { RpcMeter } from "./rpc-meter.ts";

const PREFIX = "keda_llm_scaler_";
/**
 * The scaler's own Prometheus metrics about its RPCs. The per-ScaledObject series are written at
 * scrape time from the decision book (decision-series.ts).
 */
export class ScalerMetrics implements RpcMetrics {
  readonly registry = new Registry();

  readonly rpcRequests = new Counter({
    name: `${PREFIX}rpc_requests_total`,
    help: "ExternalScaler RPCs answered, by method and gRPC status code.",
    labelNames: ["method", "code"] as const,
    registers: [this.registry],
    collect: () => this.flushMeters(),
  });

  readonly rpcDuration = new Histogram({
    name: `${PREFIX}rpc_duration_seconds`,
    help: "Time to answer an ExternalScaler RPC (streams: time to the first message).",
    labelNames: ["method"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
    collect: () => this.flushMeters(),
  });

  readonly openStreams = new Gauge({
    name: `${PREFIX}open_streams`,
    help: "Open StreamIsActive / StreamMetricSpec streams.",
    labelNames: ["method"] as const,
    registers: [this.registry],
  });

  private readonly meters = new Map<string, RpcMeter>();

  /**
   * A unary method's answers, counted in rpc_requests_total and rpc_duration_seconds: recorded
   * in batches (rpc-meter.ts), every one of them handed over before a scrape reads the series.
   * One meter per method, however many servers share these metrics.
   */
  meterFor(method: string): RpcMeter {
    let meter = this.meters.get(method);
    if (!meter) {
      const duration = this.rpcDuration.labels(method);
      meter = new RpcMeter({
        observe: (seconds) => duration.observe(seconds),
        count: (code, count) => this.rpcRequests.inc({ method, code }, count),
      });
      this.meters.set(method, meter);
    }
    return meter;
  }

  /** Answers counted on the answer thread and handed over in a batch (answer-thread/). */
  handedOver(
    method: string,
    counts: readonly [code: string, count: number][],
    seconds: readonly number[],
  ): void {
    for (const [code, count] of counts) this.rpcRequests.inc({ method, code }, count);
    const duration = this.rpcDuration.labels(method);
    for (const value of seconds) duration.observe(value);
  }

  streamOpened(method: string): void {
    this.openStreams.inc({ method });
  }

  streamClosed(method: string): void {
    this.openStreams.dec({ method });
  }

  streamAnswered(method: string, code: string): void {
    this.rpcRequests.inc({ method, code });
  }

  streamFirstMessage(method: string, seconds: number): void {
    this.rpcDuration.observe({ method }, seconds);
  }

  private flushMeters(): void {
    for (const meter of this.meters.values()) meter.flush();
  }

  constructor(options: { processMetrics?: boolean } = {}) {
    // No prefix on prom-client's defaults: the standard Node.js dashboards and alerts (and the
    // kube-prometheus-stack rules) select `process_*` and `nodejs_*`; the job label already says
    // which process they describe.
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }
}
