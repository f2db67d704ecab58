import * as grpc from "@grpc/grpc-js";
import { excerpt } from "../config/excerpt.ts";
import type { ScalerSpec } from "../config/spec.ts";
import type { Answer, AnswerSource, RpcMetrics } from "./answer-source.ts";
import type { Logger } from "./logger.ts";
import { isOurMetricName } from "./metric-name.ts";
import type {
  GetMetricSpecResponseMessage,
  GetMetricsRequestMessage,
  GetMetricsResponseMessage,
  IsActiveResponseMessage,
  ScaledObjectRefMessage,
} from "./proto.ts";
import { RpcError, toServiceError } from "./rpc-errors.ts";
import type { ScaledObjectRequest } from "./scaled-object-table.ts";

export interface ExternalScalerDeps {
  readonly book: AnswerSource;
  readonly metrics: RpcMetrics;
  readonly logger: Logger;
  /** How often an open stream re-evaluates; it writes only when the answer changes. */
  readonly streamRefreshMs: number;
}

/** Bounds on what KEDA can send us; the gRPC message limit bounds the total as well. */
const MAX_NAME_LENGTH = 253;
const MAX_METADATA_ENTRIES = 200;
/**
 * Characters of scalerMetadata (keys and values together) accepted in one call. Every custom
 * query at its longest fits with room to spare; a tenant's 200 KB of junk is refused here,
 * before it is parsed, hashed or remembered.
 */
export const MAX_METADATA_CHARACTERS = 64 * 1024;

function toRequest(ref: ScaledObjectRefMessage | null | undefined): ScaledObjectRequest {
  if (!ref) throw new RpcError(grpc.status.INVALID_ARGUMENT, "scaledObjectRef is missing");
  for (const field of ["name", "namespace"] as const) {
    const value = ref[field];
    if (!value) throw new RpcError(grpc.status.INVALID_ARGUMENT, `scaledObjectRef.${field} is empty`);
    if (value.length > MAX_NAME_LENGTH)
      throw new RpcError(
        grpc.status.INVALID_ARGUMENT,
        `scaledObjectRef.${field} is longer than ${MAX_NAME_LENGTH} characters`,
      );
  }
  const scalerMetadata = ref.scalerMetadata ?? {};
  // Counted in one pass that allocates nothing: every poll of every ScaledObject comes through here.
  let entries = 0;
  let total = 0;
  let largestKey = "";
  let largestLength = 0;
  for (const key in scalerMetadata) {
    const length = key.length + (scalerMetadata[key]?.length ?? 0);
    entries++;
    total += length;
    if (length > largestLength) {
      largestKey = key;
      largestLength = length;
    }
  }
  if (entries > MAX_METADATA_ENTRIES)
    throw new RpcError(
      grpc.status.INVALID_ARGUMENT,
      `scalerMetadata has more than ${MAX_METADATA_ENTRIES} keys`,
    );
  if (total > MAX_METADATA_CHARACTERS)
    throw new RpcError(
      grpc.status.INVALID_ARGUMENT,
      `scalerMetadata is ${total} characters, more than the ${MAX_METADATA_CHARACTERS} accepted; the largest entry is scalerMetadata.${excerpt(largestKey)} (${largestLength} characters)`,
    );
  return { name: ref.name, namespace: ref.namespace, scalerMetadata };
}

/** A gRPC status as rpc_requests_total labels it: its name ("OK", "UNAVAILABLE", …). */
function statusName(code: grpc.status): string {
  return grpc.status[code] ?? String(code);
}

const OK = statusName(grpc.status.OK);

function secondsSince(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}

/** Desired-replica mode: target 1, so the HPA's ceil(value / target) is the count itself. */
function metricSpecsFor(spec: ScalerSpec): GetMetricSpecResponseMessage {
  return { metricSpecs: [{ metricName: spec.target.metricName, targetSize: 1, targetSizeFloat: 1 }] };
}

function requireAvailable(decision: Answer): Answer {
  if (decision.unavailableReason !== undefined)
    throw new RpcError(grpc.status.UNAVAILABLE, decision.unavailableReason);
  return decision;
}

/** Rejects when the client cancels or its deadline passes, so a handler stops waiting at once. */
function whenCancelled(call: grpc.ServerUnaryCall<unknown, unknown>): {
  promise: Promise<never>;
  dispose: () => void;
} {
  let onCancel: () => void = () => {};
  const promise = new Promise<never>((_, reject) => {
    onCancel = () =>
      reject(new RpcError(grpc.status.CANCELLED, "the client cancelled the call or its deadline passed"));
    call.once("cancelled", onCancel);
  });
  promise.catch(() => {});
  return { promise, dispose: () => call.removeListener("cancelled", onCancel) };
}

