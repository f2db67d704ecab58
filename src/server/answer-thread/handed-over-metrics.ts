import type { RpcMetrics } from "../answer-source.ts";
import { RpcMeter } from "../rpc-meter.ts";
import type { FromAnswerThread } from "./messages.ts";

interface Held {
  readonly counts: Map<string, number>;
  readonly seconds: number[];
}

/**
 * The ExternalScaler service's counts and durations on the answer thread, handed to the main
 * thread's registry (metrics.ts), which /metrics reads: each method's answers in the batches the
 * RpcMeter makes (128 answers, or all of them before a scrape), a stream's opening and closing as
 * it happens (they are rare).
 */
export class HandedOverMetrics implements RpcMetrics {
  private readonly meters = new Map<string, RpcMeter>();
  private readonly held = new Map<string, Held>();
  private readonly post: (message: FromAnswerThread) => void;

  constructor(post: (message: FromAnswerThread) => void) {
    this.post = post;
  }

  meterFor(method: string): RpcMeter {
    let meter = this.meters.get(method);
    if (!meter) {
      const held: Held = { counts: new Map(), seconds: [] };
      this.held.set(method, held);
      meter = new RpcMeter({
        observe: (seconds) => held.seconds.push(seconds),
        count: (code, count) => held.counts.set(code, (held.counts.get(code) ?? 0) + count),
        handedOver: () => this.handOver(method, held),
      });
      this.meters.set(method, meter);
    }
    return meter;
  }

  /** Every answer held, handed over now (before a scrape). */
  flushAll(): void {
    for (const meter of this.meters.values()) meter.flush();
  }

  streamOpened(method: string): void {
    this.post({ type: "stream", event: "opened", method });
  }

  streamClosed(method: string): void {
    this.post({ type: "stream", event: "closed", method });
  }

  streamAnswered(method: string, code: string): void {
    this.post({ type: "stream", event: "answered", method, code });
  }

  streamFirstMessage(method: string, seconds: number): void {
    this.post({ type: "stream", event: "first", method, seconds });
  }

  private handOver(method: string, held: Held): void {
    if (held.seconds.length === 0 && held.counts.size === 0) return;
    this.post({ type: "rpc", method, counts: [...held.counts], seconds: held.seconds.splice(0) });
    held.counts.clear();
  }
}
