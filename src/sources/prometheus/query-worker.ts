/**
 * The query thread: every Prometheus request's HTTP exchange and JSON parse, off the event loop
 * that answers KEDA (query-thread.ts starts it and says why). It receives a query, posts it to
 * Prometheus' instant-query endpoint and answers with the samples, or with a typed failure; a
 * cancelled query's socket is closed at once.
 */
import { parentPort, workerData } from "node:worker_threads";
import { failureOf } from "../../readings/reading.ts";
import { failureForError } from "../failures.ts";
import { parseAnswer, type QueryAnswer } from "./answer.ts";
import { BodyTooLargeError, createAgent, postForm } from "./http.ts";

/** What the thread is started with: one upstream per thread. */
export interface QueryThreadData {
  readonly queryUrl: string;
  /** PEM bytes of PROMETHEUS_CA_FILE, trusted by the thread's agent only. */
  readonly caPem: Uint8Array | undefined;
}

export type ToQueryThread =
  | {
      readonly type: "query";
      readonly id: number;
      readonly expr: string;
      readonly timeoutMs: number;
      readonly what: string;
      readonly headers: Record<string, string>;
    }
  | { readonly type: "cancel"; readonly id: number }
  /** Answered at once, whatever the requests are doing: the thread's event loop is not stuck. */
  | { readonly type: "ping" };

export type FromQueryThread = { readonly id: number; readonly answer: QueryAnswer } | { readonly pong: true };

const { queryUrl, caPem } = workerData as QueryThreadData;
const url = new URL(queryUrl);
const agent = createAgent(url, caPem ? Buffer.from(caPem) : undefined);
const inFlight = new Map<number, AbortController>();
const port = parentPort;
if (!port) throw new Error("query-worker.ts runs as a worker thread (query-thread.ts starts it)");

async function answer(
  message: Extract<ToQueryThread, { type: "query" }>,
  signal: AbortSignal,
): Promise<QueryAnswer> {
  const { expr, timeoutMs, what, headers } = message;
  try {
    // Prometheus is told the timeout as well, so a heavy query stops there instead of running on
    // after the scaler gave up.
    const form = new URLSearchParams({ query: expr, timeout: `${timeoutMs}ms` });
    const response = await postForm(url, form, headers, agent, signal);
    return parseAnswer(response.status, response.text, response.headers["retry-after"], what);
  } catch (error) {
    if (error instanceof BodyTooLargeError)
      return failureOf("prometheus", "bad_response", `${what}: ${error.message}`);
    return failureForError("prometheus", error, what, timeoutMs);
  }
}

port.on("message", (message: ToQueryThread) => {
  if (message.type === "ping") {
    port.postMessage({ pong: true } satisfies FromQueryThread);
    return;
  }
  if (message.type === "cancel") {
    inFlight.get(message.id)?.abort();
    return;
  }
  const controller = new AbortController();
  inFlight.set(message.id, controller);
  void answer(message, controller.signal).then((result) => {
    inFlight.delete(message.id);
    // A cancelled query was already answered on the other side, as a timeout.
    if (!controller.signal.aborted)
      port.postMessage({ id: message.id, answer: result } satisfies FromQueryThread);
  });
});