interface OpenStream {
  readonly method: string;
  end(): void;
}

/**
 * The ExternalScaler service: every RPC answers from the DecisionBook, so IsActive and
 * GetMetrics of one poll agree, and GetMetricSpec never touches a source.
 */
export class ExternalScalerService {
  private readonly openStreams = new Set<OpenStream>();

  private readonly deps: ExternalScalerDeps;

  constructor(deps: ExternalScalerDeps) {
    this.deps = deps;
  }

  get implementation(): grpc.UntypedServiceImplementation {
    return {
      GetMetricSpec: this.unary("GetMetricSpec", (ref: ScaledObjectRefMessage) =>
        metricSpecsFor(this.deps.book.specFor(toRequest(ref))),
      ),
      GetMetrics: this.unary("GetMetrics", (request: GetMetricsRequestMessage, call) => {
        const ref = toRequest(request.scaledObjectRef);
        const entry = this.deps.book.lookup(ref);
        const spec = this.deps.book.specOf(entry);
        const metricName = spec.target.metricName;
        if (!isOurMetricName(request.metricName ?? "", metricName))
          throw new RpcError(
            grpc.status.NOT_FOUND,
            `unknown metric ${JSON.stringify((request.metricName ?? "").slice(0, 100))}: this ScaledObject's metric is "${metricName}"`,
          );
        return this.whenDecided(entry, ref, call, (decision): GetMetricsResponseMessage => {
          const value = decision.metricValue;
          return { metricValues: [{ metricName, metricValue: value, metricValueFloat: value }] };
        });
      }),
      IsActive: this.unary("IsActive", (message: ScaledObjectRefMessage, call) => {
        const ref = toRequest(message);
        return this.whenDecided(
          this.deps.book.lookup(ref),
          ref,
          call,
          (decision): IsActiveResponseMessage => ({ result: decision.active }),
        );
      }),
      StreamIsActive: (call: grpc.ServerWritableStream<ScaledObjectRefMessage, IsActiveResponseMessage>) =>
        this.streamIsActive(call),
      StreamMetricSpec: (
        call: grpc.ServerWritableStream<ScaledObjectRefMessage, GetMetricSpecResponseMessage>,
      ) => this.streamMetricSpec(call),
    };
  }

  /** Graceful shutdown: end every open stream with status OK, so KEDA reconnects without backoff. */
  endAllStreams(): void {
    for (const stream of [...this.openStreams]) stream.end();
  }

  get openStreamCount(): number {
    return this.openStreams.size;
  }

  /**
   * The answer from the entry's decision: at once when the book holds a current one (the common
   * case, so no promise or cancellation listener is made), otherwise when it is computed, or
   * CANCELLED as soon as KEDA gives up.
   */
  private whenDecided<Res>(
    entry: unknown,
    request: ScaledObjectRequest,
    call: grpc.ServerUnaryCall<unknown, unknown>,
    answer: (decision: Answer) => Res,
  ): Res | Promise<Res> {
    // A unary GetMetrics or IsActive is one of KEDA's polls: its rhythm is learned.
    const decision = this.deps.book.answerOf(entry, request, true);
    if (!(decision instanceof Promise)) return answer(requireAvailable(decision));
    const cancellation = whenCancelled(call);
    return Promise.race([decision, cancellation.promise]).then(
      (settled) => {
        cancellation.dispose();
        return answer(requireAvailable(settled));
      },
      (error: unknown) => {
        cancellation.dispose();
        throw error;
      },
    );
  }

