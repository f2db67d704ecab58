import type { ScalerSpec } from "../config/spec.ts";
import type { ScaledObjectRequest } from "./scaled-object-table.ts";

/** What KEDA's calls read of a decision. */
export interface Answer {
  readonly available: boolean;
  readonly metricValue: number;
  readonly active: boolean;
  /** Set exactly when `available` is false: the error KEDA is sent. */
  readonly unavailableReason: string | undefined;
}

/**
 * Where the ExternalScaler service finds a ScaledObject's settings and answers: the decision book
 * itself (one thread), or the answer thread's table of the answers the book sends it.
 */
export interface AnswerSource<Handle = unknown> {
  /** The remembered ScaledObject for a request (parsed on its first call). */
  lookup(request: ScaledObjectRequest): Handle;
  /** The ScaledObject's spec. Throws its ConfigError. */
  specOf(handle: Handle): ScalerSpec;
  specFor(request: ScaledObjectRequest): ScalerSpec;
  /**
   * The current answer: a plain value when one is in hand, otherwise a promise. `polled`: the
   * call is one of KEDA's polls (GetMetrics, IsActive), whose rhythm is learned.
   */
  answerOf(handle: Handle, request: ScaledObjectRequest, polled: boolean): Answer | Promise<Answer>;
  /** The current answer for a stream's refresh (not a poll). */
  answerFor(request: ScaledObjectRequest): Promise<Answer>;
}

/** How the ExternalScaler service counts its calls and streams (metrics.ts, or a thread's hand-over). */
export interface RpcMetrics {
  /** A unary method's answers: each with its gRPC status name and its duration. */
  meterFor(method: string): { answered(code: string, seconds: number): void };
  streamOpened(method: string): void;
  streamClosed(method: string): void;
  /** A stream ended or was refused, with this gRPC status name. */
  streamAnswered(method: string, code: string): void;
  /** A stream's first message, this long after it was opened. */
  streamFirstMessage(method: string, seconds: number): void;
}
