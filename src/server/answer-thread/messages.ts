import type { ServingStatus } from "grpc-health-check";
import type { RawInputs } from "../../config/resolve.ts";
import type { ServiceConfig } from "../../config/service-config.ts";
import type { TransportSecurity } from "../credentials.ts";
import type { ScaledObjectRequest } from "../scaled-object-table.ts";

/**
 * What the two threads say to each other. The answer thread serves KEDA's gRPC calls from its
 * table of answers; the main thread keeps the decision book, the sources and the HTTP endpoints.
 * Messages are plain data (structured clone); the frequent ones (kept answers, poll notes) come in
 * batches, as flat arrays of numbers and strings.
 */

export interface AnswerThreadData {
  readonly config: ServiceConfig;
  readonly env: RawInputs["env"];
  /** The level of the log the thread's lines go to (the main thread's logger's). */
  readonly logLevel: string;
  /** Whether the ExternalScaler service starts NOT_SERVING (replicas still copying a peer's memory). */
  readonly startsNotServing: boolean;
}

/**
 * One kept answer, flattened: slot id, available (0/1), metric value, active (0/1), the reason
 * when unavailable ("" otherwise), when the book kept it (its TTL counts from then), and its place
 * in the order the book kept decisions in (which of two answers is newer, whatever the wall clock
 * did between them).
 */
export type KeptAnswer = [
  slotId: number,
  available: 0 | 1,
  metricValue: number,
  active: 0 | 1,
  unavailableReason: string,
  keptAtMs: number,
  sequence: number,
];

/** The answer thread's notes, flattened by threes: kind (POLLED or DROPPED), slot id, instant. */
export const POLLED = 0;
export const DROPPED = 1;

export type ToAnswerThread =
  /** The answers the book kept since the last batch, for the slots the thread has. */
  | { readonly type: "kept"; readonly answers: readonly KeptAnswer[] }
  /** The reply to an ask: the answer, or the gRPC status to fail the calls with. */
  | { readonly type: "answered"; readonly askId: number; readonly answer: KeptAnswer }
  | { readonly type: "refused"; readonly askId: number; readonly code: number; readonly details: string }
  | { readonly type: "health"; readonly service: string; readonly status: ServingStatus }
  /** The main thread's loop is turning (host.ts): the thread's liveness answer depends on it. */
  | { readonly type: "heartbeat" }
  /** Hand every RPC count and duration held over now (a scrape of /metrics is waiting). */
  | { readonly type: "flush"; readonly flushId: number }
  /** The answer to a relayed call (relay.ts): its response, or the status to fail it with. */
  | {
      readonly type: "relayed";
      readonly relayId: number;
      readonly response?: unknown;
      readonly code?: number;
      readonly details?: string;
    }
  /** End the streams, let in-flight calls finish within `graceMs`, then stop serving. */
  | { readonly type: "stop"; readonly graceMs: number };

export type FromAnswerThread =
  | { readonly type: "serving"; readonly port: number; readonly security: TransportSecurity }
  /** The gRPC server could not start: `listen` when its port could not be bound (ListenError). */
  | { readonly type: "failed"; readonly message: string; readonly listen: boolean }
  /** A slot whose answer is missing or expired: decide (or reuse) and answer. */
  | {
      readonly type: "ask";
      readonly askId: number;
      readonly slotId: number;
      readonly request: ScaledObjectRequest;
      /** When the call came, if it is one of KEDA's polls (the book learns the rhythm from it). */
      readonly polledAtMs: number | undefined;
    }
  | { readonly type: "notes"; readonly notes: readonly number[] }
  /** A method's answers since the last hand-over: counts by gRPC status name, and every duration. */
  | {
      readonly type: "rpc";
      readonly method: string;
      readonly counts: readonly [code: string, count: number][];
      readonly seconds: readonly number[];
    }
  | { readonly type: "stream"; readonly event: "opened" | "closed"; readonly method: string }
  | { readonly type: "stream"; readonly event: "answered"; readonly method: string; readonly code: string }
  | { readonly type: "stream"; readonly event: "first"; readonly method: string; readonly seconds: number }
  | { readonly type: "flushed"; readonly flushId: number }
  /** A call of a service served on the main thread (relay.ts), with its caller's address. */
  | {
      readonly type: "relay";
      readonly relayId: number;
      readonly method: string;
      readonly request: unknown;
      readonly peer: string;
    }
  /** A log line, as pino wrote it on the answer thread: the main thread's log writes it. */
  | { readonly type: "log"; readonly line: string }
  | { readonly type: "stopped" };