  private unary<Req, Res>(
    method: string,
    handle: (request: Req, call: grpc.ServerUnaryCall<unknown, unknown>) => Res | Promise<Res>,
  ): grpc.handleUnaryCall<Req, Res> {
    const meter = this.deps.metrics.meterFor(method);
    // Made once per method, not per call: the common answer is synchronous and needs no closure.
    // Each answer is counted after it is sent, so a batch handed to prom-client never delays one.
    const succeed = (callback: grpc.sendUnaryData<Res>, response: Res, started: number) => {
      const seconds = secondsSince(started);
      callback(null, response);
      meter.answered(OK, seconds);
    };
    const fail = (
      call: grpc.ServerUnaryCall<Req, Res>,
      callback: grpc.sendUnaryData<Res>,
      error: unknown,
      started: number,
    ) => {
      const seconds = secondsSince(started);
      const serviceError = toServiceError(error);
      if (serviceError.code === grpc.status.INTERNAL)
        this.deps.logger.error({ err: error, method }, "RPC failed");
      if (!call.cancelled) callback(serviceError);
      meter.answered(statusName(serviceError.code), seconds);
    };
    return (call, callback) => {
      const started = performance.now();
      let response: Res | Promise<Res>;
      try {
        response = handle(call.request, call as grpc.ServerUnaryCall<unknown, unknown>);
      } catch (error) {
        fail(call, callback, error, started);
        return;
      }
      if (response instanceof Promise)
        response.then(
          (answer) => succeed(callback, answer, started),
          (error: unknown) => fail(call, callback, error, started),
        );
      else succeed(callback, response, started);
    };
  }

  private streamIsActive(
    call: grpc.ServerWritableStream<ScaledObjectRefMessage, IsActiveResponseMessage>,
  ): void {
    const method = "StreamIsActive";
    let request: ScaledObjectRequest;
    try {
      request = toRequest(call.request);
      this.deps.book.specFor(request);
    } catch (error) {
      this.endWithError(call, method, error);
      return;
    }
    let lastSent: boolean | undefined;
    const openedAt = performance.now();
    let firstSent = false;
    const evaluate = async () => {
      try {
        const decision = await this.deps.book.answerFor(request);
        // An unknown answer is not sent: KEDA ignores `false`, and a made-up `true` would wake the target.
        if (
          !decision.available ||
          decision.active === lastSent ||
          call.cancelled ||
          !this.openStreams.has(stream)
        )
          return;
        lastSent = decision.active;
        call.write({ result: decision.active });
        if (!firstSent) this.deps.metrics.streamFirstMessage(method, secondsSince(openedAt));
        firstSent = true;
      } catch (error) {
        this.deps.logger.warn({ err: error, method, scaledObject: request }, "stream evaluation failed");
      }
    };
    // Re-evaluations start at a random phase: after a restart KEDA reopens every stream within
    // moments, and timers started together would re-decide every streamed ScaledObject in the
    // same turn of the event loop, every period, while KEDA's other calls wait.
    const period = this.deps.streamRefreshMs;
    let timer: NodeJS.Timeout = setTimeout(() => {
      timer = setInterval(evaluate, period);
      void evaluate();
    }, Math.random() * period);
    // One clear for either kind: Node's timeouts and intervals are the same Timeout object.
    const stream = this.track(call, method, () => clearTimeout(timer));
    void evaluate();
  }

  private streamMetricSpec(
    call: grpc.ServerWritableStream<ScaledObjectRefMessage, GetMetricSpecResponseMessage>,
  ): void {
    const method = "StreamMetricSpec";
    const openedAt = performance.now();
    try {
      const specs = metricSpecsFor(this.deps.book.specFor(toRequest(call.request)));
      // Specs come from configuration alone, which is fixed for the process's life: the first
      // message is also the last, and GetMetricSpec answers byte-for-byte the same.
      this.track(call, method, () => {});
      call.write(specs);
      this.deps.metrics.streamFirstMessage(method, secondsSince(openedAt));
    } catch (error) {
      this.endWithError(call, method, error);
    }
  }

  private track(
    call: grpc.ServerWritableStream<unknown, unknown>,
    method: string,
    release: () => void,
  ): OpenStream {
    const stream: OpenStream = {
      method,
      end: () => {
        if (!this.openStreams.delete(stream)) return;
        release();
        this.deps.metrics.streamClosed(method);
        this.deps.metrics.streamAnswered(method, OK);
        if (!call.cancelled) call.end();
      },
    };
    this.openStreams.add(stream);
    this.deps.metrics.streamOpened(method);
    call.once("cancelled", () => {
      if (!this.openStreams.delete(stream)) return;
      release();
      this.deps.metrics.streamClosed(method);
      this.deps.metrics.streamAnswered(method, statusName(grpc.status.CANCELLED));
    });
    return stream;
  }

  private endWithError(
    call: grpc.ServerWritableStream<unknown, unknown>,
    method: string,
    error: unknown,
  ): void {
    const serviceError = toServiceError(error);
    this.deps.metrics.streamAnswered(method, statusName(serviceError.code));
    call.emit("error", serviceError);
  }
}
